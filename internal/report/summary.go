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
	if len(r.Rows) > 0 {
		fmt.Fprintf(&b, "#### Rules before and after (base `%s`)\n\n| Rule | Status | | Match | Repositories | Permissions |\n|---|---|---|---|---|---|\n", code1(r.Base))
		for _, row := range r.Rows {
			if row.Status != "added" {
				fmt.Fprintf(&b, "| `%s` | %s | before | %s | %s | %s |\n", code1(row.Rule), row.Status, md(row.Before.Match), md(row.Before.Repositories), md(row.Before.Permissions))
			}
			if row.Status != "removed" {
				fmt.Fprintf(&b, "| `%s` | %s | after | %s | %s | %s |\n", code1(row.Rule), row.Status, md(row.After.Match), md(row.After.Repositories), md(row.After.Permissions))
			}
		}
		b.WriteString("\n")
	}
	if len(r.Moves) > 0 {
		b.WriteString("#### Jobs that move from one rule to another\n\n")
		for _, m := range r.Moves {
			fmt.Fprintf(&b, "- %s (`%s:%d`)\n", md(m.Sentence), code1(m.Pos.File), line(m.Pos.Line))
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
