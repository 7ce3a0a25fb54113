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
// of each rule (requireVerified included), it runs every test case again
// with that condition removed; the condition is covered when a case that
// passes on the policy as written fails without it.
func Conditions(s *policy.Set) []RuleCoverage {
	passing := make([]policy.TestCase, 0, len(s.Tests))
	for _, tc := range s.Tests {
		if runCase(s, tc).Passed() {
			passing = append(passing, tc)
		}
	}
	out := make([]RuleCoverage, 0, len(s.Rules))
	for i, r := range s.Rules {
		rc := RuleCoverage{Rule: r.Name, Pos: r.Pos}
		if r.RequireVerified {
			m := r
			m.RequireVerified = false
			rc.Conditions = append(rc.Conditions, mutantCoverage(s, i, m, passing, "requireVerified", r.Pos))
		}
		for j, c := range r.Match {
			m := r
			m.Match = slices.Delete(slices.Clone(r.Match), j, j+1)
			rc.Conditions = append(rc.Conditions, mutantCoverage(s, i, m, passing, c.Claim, c.Pos))
		}
		out = append(out, rc)
	}
	return out
}

func mutantCoverage(s *policy.Set, i int, mutant policy.Rule, passing []policy.TestCase, claim string, at policy.Pos) ConditionCoverage {
	m := *s
	m.Rules = slices.Clone(s.Rules)
	m.Rules[i] = mutant
	cc := ConditionCoverage{Claim: claim, Pos: at}
	for _, tc := range passing {
		if !runCase(&m, tc).Passed() {
			cc.Covered, cc.By = true, tc.Name
			break
		}
	}
	return cc
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
