package cli

import (
	"context"
	"fmt"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/report"
)

const testUsage = `
Usage: jitkey test [--format text|github|json|sarif] [--min-coverage PCT] [PATH...]

Runs the policy test cases of the *_test.cue files beside the policies
through the same decision the mint makes, and reports rule coverage: the
rules no case exercises. PATH as for validate (default: policies).

Exit status: 0 all cases pass and coverage is at least --min-coverage,
1 otherwise, 2 usage or I/O error.
`

func runTest(_ context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "test", testUsage)
	format := fset.String("format", "text", "output format: text, github, json or sarif")
	minCov := fset.Float64("min-coverage", 0, "fail when fewer than this percentage of rules are exercised (0-100)")
	paths, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
	}
	if *minCov < 0 || *minCov > 100 {
		return fail(env.Stderr, "test", fmt.Errorf("--min-coverage %v: give a percentage from 0 to 100", *minCov))
	}
	if _, err := report.New(*format); err != nil {
		return fail(env.Stderr, "test", err)
	}
	l, done, err := loadPolicies(env, paths)
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
	res := policytest.Run(l.set)
	r.Diagnostics = policytest.Diagnostics(l.set, res)
	lint.Sort(r.Diagnostics)
	passed, failed := res.Counts()
	r.Tests = &report.Tests{Passed: passed, Failed: failed, Rules: len(res.Rules), Uncovered: res.Uncovered,
		Coverage: res.Coverage(), MinCoverage: *minCov}
	if err := output(env, *format, r); err != nil {
		return fail(env.Stderr, "test", err)
	}
	if failed > 0 || res.Coverage() < *minCov {
		return ExitFindings
	}
	return ExitOK
}
