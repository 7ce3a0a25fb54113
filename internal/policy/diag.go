package policy

import (
	"fmt"
	"strings"
)

// Severity ranks a diagnostic: "error", "warning" or "notice".
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityNotice  Severity = "notice"
)

// Diagnostic codes set by Load.
const (
	// CodeSyntax: the file is not CUE at all (parse error, not UTF-8,
	// empty, too large). Callers treat it as an input error.
	CodeSyntax = "syntax"
	// CodeSchema: the file is CUE but the schema rejects it.
	CodeSchema = "schema"
	// CodePattern: a match pattern is not a valid regular expression.
	CodePattern = "pattern"
	// CodeDuplicateName: two rules share a name.
	CodeDuplicateName = "duplicate-name"
	// CodeAboveCeiling: a rule grants more than the ceiling.
	CodeAboveCeiling = "above-ceiling"
	// CodeDuplicateSection: ceiling or review defined in more than one file.
	CodeDuplicateSection = "duplicate-section"
)

// Diagnostic is one finding, positioned in a policy file. Lines and
// columns are 1-based; columns count characters, not bytes, as GitHub's
// annotations and SARIF do. EndLine and EndCol end the syntax the finding
// is about, EndCol just after its last character (exclusive, as in
// SARIF); both are 0 when unknown (syntax errors).
type Diagnostic struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Col      int      `json:"col"`
	EndLine  int      `json:"end_line,omitempty"`
	EndCol   int      `json:"end_col,omitempty"`
	Severity Severity `json:"severity"`
	Code     string   `json:"code,omitempty"`
	Rule     string   `json:"rule,omitempty"` // the rule concerned, if any
	Message  string   `json:"message"`
}

// String formats d as file:line:col: message.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, d.Col)
	}
	b.WriteString(": ")
	b.WriteString(d.Message)
	return b.String()
}

// Errors is the error Load returns when a policy set is invalid: every
// diagnostic is positioned in the policy file.
type Errors []Diagnostic

// Error lists the diagnostics, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Pos is a position in a policy file.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String formats p as file:line:col.
func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (p Pos) diag(code, rule, format string, args ...any) Diagnostic {
	return Diagnostic{File: p.File, Line: p.Line, Col: p.Col, Severity: SeverityError, Code: code, Rule: rule,
		Message: fmt.Sprintf(format, args...)}
}

func (p Pos) before(q Pos) bool {
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}
