package report

import (
	"fmt"
	"io"
	"strings"
)

// GitHub writes workflow commands that the runner turns into annotations
// on the pull request's changed files. Every annotation carries a line:
// without one GitHub does not show it beside the code.
type GitHub struct{}

// Output implements Outputter.
func (GitHub) Output(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, d := range r.Diagnostics {
		level := "error"
		switch d.Severity {
		case "warning":
			level = "warning"
		case "notice":
			level = "notice"
		}
		annotate(&b, level, d.File, d.Line, d.Col, d.EndLine, d.EndCol, code(d), d.Message)
	}
	for _, g := range r.Grants {
		title := "New grant: " + g.Rule
		if g.PolicyChange {
			title = "Who may change policies: " + g.Rule
		}
		annotate(&b, "notice", g.Pos.File, g.Pos.Line, g.Pos.Col, 0, 0, title, g.Sentence)
	}
	for _, m := range r.Moves {
		to := m.To
		if to == "" {
			to = "denied"
		}
		annotate(&b, "notice", m.Pos.File, m.Pos.Line, m.Pos.Col, 0, 0, "Jobs move: "+m.From+" -> "+to, m.Sentence)
	}
	if r.Tests != nil {
		b.WriteString(oneLine(testsLine(r.Tests)) + "\n")
	}
	b.WriteString(oneLine(fmt.Sprintf("jitkey %s: %s", r.Command, headline(r))) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func annotate(b *strings.Builder, level, file string, l, c, el, ec int, title, msg string) {
	l, c = line(l), line(c)
	fmt.Fprintf(b, "::%s file=%s,line=%d,col=%d,endLine=%d,endColumn=%d,title=%s::%s\n",
		level, escapeProperty(file), l, c, end(l, el), end(c, ec), escapeProperty(title), escapeData(msg))
}

// escapeData escapes a workflow command's message, as the runner's
// toolkit does.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
