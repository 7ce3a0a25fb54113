// Package report renders the findings of jitkey validate and jitkey test in
// one of several formats (text, GitHub annotations, JSON, SARIF), one
// outputter per format behind one interface, and writes the Markdown job
// summary.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// Report is what one run found.
type Report struct {
	Command     string              // "validate" or "test"
	Files       []string            // the files read, relative to the repository root
	Diagnostics []policy.Diagnostic // positioned findings, sorted
	Rules       []Rule              // descriptions of the finding codes, for SARIF; optional
	Base        string              // the base the grants are compared with; empty without a diff
	Grants      []Grant             // what the change grants that the base did not
	Rows        []Row               // each rule the change added, removed, changed or moved, before and after
	Moves       []Move              // jobs that move from one rule to another
	Tests       *Tests              // nil unless the command ran tests
}

// Rule describes one finding code.
type Rule struct {
	ID          string
	Description string
	Severity    policy.Severity
}

// Grant is one thing a change grants that its base did not, in a sentence.
type Grant struct {
	Rule     string
	Pos      policy.Pos
	Sentence string
	// PolicyChange marks a change to who may change policies: write on a
	// policy repository, or organisation settings that move the policy or
	// let jobs choose it.
	PolicyChange bool
}

// Row is one rule before and after a change.
type Row struct {
	Rule          string
	Pos           policy.Pos
	Status        string // added, removed, changed or moved
	Before, After Side
}

// Side is a rule's match, repositories and permissions, as text; zero
// where the rule does not exist.
type Side struct {
	Match        string `json:"match"`
	Repositories string `json:"repositories"`
	Permissions  string `json:"permissions"`
}

// Move is a set of jobs one rule decided in the base that another (or,
// with To empty, none) decides after the change.
type Move struct {
	From, To string
	Pos      policy.Pos
	Sentence string
}

// Tests summarises a policy test run.
type Tests struct {
	Passed, Failed int
	Rules          int      // rules in the set
	Uncovered      []string // rules no test case matched
	Coverage       float64  // percent of rules exercised
	MinCoverage    float64  // threshold asked for; 0 for none
	// Condition coverage: a condition is covered when some passing case
	// fails once it is removed from its rule.
	Conditions, ConditionsCovered int
	ConditionCoverage             float64
	PerRule                       []string // one line per rule: "rule "x": 2 of 3 conditions covered; ..."
	Cases                         []Case   // every case run, for JUnit
}

// Case is one policy test case and its outcome.
type Case struct {
	Name    string
	File    string
	Line    int
	Failure string // empty when it passed
}

// Counts returns the number of errors, warnings and notices.
func (r *Report) Counts() (errs, warns, notes int) {
	for _, d := range r.Diagnostics {
		switch d.Severity {
		case "error":
			errs++
		case "warning":
			warns++
		default:
			notes++
		}
	}
	return errs, warns, notes
}

// Outputter writes a report in one format.
type Outputter interface {
	Output(w io.Writer, r *Report) error
}

// Formats lists the format names New accepts.
func Formats() []string { return []string{"text", "github", "json", "sarif", "junit"} }

// New returns the outputter for a format name.
func New(format string) (Outputter, error) {
	switch format {
	case "text":
		return Text{}, nil
	case "github":
		return GitHub{}, nil
	case "json":
		return JSON{}, nil
	case "sarif":
		return SARIF{}, nil
	case "junit":
		return JUnit{}, nil
	}
	return nil, fmt.Errorf("unknown format %q; use one of %s", format, strings.Join(Formats(), ", "))
}

// Render returns r as format prints it.
func Render(format string, r *Report) (string, error) {
	out, err := New(format)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := out.Output(&b, r); err != nil {
		return "", err
	}
	return b.String(), nil
}

// line and col clamp a position to 1: GitHub hides annotations without a
// line, SARIF rejects lines below 1.
func line(n int) int { return max(n, 1) }

func end(start, endv int) int {
	if endv < start {
		return start
	}
	return endv
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// headline is the one-line verdict of a report.
func headline(r *Report) string {
	errs, warns, notes := r.Counts()
	s := fmt.Sprintf("%s, %s, %s in %s", plural(errs, "error"), plural(warns, "warning"), plural(notes, "notice"), plural(len(r.Files), "file"))
	if len(r.Grants) > 0 {
		s += fmt.Sprintf("; %s beyond %s", plural(len(r.Grants), "new grant"), r.Base)
	}
	return s
}

func testsLine(t *Tests) string {
	s := fmt.Sprintf("%s: %d passed, %d failed; rule coverage %.1f%% (%d of %d rules); condition coverage %.1f%% (%d of %d conditions)",
		plural(t.Passed+t.Failed, "test"), t.Passed, t.Failed, t.Coverage, t.Rules-len(t.Uncovered), t.Rules,
		t.ConditionCoverage, t.ConditionsCovered, t.Conditions)
	if t.MinCoverage > 0 {
		s += fmt.Sprintf(", minimum %.1f%%", t.MinCoverage)
	}
	return s
}

func rules(r *Report) []Rule {
	known := map[string]Rule{}
	for _, ru := range r.Rules {
		known[ru.ID] = ru
	}
	seen := map[string]bool{}
	var out []Rule
	for _, d := range r.Diagnostics {
		id := code(d)
		if seen[id] {
			continue
		}
		seen[id] = true
		ru, ok := known[id]
		if !ok {
			ru = Rule{ID: id, Description: strings.ReplaceAll(id, "-", " "), Severity: d.Severity}
		}
		out = append(out, ru)
	}
	if len(r.Grants) > 0 {
		out = append(out, Rule{ID: GrantCode, Description: "the change grants something its base did not", Severity: "notice"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// GrantCode is the code of a new grant in annotations and SARIF.
const GrantCode = "new-grant"

func code(d policy.Diagnostic) string {
	if d.Code == "" {
		return "policy"
	}
	return d.Code
}
