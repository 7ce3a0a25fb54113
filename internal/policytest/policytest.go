// Package policytest runs the unit tests kept beside a policy set (the
// cases of its *_test.cue files) through the same decision the mint uses,
// and measures which rules the cases exercise.
package policytest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// Result is the outcome of running every test case of a set.
type Result struct {
	Cases     []Case
	Rules     []string // every rule name, in policy order
	Covered   []string // rules matched by at least one case, in policy order
	Uncovered []string // rules no case matched, in policy order
}

// Case is the outcome of one test case.
type Case struct {
	Name     string
	Pos      policy.Pos
	Decision policy.Decision
	Failures []string // empty when the case passed
}

// Passed reports whether the case met every expectation.
func (c Case) Passed() bool { return len(c.Failures) == 0 }

// Counts returns the number of passed and failed cases.
func (r Result) Counts() (passed, failed int) {
	for _, c := range r.Cases {
		if c.Passed() {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// Coverage returns the percentage of rules at least one case matched; a set
// without rules is fully covered.
func (r Result) Coverage() float64 {
	if len(r.Rules) == 0 {
		return 100
	}
	return 100 * float64(len(r.Covered)) / float64(len(r.Rules))
}

// Run decides every test case of s and compares the decision with the
// case's expectation.
func Run(s *policy.Set) Result {
	var res Result
	hit := map[string]bool{}
	for _, tc := range s.Tests {
		d := policy.Decide(s, tc.Claims, tc.Request)
		if d.Allowed && d.Rule != "" {
			hit[d.Rule] = true
		}
		res.Cases = append(res.Cases, Case{Name: tc.Name, Pos: tc.Pos, Decision: d, Failures: compare(tc.Expect, d)})
	}
	seen := map[string]bool{}
	for _, r := range s.Rules {
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		res.Rules = append(res.Rules, r.Name)
		if hit[r.Name] {
			res.Covered = append(res.Covered, r.Name)
		} else {
			res.Uncovered = append(res.Uncovered, r.Name)
		}
	}
	return res
}

// compare lists how a decision differs from an expectation. An expectation
// checks the rule, permissions and repositories only when it states them.
func compare(want policy.Expectation, got policy.Decision) []string {
	var out []string
	if want.Allow != got.Allowed {
		out = append(out, fmt.Sprintf("expected %s, got %s: %s", verdict(want.Allow), verdict(got.Allowed), got.Reason))
	}
	if want.Rule != "" && want.Rule != got.Rule {
		out = append(out, fmt.Sprintf("expected rule %q to match, got %s", want.Rule, ruleName(got.Rule)))
	}
	if want.Permissions != nil && !maps.Equal(want.Permissions, got.Permissions) {
		out = append(out, fmt.Sprintf("expected permissions %s, got %s", perms(want.Permissions), perms(got.Permissions)))
	}
	if want.Repositories != nil {
		w, g := sorted(want.Repositories), sorted(got.Repositories)
		if !slices.Equal(w, g) {
			out = append(out, fmt.Sprintf("expected repositories [%s], got [%s]", strings.Join(w, ", "), strings.Join(g, ", ")))
		}
	}
	return out
}

func verdict(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

func ruleName(r string) string {
	if r == "" {
		return "no rule"
	}
	return fmt.Sprintf("%q", r)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// perms formats a permission map in a stable order: {contents: read, ...}.
func perms(p map[string]string) string {
	keys := slices.Sorted(maps.Keys(p))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + p[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Diagnostics returns one error per failed case, positioned at the case,
// and one notice per rule no case exercised, positioned at the rule.
func Diagnostics(s *policy.Set, r Result) []policy.Diagnostic {
	var out []policy.Diagnostic
	for _, c := range r.Cases {
		if c.Passed() {
			continue
		}
		out = append(out, policy.Diagnostic{File: c.Pos.File, Line: c.Pos.Line, Col: c.Pos.Col, EndLine: c.Pos.Line, EndCol: c.Pos.Col,
			Severity: "error", Code: CodeFailed, Message: fmt.Sprintf("test %q failed: %s", c.Name, strings.Join(c.Failures, "; "))})
	}
	uncovered := map[string]bool{}
	for _, n := range r.Uncovered {
		uncovered[n] = true
	}
	for _, rule := range s.Rules {
		if uncovered[rule.Name] {
			delete(uncovered, rule.Name)
			out = append(out, policy.Diagnostic{File: rule.Pos.File, Line: rule.Pos.Line, Col: rule.Pos.Col, EndLine: rule.Pos.Line, EndCol: rule.Pos.Col,
				Severity: "notice", Code: CodeUncovered, Rule: rule.Name,
				Message: fmt.Sprintf("rule %q is not exercised by any test; add a case in a *_test.cue file that it allows", rule.Name)})
		}
	}
	return out
}

// The codes of test diagnostics.
const (
	CodeFailed    = "test-failed"
	CodeUncovered = "rule-not-covered"
)
