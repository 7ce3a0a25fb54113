package report

import (
	"encoding/json"
	"io"
)

// JSON writes the whole report as one JSON document.
type JSON struct{}

type jsonReport struct {
	Command     string           `json:"command"`
	Files       []string         `json:"files"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Notices     int              `json:"notices"`
	Diagnostics []jsonDiagnostic `json:"diagnostics"`
	Base        string           `json:"base,omitempty"`
	Grants      []jsonGrant      `json:"grants,omitempty"`
	Rows        []jsonRow        `json:"rules_changed,omitempty"`
	Moves       []jsonMove       `json:"moves,omitempty"`
	Tests       *jsonTests       `json:"tests,omitempty"`
}

type jsonDiagnostic struct {
	File      string `json:"file"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	EndLine   int    `json:"end_line"`
	EndColumn int    `json:"end_column"`
	Severity  string `json:"severity"`
	Code      string `json:"code"`
	Rule      string `json:"rule,omitempty"`
	Message   string `json:"message"`
}

type jsonGrant struct {
	Rule     string `json:"rule"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Sentence string `json:"sentence"`
	// PolicyChange: the change widens who may change policies.
	PolicyChange bool `json:"policy_change,omitempty"`
}

type jsonRow struct {
	Rule   string `json:"rule"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Status string `json:"status"`
	Before *Side  `json:"before,omitempty"`
	After  *Side  `json:"after,omitempty"`
}

type jsonMove struct {
	From     string `json:"from"`
	To       string `json:"to,omitempty"` // empty: the jobs may now be denied
	File     string `json:"file"`
	Line     int    `json:"line"`
	Sentence string `json:"sentence"`
}

type jsonTests struct {
	Passed      int      `json:"passed"`
	Failed      int      `json:"failed"`
	Rules       int      `json:"rules"`
	Uncovered   []string `json:"uncovered"`
	Coverage    float64  `json:"coverage"`
	MinCoverage float64  `json:"min_coverage,omitempty"`
	Conditions  int      `json:"conditions"`
	CondCovered int      `json:"conditions_covered"`
	CondPercent float64  `json:"condition_coverage"`
}

// Output implements Outputter.
func (JSON) Output(w io.Writer, r *Report) error {
	errs, warns, notes := r.Counts()
	out := jsonReport{Command: r.Command, Files: r.Files, Errors: errs, Warnings: warns, Notices: notes,
		Diagnostics: []jsonDiagnostic{}, Base: r.Base}
	if out.Files == nil {
		out.Files = []string{}
	}
	for _, d := range r.Diagnostics {
		l, c := line(d.Line), line(d.Col)
		out.Diagnostics = append(out.Diagnostics, jsonDiagnostic{File: d.File, Line: l, Column: c,
			EndLine: end(l, d.EndLine), EndColumn: end(c, d.EndCol), Severity: string(d.Severity), Code: code(d), Rule: d.Rule, Message: d.Message})
	}
	for _, g := range r.Grants {
		out.Grants = append(out.Grants, jsonGrant{Rule: g.Rule, File: g.Pos.File, Line: line(g.Pos.Line), Sentence: g.Sentence, PolicyChange: g.PolicyChange})
	}
	for _, row := range r.Rows {
		jr := jsonRow{Rule: row.Rule, File: row.Pos.File, Line: line(row.Pos.Line), Status: row.Status}
		if row.Status != "added" {
			jr.Before = &row.Before
		}
		if row.Status != "removed" {
			jr.After = &row.After
		}
		out.Rows = append(out.Rows, jr)
	}
	for _, m := range r.Moves {
		out.Moves = append(out.Moves, jsonMove{From: m.From, To: m.To, File: m.Pos.File, Line: line(m.Pos.Line), Sentence: m.Sentence})
	}
	if t := r.Tests; t != nil {
		out.Tests = &jsonTests{Passed: t.Passed, Failed: t.Failed, Rules: t.Rules, Uncovered: t.Uncovered, Coverage: t.Coverage, MinCoverage: t.MinCoverage,
			Conditions: t.Conditions, CondCovered: t.ConditionsCovered, CondPercent: t.ConditionCoverage}
		if out.Tests.Uncovered == nil {
			out.Tests.Uncovered = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
