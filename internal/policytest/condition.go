package policytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// RuleCoverage is the condition coverage of one rule: which of its
// conditions the tests pin down.
type RuleCoverage struct {
	Rule       string
	Pos        policy.Pos
	Conditions []ConditionCoverage
}

// ConditionCoverage says whether some test fails once the condition is
// removed from its rule. A condition no test misses could be deleted, and
// the rule widened, without a test noticing.
type ConditionCoverage struct {
	Claim   string // the claim, or "requireVerified"
	Pos     policy.Pos
	Covered bool
	By      string // the first test that fails without it
}

// Covered returns how many of the rule's conditions are covered.
func (rc RuleCoverage) Covered() int {
	n := 0
	for _, c := range rc.Conditions {
		if c.Covered {
			n++
		}
	}
	return n
}

// Percent is the rule's condition coverage; a rule without conditions is
// fully covered.
func (rc RuleCoverage) Percent() float64 {
	if len(rc.Conditions) == 0 {
		return 100
	}
	return 100 * float64(rc.Covered()) / float64(len(rc.Conditions))
}

// Uncovered names the conditions no test misses.
func (rc RuleCoverage) Uncovered() []string {
	var out []string
	for _, c := range rc.Conditions {
		if !c.Covered {
			out = append(out, c.Claim)
		}
	}
	return out
}

// Conditions measures condition coverage by mutation: for each condition
// of each rule (requireVerified included), the condition is covered when
// a case that passes on the policy as written fails once the condition is
// removed from its rule.
//
// Removing a condition only widens its rule, and only a rule tried before
// the one that decided a case (every rule, for a denial by default) can
// take the case from it; it does so exactly when the removed condition was
// the only one of the rule the case failed. So each case is decided again
// only for the (rule, condition) pairs where that holds, not for every
// condition: the result equals re-running every case for every mutant
// (naiveConditions, kept as the test's oracle).
func Conditions(s *policy.Set) []RuleCoverage {
	out := skeleton(s)
	for _, tc := range s.Tests {
		c := runCase(s, tc)
		if !c.Passed() {
			continue
		}
		claims := tc.Claims
		claims.Complete()
		for i := range s.Rules {
			r := &s.Rules[i]
			if c.Decision.Rule != "" && r.Name == c.Decision.Rule {
				break
			}
			j, ok := onlyFailure(r, claims)
			if !ok || out[i].Conditions[j].Covered {
				continue
			}
			if !runCase(mutant(s, i, j), tc).Passed() {
				out[i].Conditions[j].Covered, out[i].Conditions[j].By = true, tc.Name
			}
		}
	}
	return out
}

// skeleton lists every condition of every rule, none covered: index 0 is
// requireVerified when the rule has it, then the match in order.
func skeleton(s *policy.Set) []RuleCoverage {
	out := make([]RuleCoverage, 0, len(s.Rules))
	for _, r := range s.Rules {
		rc := RuleCoverage{Rule: r.Name, Pos: r.Pos}
		if r.RequireVerified {
			rc.Conditions = append(rc.Conditions, ConditionCoverage{Claim: "requireVerified", Pos: r.Pos})
		}
		for _, c := range r.Match {
			rc.Conditions = append(rc.Conditions, ConditionCoverage{Claim: c.Claim, Pos: c.Pos})
		}
		out = append(out, rc)
	}
	return out
}

// onlyFailure returns the index (in skeleton's order) of the one
// condition of r that claims fail, and false when they fail none or more
// than one.
func onlyFailure(r *policy.Rule, c policy.Claims) (int, bool) {
	at, n := -1, 0
	offset := 0
	if r.RequireVerified {
		offset = 1
		if !c.Verified {
			at, n = 0, 1
		}
	}
	for j := range r.Match {
		if !holds(&r.Match[j], &c) {
			if n++; n > 1 {
				return 0, false
			}
			at = offset + j
		}
	}
	return at, n == 1
}

// holds reports whether claims c meet condition cond, as a decision
// would judge it (sub through Rule.Matches, which compares both forms).
func holds(cond *policy.Condition, c *policy.Claims) bool {
	if cond.Claim == "sub" {
		ok, _ := policy.Rule{Match: []policy.Condition{*cond}}.Matches(*c)
		return ok
	}
	v, known := c.ClaimValue(cond.Claim)
	return known && cond.Admits(v)
}

// mutant returns s with condition j (in skeleton's order) of rule i removed.
func mutant(s *policy.Set, i, j int) *policy.Set {
	m := *s
	m.Rules = slices.Clone(s.Rules)
	r := s.Rules[i]
	if r.RequireVerified {
		if j == 0 {
			r.RequireVerified = false
			m.Rules[i] = r
			return &m
		}
		j--
	}
	r.Match = slices.Delete(slices.Clone(r.Match), j, j+1)
	m.Rules[i] = r
	return &m
}

// naiveConditions is Conditions by brute force: every passing case run
// again against every mutant. The tests hold Conditions to it.
func naiveConditions(s *policy.Set) []RuleCoverage {
	var passing []policy.TestCase
	for _, tc := range s.Tests {
		if runCase(s, tc).Passed() {
			passing = append(passing, tc)
		}
	}
	out := skeleton(s)
	for i := range out {
		for j := range out[i].Conditions {
			m := mutant(s, i, j)
			for _, tc := range passing {
				if !runCase(m, tc).Passed() {
					out[i].Conditions[j].Covered, out[i].Conditions[j].By = true, tc.Name
					break
				}
			}
		}
	}
	return out
}

// ConditionPercent is the share of all conditions covered; a set without
// conditions is fully covered.
func ConditionPercent(rcs []RuleCoverage) (pct float64, covered, total int) {
	for _, rc := range rcs {
		covered += rc.Covered()
		total += len(rc.Conditions)
	}
	if total == 0 {
		return 100, 0, 0
	}
	return 100 * float64(covered) / float64(total), covered, total
}

// CodeConditionUncovered is the code of a rule whose conditions the tests
// do not all pin down.
const CodeConditionUncovered = "condition-not-covered"

// ConditionDiagnostics reports each rule with conditions no test misses,
// at its first such condition: a notice, or an error when the rule's
// condition coverage is below minimum (0 for none).
func ConditionDiagnostics(rcs []RuleCoverage, minimum float64) []policy.Diagnostic {
	var out []policy.Diagnostic
	for _, rc := range rcs {
		un := rc.Uncovered()
		if len(un) == 0 {
			continue
		}
		sev, tail := policy.SeverityNotice, ""
		if minimum > 0 && rc.Percent() < minimum {
			sev, tail = policy.SeverityError, fmt.Sprintf(", below --min-coverage %.1f%%", minimum)
		}
		at := rc.Pos
		for _, c := range rc.Conditions {
			if !c.Covered {
				at = c.Pos
				break
			}
		}
		out = append(out, policy.Diagnostic{File: at.File, Line: at.Line, Col: at.Col, EndLine: at.Line, EndCol: at.Col,
			Severity: sev, Code: CodeConditionUncovered, Rule: rc.Rule, Message: fmt.Sprintf(
				"rule %q: %d of %d conditions covered (%.1f%%%s); no test fails when %s is removed, so it could go unnoticed: add a case the rule would take but for that one claim, expecting another decision",
				rc.Rule, rc.Covered(), len(rc.Conditions), rc.Percent(), tail, orList(un))})
	}
	return out
}

// Select keeps the test cases whose name matches pattern (an RE2
// expression, unanchored, as go test -run).
func Select(s *policy.Set, pattern string) (*policy.Set, error) {
	if pattern == "" {
		return s, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("--run %q: %w; give an RE2 expression matching test names", pattern, err)
	}
	out := *s
	out.Tests = nil
	for _, tc := range s.Tests {
		if re.MatchString(tc.Name) {
			out.Tests = append(out.Tests, tc)
		}
	}
	return &out, nil
}

// FormatCoverage renders the per-rule lines of the text report.
func FormatCoverage(rcs []RuleCoverage) []string {
	var out []string
	for _, rc := range rcs {
		line := fmt.Sprintf("rule %q: %d of %d conditions covered", rc.Rule, rc.Covered(), len(rc.Conditions))
		if un := rc.Uncovered(); len(un) > 0 {
			line += "; no test fails without " + strings.Join(un, ", ")
		}
		out = append(out, line)
	}
	return out
}
