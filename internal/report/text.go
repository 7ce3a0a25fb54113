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
	writeRows(&b, r)
	if r.Tests != nil {
		b.WriteString(testsLine(r.Tests) + "\n")
		for _, l := range r.Tests.PerRule {
			b.WriteString("  " + oneLine(l) + "\n")
		}
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

// writeRows writes each changed rule before and after, then the jobs that
// move from one rule to another.
func writeRows(b *strings.Builder, r *Report) {
	if len(r.Rows) > 0 {
		fmt.Fprintf(b, "Rules before and after the change (base %s):\n", oneLine(r.Base))
		for _, row := range r.Rows {
			fmt.Fprintf(b, "%s:%d:%d: rule %q %s\n", row.Pos.File, line(row.Pos.Line), line(row.Pos.Col), oneLine(row.Rule), row.Status)
			for _, f := range [][3]string{{"match", row.Before.Match, row.After.Match},
				{"repositories", row.Before.Repositories, row.After.Repositories},
				{"permissions", row.Before.Permissions, row.After.Permissions}} {
				switch {
				case row.Status == "added":
					fmt.Fprintf(b, "  %-13s %s\n", f[0]+":", oneLine(f[2]))
				case row.Status == "removed":
					fmt.Fprintf(b, "  %-13s %s\n", f[0]+":", oneLine(f[1]))
				case f[1] == f[2]:
					fmt.Fprintf(b, "  %-13s %s (unchanged)\n", f[0]+":", oneLine(f[1]))
				default:
					fmt.Fprintf(b, "  %-13s %s\n  %-13s -> %s\n", f[0]+":", oneLine(f[1]), "", oneLine(f[2]))
				}
			}
		}
	}
	if len(r.Moves) > 0 {
		b.WriteString("Jobs that move from one rule to another:\n")
		for _, m := range r.Moves {
			fmt.Fprintf(b, "%s:%d:%d: %s\n", m.Pos.File, line(m.Pos.Line), line(m.Pos.Col), oneLine(m.Sentence))
		}
	}
}
