package report

import (
	"fmt"
	"io"
	"strings"
)

// Summary writes the report as Markdown for a GitHub job summary
// ($GITHUB_STEP_SUMMARY): the verdict, a table of findings, the new grants
// and the test results.
func Summary(w io.Writer, r *Report) error {
	var b strings.Builder
	errs, _, _ := r.Counts()
	mark := "✅"
	if errs > 0 || (r.Tests != nil && r.Tests.Failed > 0) {
		mark = "❌"
	}
	fmt.Fprintf(&b, "### %s jitkey %s: %s\n\n", mark, r.Command, md(headline(r)))
	if len(r.Diagnostics) > 0 {
		b.WriteString("| Severity | Location | Code | Message |\n|---|---|---|---|\n")
		for _, d := range r.Diagnostics {
			fmt.Fprintf(&b, "| %s | `%s:%d:%d` | %s | %s |\n", d.Severity, code1(d.File), line(d.Line), line(d.Col), md(code(d)), md(d.Message))
		}
		b.WriteString("\n")
	}
	if len(r.Grants) > 0 {
		fmt.Fprintf(&b, "#### What this change grants that `%s` did not\n\n", code1(r.Base))
		for _, g := range r.Grants {
			fmt.Fprintf(&b, "- %s (`%s:%d`)\n", md(g.Sentence), code1(g.Pos.File), line(g.Pos.Line))
		}
		b.WriteString("\n")
	}
	if t := r.Tests; t != nil {
		fmt.Fprintf(&b, "#### %s\n\n", md(testsLine(t)))
		if len(t.Uncovered) > 0 {
			names := make([]string, len(t.Uncovered))
			for i, n := range t.Uncovered {
				names[i] = "`" + code1(n) + "`"
			}
			fmt.Fprintf(&b, "Rules no test exercises: %s\n\n", strings.Join(names, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// md escapes text for a Markdown table cell or list item: no HTML, no
// table breaks, no line breaks.
func md(s string) string {
	return strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "\r", " ", "\n", " ", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]").Replace(s)
}

// code1 makes text safe inside a single-backtick code span.
func code1(s string) string {
	return strings.NewReplacer("`", "'", "\r", " ", "\n", " ", "|", "\\|").Replace(s)
}
