package policy

import (
	"unicode/utf8"

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
		ends := nodeEnds(f, newColumns(r.data))
		for _, i := range idx {
			if e, ok := ends[[2]int{diags[i].Line, diags[i].Col}]; ok {
				diags[i].EndLine, diags[i].EndCol = e[0], e[1]
			}
		}
		delete(byFile, r.name)
	}
}

// nodeEnds maps the start (line, column) of each node to the end of the
// outermost node starting there, columns in characters.
func nodeEnds(f *ast.File, c *columns) map[[2]int][2]int {
	ends := map[[2]int][2]int{}
	ast.Walk(f, func(n ast.Node) bool {
		start, end := n.Pos(), n.End()
		if !start.IsValid() || !end.IsValid() {
			return true
		}
		k := [2]int{start.Line(), c.of(start.Line(), start.Column())}
		if _, seen := ends[k]; !seen {
			ends[k] = [2]int{end.Line(), c.of(end.Line(), end.Column())}
		}
		return true
	}, nil)
	return ends
}

// columns turns byte columns of one file into columns counted in
// characters, as GitHub's annotations and SARIF (with its default
// columnKind) count them. A file of ASCII keeps its columns.
type columns struct {
	src    []byte
	ascii  bool
	starts []int // offset of each line, built on first use
}

func newColumns(src []byte) *columns {
	c := &columns{src: src, ascii: true}
	for _, b := range src {
		if b >= utf8.RuneSelf {
			c.ascii = false
			break
		}
	}
	return c
}

// of converts a 1-based byte column on a 1-based line.
func (c *columns) of(line, col int) int {
	if c.ascii || line < 1 || col <= 1 {
		return col
	}
	if c.starts == nil {
		c.starts = []int{0}
		for i, b := range c.src {
			if b == '\n' {
				c.starts = append(c.starts, i+1)
			}
		}
	}
	if line > len(c.starts) {
		return col
	}
	start := c.starts[line-1]
	end := min(start+col-1, len(c.src))
	return utf8.RuneCount(c.src[start:end]) + 1 + (start + col - 1 - end)
}

// runeColumns converts the columns of diagnostics CUE positioned in src.
func runeColumns(src []byte, diags []Diagnostic) []Diagnostic {
	c := newColumns(src)
	for i := range diags {
		diags[i].Col = c.of(diags[i].Line, diags[i].Col)
	}
	return diags
}
