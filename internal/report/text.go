package report

import (
	"fmt"
	"io"
	"strings"
)

// Text writes one line per finding, `file:line:col: severity: message`,
// the form editors and compilers use, then a one-line verdict.
type Text struct{}

// Output implements Outputter.
func (Text) Output(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, d := range r.Diagnostics {
		fmt.Fprintf(&b, "%s:%d:%d: %s: %s", d.File, line(d.Line), line(d.Col), d.Severity, oneLine(d.Message))
		if d.Code != "" {
			fmt.Fprintf(&b, " [%s]", d.Code)
		}
		b.WriteByte('\n')
	}
	if len(r.Grants) > 0 {
		if len(r.Diagnostics) > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "What this change grants that %s did not:\n", oneLine(r.Base))
		for _, g := range r.Grants {
			fmt.Fprintf(&b, "%s:%d:%d: %s\n", g.Pos.File, line(g.Pos.Line), line(g.Pos.Col), oneLine(g.Sentence))
		}
	}
	if r.Tests != nil {
		b.WriteString(testsLine(r.Tests) + "\n")
		if len(r.Tests.Uncovered) > 0 {
			fmt.Fprintf(&b, "rules no test exercises: %s\n", strings.Join(r.Tests.Uncovered, ", "))
		}
	}
	fmt.Fprintf(&b, "jitkey %s: %s\n", r.Command, oneLine(headline(r)))
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a message on its line, so that no text from a policy can
// start a line of its own (a workflow command, a fake finding).
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(s)
}
