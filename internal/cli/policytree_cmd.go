package cli

import (
	"context"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/report"
)

// treeReport validates a policy tree: each directory loaded and linted as
// its own set, and the checks between them.
func treeReport(ctx context.Context, env Env, lim policy.Limits, t *policyTree, command string) (*report.Report, *loadedTree, error) {
	r, lt, done, err := treeReportOpen(ctx, env, lim, t, command)
	if err != nil {
		return nil, nil, err
	}
	done()
	return r, lt, nil
}

// treeReportOpen is treeReport that keeps the tree's files open until done
// is called (the grant diff reads them again).
func treeReportOpen(ctx context.Context, env Env, lim policy.Limits, t *policyTree, command string) (*report.Report, *loadedTree, func(), error) {
	lt, done, err := loadTree(ctx, env, lim, t)
	if err != nil {
		return nil, nil, nil, err
	}
	r := &report.Report{Command: command, Files: lt.files, Diagnostics: lt.diags, Rules: checkRules()}
	for i, ts := range lt.sets {
		if s := ts.l.set; s != nil {
			r.Diagnostics = append(r.Diagnostics, lint.Waive(lint.LintHeld(s, lt.holder(i)), s, env.Now())...)
		}
	}
	lint.Sort(r.Diagnostics)
	return r, lt, done, nil
}

// runTreeTests runs a tree's cases (those whose name matches run, when
// given) through the consent decision.
func runTreeTests(r *report.Report, lt *loadedTree, minCov float64, run string) (policytest.Result, bool) {
	p := lt.policies()
	if p == nil {
		return policytest.Result{}, false
	}
	sets := lt.loadedSets()
	selected, err := policytest.Select(&policy.Set{Tests: lt.tests()}, run)
	if err != nil {
		return policytest.Result{}, false
	}
	res := policytest.RunScope(*p, sets, selected.Tests)
	all := &policy.Set{}
	for _, s := range sets {
		all.Rules = append(all.Rules, s.Rules...)
	}
	conds := policytest.ConditionsScope(*p, sets, selected.Tests)
	r.Diagnostics = append(r.Diagnostics, policytest.Diagnostics(all, res)...)
	r.Diagnostics = append(r.Diagnostics, policytest.ConditionDiagnostics(conds, minCov)...)
	lint.Sort(r.Diagnostics)
	passed, failed := res.Counts()
	pct, covered, total := policytest.ConditionPercent(conds)
	r.Tests = &report.Tests{Passed: passed, Failed: failed, Rules: len(res.Rules), Uncovered: res.Uncovered,
		Coverage: res.Coverage(), MinCoverage: minCov, Conditions: total, ConditionsCovered: covered, ConditionCoverage: pct,
		PerRule: policytest.FormatCoverage(conds)}
	for _, c := range res.Cases {
		rc := report.Case{Name: c.Name, File: c.Pos.File, Line: c.Pos.Line}
		if !c.Passed() {
			rc.Failure = strings.Join(c.Failures, "; ")
		}
		r.Tests.Cases = append(r.Tests.Cases, rc)
	}
	return res, true
}
