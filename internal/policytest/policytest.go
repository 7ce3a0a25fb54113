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
	// Derived names the claims every real token carries that the case
	// omits and that were derived from the others (policy.Claims.Complete).
	Derived []string
	// Thin lists the rules that come before the deciding one and would
	// take the job for some value of a claim the case omits but a real
	// token always carries.
	Thin []Thin
	// Explain says, for a failed case, why it got its decision: the
	// conditions of the expected or closest rule that failed.
	Explain string
}

// Thin is a rule a test case cannot rule out because it omits claims
// (Claims) that every real token carries and the rule conditions on.
type Thin struct {
	Rule   string
	Pos    policy.Pos
	Claims []string
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
		c := runCase(s, tc)
		if c.Decision.Allowed && c.Decision.Rule != "" {
			hit[c.Decision.Rule] = true
		}
		res.Cases = append(res.Cases, c)
	}
	res.tally(s.Rules, hit, map[string]bool{})
	return res
}

// tally records each rule not yet seen as covered when hit, else uncovered.
func (r *Result) tally(rules []policy.Rule, hit, seen map[string]bool) {
	for _, rule := range rules {
		if seen[rule.Name] {
			continue
		}
		seen[rule.Name] = true
		r.Rules = append(r.Rules, rule.Name)
		if hit[rule.Name] {
			r.Covered = append(r.Covered, rule.Name)
		} else {
			r.Uncovered = append(r.Uncovered, rule.Name)
		}
	}
}

// runCase decides one test case as the real job would be decided: the
// claims a real token carries that follow from the others are derived
// first, and the rules that may still take the job because of a claim the
// case leaves out are listed.
func runCase(s *policy.Set, tc policy.TestCase) Case {
	claims := tc.Claims
	derived := claims.Complete()
	d := policy.Decide(s, claims, tc.Request)
	c := Case{Name: tc.Name, Pos: tc.Pos, Decision: d, Failures: compare(tc.Expect, d), Derived: derived,
		Thin: ThinRules(s.Rules, claims, d)}
	if !c.Passed() {
		c.Explain = explain(s, claims, tc.Expect, d)
	}
	return c
}

// explain says, as jitkey explain would, why a failed case got its
// decision: which conditions of the rule it expected failed, or which
// earlier rule took the job, or, for a denial by default, the conditions
// of the closest rule that failed.
func explain(s *policy.Set, c policy.Claims, want policy.Expectation, d policy.Decision) string {
	at := func(name string) (policy.Rule, string) {
		for _, r := range s.Rules {
			if r.Name == name {
				return r, fmt.Sprintf(" (%s:%d:%d)", r.Pos.File, r.Pos.Line, r.Pos.Col)
			}
		}
		return policy.Rule{}, ""
	}
	if want.Rule != "" && want.Rule != d.Rule {
		r, pos := at(want.Rule)
		if r.Name == "" {
			return fmt.Sprintf("no rule is named %q", want.Rule)
		}
		if ok, failed := r.Matches(c); !ok {
			return fmt.Sprintf("rule %q%s does not match: %s", r.Name, pos, strings.Join(failed, "; "))
		}
		_, dpos := at(d.Rule)
		return fmt.Sprintf("rule %q%s matches, but rule %q%s comes first and decides", r.Name, pos, d.Rule, dpos)
	}
	if len(d.NearMisses) == 0 {
		return ""
	}
	nm := d.NearMisses[0]
	_, pos := at(nm.Rule)
	return fmt.Sprintf("the closest rule, %q%s, does not match: %s", nm.Rule, pos, strings.Join(nm.Failed, "; "))
}

// ThinRules returns the rules before the one that decided (all rules for a
// denial by default) that condition on claims the job omits but a real
// token always carries, and that match once those conditions are left
// out: for some value of those claims, such a rule would take the real job.
func ThinRules(rules []policy.Rule, c policy.Claims, d policy.Decision) []Thin {
	var omitted []string
	for _, name := range policy.AlwaysCarried {
		if v, _ := c.ClaimValue(name); v == "" {
			omitted = append(omitted, name)
		}
	}
	if len(omitted) == 0 {
		return nil
	}
	var out []Thin
	for _, r := range rules {
		if d.Rule != "" && r.Name == d.Rule {
			break
		}
		var rest []policy.Condition
		var on []string
		for _, cond := range r.Match {
			if slices.Contains(omitted, cond.Claim) {
				on = append(on, cond.Claim)
			} else {
				rest = append(rest, cond)
			}
		}
		if len(on) == 0 {
			continue
		}
		r.Match = rest
		if ok, _ := r.Matches(c); ok {
			out = append(out, Thin{Rule: r.Name, Pos: r.Pos, Claims: slices.Compact(on)})
		}
	}
	return out
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
			Severity: "error", Code: CodeFailed, Message: fmt.Sprintf("test %q failed: %s%s", c.Name, strings.Join(c.Failures, "; "), prefixed("; ", c.Explain))})
	}
	for _, c := range r.Cases {
		for _, th := range c.Thin {
			out = append(out, policy.Diagnostic{File: c.Pos.File, Line: c.Pos.Line, Col: c.Pos.Col, EndLine: c.Pos.Line, EndCol: c.Pos.Col,
				Severity: "warning", Code: CodeThinClaims, Rule: th.Rule, Message: fmt.Sprintf(
					"test %q omits %s, which every real token carries, and rule %q (%s:%d) comes first and would take this job for some value of %s; add %s to the test's claims as the job's token carries them",
					c.Name, strings.Join(th.Claims, ", "), th.Rule, th.Pos.File, th.Pos.Line, orList(th.Claims), strings.Join(th.Claims, ", "))})
		}
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
	CodeFailed     = "test-failed"
	CodeUncovered  = "rule-not-covered"
	CodeThinClaims = "test-thin-claims"
)

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
