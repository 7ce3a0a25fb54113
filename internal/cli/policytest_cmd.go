package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/report"
)

const testUsage = `
Usage: jitkey test [--format text|github|json|sarif|junit] [--min-coverage PCT] [--run PATTERN]
       [--eval-timeout DURATION] [--eval-memory MIB] [PATH...]

Runs the policy test cases of the *_test.cue files beside the policies
through the same decision the mint makes, and reports coverage: the rules
no case exercises, and for each rule the conditions no case pins down (a
condition is covered when some passing case fails once it is removed).
--run selects the cases whose name matches an RE2 expression. --format
junit writes JUnit XML for CI. PATH as for validate (default: .github/jitkey
when it exists, else policies). --eval-timeout and --eval-memory bound the
evaluation of each policy directory, as for validate.

Exit status: 0 all cases pass and coverage is at least --min-coverage (the
share of rules exercised, and of each rule's conditions covered), 1
otherwise, 2 usage or I/O error.
`

func runTest(ctx context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "test", testUsage)
	format := fset.String("format", "text", "output format: text, github, json, sarif or junit")
	minCov := fset.Float64("min-coverage", 0, "fail when fewer than this percentage of rules are exercised, or of any rule's conditions are covered (0-100)")
	run := fset.String("run", "", "run only the cases whose name matches this RE2 expression")
	limits := limitFlags(fset)
	paths, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
	}
	lim, err := limits()
	if err != nil {
		return fail(env.Stderr, "test", err)
	}
	if *minCov < 0 || *minCov > 100 {
		return fail(env.Stderr, "test", fmt.Errorf("--min-coverage %v: give a percentage from 0 to 100", *minCov))
	}
	if _, err := report.New(*format); err != nil {
		return fail(env.Stderr, "test", err)
	}
	if _, err := policytest.Select(&policy.Set{}, *run); err != nil {
		return fail(env.Stderr, "test", err)
	}
	if t, err := treeArg(env, paths); err != nil || t != nil {
		if err != nil {
			return fail(env.Stderr, "test", err)
		}
		return testTree(ctx, env, lim, t, *format, *minCov, *run)
	}
	l, done, err := loadPolicies(ctx, env, lim, paths)
	if err != nil {
		return fail(env.Stderr, "test", err)
	}
	defer done()
	r := &report.Report{Command: "test", Files: l.files.All(), Diagnostics: l.diags, Rules: checkRules()}
	if l.set == nil {
		if err := output(env, *format, r); err != nil {
			return fail(env.Stderr, "test", err)
		}
		if malformed(l.diags) {
			return ExitUsage
		}
		return ExitFindings
	}
	set, _ := policytest.Select(l.set, *run)
	res := policytest.Run(set)
	conds := policytest.Conditions(set)
	r.Diagnostics = append(policytest.Diagnostics(set, res), policytest.ConditionDiagnostics(conds, *minCov)...)
	lint.Sort(r.Diagnostics)
	passed, failed := res.Counts()
	pct, covered, total := policytest.ConditionPercent(conds)
	r.Tests = &report.Tests{Passed: passed, Failed: failed, Rules: len(res.Rules), Uncovered: res.Uncovered,
		Coverage: res.Coverage(), MinCoverage: *minCov, Conditions: total, ConditionsCovered: covered, ConditionCoverage: pct,
		PerRule: policytest.FormatCoverage(conds)}
	for _, c := range res.Cases {
		rc := report.Case{Name: c.Name, File: c.Pos.File, Line: c.Pos.Line}
		if !c.Passed() {
			rc.Failure = strings.Join(c.Failures, "; ") + prefixed("; ", c.Explain)
		}
		r.Tests.Cases = append(r.Tests.Cases, rc)
	}
	if err := output(env, *format, r); err != nil {
		return fail(env.Stderr, "test", err)
	}
	if failed > 0 || res.Coverage() < *minCov || atOrAbove(r.Diagnostics, policy.SeverityError) {
		return ExitFindings
	}
	return ExitOK
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// testTree is `jitkey test` of a policy tree (see policyTree): every case
// of every directory decided as a mint would, with the organisation policy
// and each repository's consent.
func testTree(ctx context.Context, env Env, lim policy.Limits, t *policyTree, format string, minCov float64, run string) int {
	r, lt, err := treeReport(ctx, env, lim, t, "test")
	if err != nil {
		return fail(env.Stderr, "test", err)
	}
	res, ok := runTreeTests(r, lt, minCov, run)
	if err := output(env, format, r); err != nil {
		return fail(env.Stderr, "test", err)
	}
	if !ok {
		if malformed(r.Diagnostics) {
			return ExitUsage
		}
		return ExitFindings
	}
	if _, failed := res.Counts(); failed > 0 || res.Coverage() < minCov || atOrAbove(r.Diagnostics, policy.SeverityError) {
		return ExitFindings
	}
	return ExitOK
}
