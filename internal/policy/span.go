package policy

import (
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// fillEnds sets EndLine and EndCol of each diagnostic to the end of the
// outermost syntax node that starts at its position: the whole field for
// a diagnostic on a label, the literal for one on a value. EndCol is the
// column just after the node (exclusive, as in SARIF). Files are parsed
// again only here, when a load failed.
func fillEnds(results []fileResult, diags []Diagnostic) {
	byFile := map[string][]int{}
	for i, d := range diags {
		if d.EndLine == 0 && d.Code != CodeSyntax {
			byFile[d.File] = append(byFile[d.File], i)
		}
	}
	for _, r := range results {
		idx := byFile[r.name]
		if len(idx) == 0 {
			continue
		}
		f, err := parser.ParseFile(r.name, r.data)
		if err != nil {
			continue
		}
		ends := nodeEnds(f)
		for _, i := range idx {
			if e, ok := ends[[2]int{diags[i].Line, diags[i].Col}]; ok {
				diags[i].EndLine, diags[i].EndCol = e[0], e[1]
			}
		}
		delete(byFile, r.name)
	}
}

// nodeEnds maps the start (line, column) of each node to the end of the
// outermost node starting there.
func nodeEnds(f *ast.File) map[[2]int][2]int {
	ends := map[[2]int][2]int{}
	ast.Walk(f, func(n ast.Node) bool {
		start, end := n.Pos(), n.End()
		if !start.IsValid() || !end.IsValid() {
			return true
		}
		k := [2]int{start.Line(), start.Column()}
		if _, seen := ends[k]; !seen {
			ends[k] = [2]int{end.Line(), end.Column()}
		}
		return true
	}, nil)
	return ends
}
