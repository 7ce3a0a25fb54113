// Package lint finds what a policy set allows that the schema cannot
// forbid: rules shadowed by earlier rules, and over-broad grants (write on
// pull requests or unprotected refs, write on branches to any event, write
// without a ref or environment constraint, every repository, admin levels). Every finding is positioned
// in the policy file. What the loader already refuses (unknown permissions,
// duplicate names, grants above the ceiling) is not repeated here.
package lint

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// The finding codes, one per check.
const (
	CodeDuplicateRule      = "duplicate-rule"
	CodeShadowedRule       = "shadowed-rule"
	CodeWriteOnPullRequest = "write-on-pull-request"
	CodeWriteUnprotected   = "write-unprotected-ref"
	CodeWriteAnyEvent      = "write-any-event"
	CodeWriteUnconstrained = "write-unconstrained"
	CodeWriteUnverified    = "write-unverified"
	CodeAllRepositories    = "all-repositories"
	CodeAdminLevel         = "admin-level"
)

// CheckInfo describes each check: its code, default severity and a one-line
// description (the SARIF rule list and the documentation use it).
type CheckInfo struct {
	Code        string
	Severity    policy.Severity
	Description string
}

// Checks lists every check lint runs.
func Checks() []CheckInfo {
	return append([]CheckInfo{
		{CodeDuplicateRule, policy.Severity("warning"), "a rule matches exactly the jobs an earlier rule matches and grants the same"},
		{CodeShadowedRule, policy.Severity("warning"), "an earlier rule matches every job this rule matches, so this rule never decides"},
		{CodeWriteOnPullRequest, policy.Severity("error"), "write or admin granted to pull_request or pull_request_target jobs, which run code not yet reviewed"},
		{CodeWriteUnprotected, policy.Severity("warning"), "write or admin granted on refs that may be unprotected, without an environment"},
		{CodeWriteAnyEvent, policy.Severity("warning"), "write or admin granted on branches to any event, without an environment: pull_request_target and workflow_run jobs carry the base branch's ref and match too"},
		{CodeWriteUnconstrained, policy.Severity("error"), "write or admin granted with neither a ref nor an environment constraint"},
		{CodeWriteUnverified, policy.Severity("warning"), "write or admin granted to claims that were not verified through OIDC"},
		{CodeAllRepositories, policy.Severity("error"), "a grant to every repository of the installation"},
		{CodeAdminLevel, policy.Severity("warning"), "an admin permission level"},
	}, slices.Concat(claimChecks(), guardChecks(), waiverChecks())...)
}

func severity(code string) policy.Severity {
	for _, c := range Checks() {
		if c.Code == code {
			return c.Severity
		}
	}
	return policy.Severity("error")
}

// Lint returns the findings over s, sorted by position.
func Lint(s *policy.Set) []policy.Diagnostic {
	if s == nil {
		return nil
	}
	var out []policy.Diagnostic
	out = append(out, shadowing(s.Rules)...)
	for _, r := range s.Rules {
		out = append(out, grants(r)...)
		out = append(out, claimFindings(r)...)
	}
	Sort(out)
	return out
}

// Sort orders diagnostics by file, line, column, then code.
func Sort(ds []policy.Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Code < b.Code
	})
}

func diag(p policy.Pos, code, rule, format string, args ...any) policy.Diagnostic {
	return policy.Diagnostic{
		File: p.File, Line: p.Line, Col: p.Col, EndLine: p.Line, EndCol: p.Col,
		Severity: severity(code), Code: code, Rule: rule, Message: fmt.Sprintf(format, args...),
	}
}

func where(p policy.Pos) string {
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

func shadowing(rules []policy.Rule) []policy.Diagnostic {
	var out []policy.Diagnostic
	c := newCoverage(rules)
	reported := map[int]bool{}
	for i, a := range rules {
		for _, j := range c.candidates(i) {
			b := rules[j]
			if reported[j] || !c.covers(a, b) {
				continue
			}
			reported[j] = true
			if c.covers(b, a) && sameGrant(a.Grant, b.Grant) {
				out = append(out, diag(b.Pos, CodeDuplicateRule, b.Name,
					"rule %q duplicates rule %q (%s): same match, same grant; delete one", b.Name, a.Name, where(a.Pos)))
			} else {
				out = append(out, diag(b.Pos, CodeShadowedRule, b.Name,
					"rule %q never decides: rule %q (%s) comes first and matches every job it matches; move it before %q or narrow %q",
					b.Name, a.Name, where(a.Pos), a.Name, a.Name))
			}
		}
	}
	return out
}

// coverage answers Covers for the rules of one set without comparing every
// pair: rule a can only cover a later rule b that states, for a claim on
// which a lists exact values only, a subset of those values. Rules are
// indexed by the (claim, value) of such conditions.
type coverage struct {
	rules []policy.Rule
	index map[[2]string][]int // (claim, value) -> rules whose values-only condition on claim lists value
}

func newCoverage(rules []policy.Rule) *coverage {
	c := &coverage{rules: rules, index: map[[2]string][]int{}}
	for j, r := range rules {
		conds := slices.Clone(r.Match)
		for _, claim := range []string{"repository_owner", "ref_type"} {
			if _, explicit := condition(r, claim); !explicit {
				if c, ok := Implied(r, claim); ok {
					conds = append(conds, c)
				}
			}
		}
		for _, cond := range conds {
			if len(cond.Patterns) > 0 {
				continue
			}
			for _, v := range cond.Values {
				k := [2]string{cond.Claim, v}
				c.index[k] = append(c.index[k], j)
			}
		}
	}
	return c
}

// candidates returns the indices of the rules after i that rule i may
// cover, ascending.
func (c *coverage) candidates(i int) []int {
	var best *policy.Condition
	size := 0
	for k, cond := range c.rules[i].Match {
		if len(cond.Patterns) > 0 || len(cond.Values) == 0 {
			continue
		}
		n := 0
		for _, v := range cond.Values {
			n += len(c.index[[2]string{cond.Claim, v}])
		}
		if best == nil || n < size {
			best, size = &c.rules[i].Match[k], n
		}
	}
	var out []int
	if best == nil {
		for j := i + 1; j < len(c.rules); j++ {
			out = append(out, j)
		}
		return out
	}
	for _, v := range best.Values {
		for _, j := range c.index[[2]string{best.Claim, v}] {
			if j > i {
				out = append(out, j)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (c *coverage) covers(a, b policy.Rule) bool { return Covers(a, b) }

// Covers reports whether rule a matches every set of claims that rule b
// matches, judged from the conditions alone: each condition of a must be
// implied by b's condition on the same claim, or by what b's other
// conditions imply (Implied: repository implies repository_owner). It errs on the side of "no"
// when patterns are involved (a pattern of b is covered only by the same
// pattern in a).
func Covers(a, b policy.Rule) bool {
	if a.RequireVerified && !b.RequireVerified {
		return false
	}
	for _, ca := range a.Match {
		cb, ok := Implied(b, ca.Claim)
		if !ok {
			return false
		}
		for _, v := range cb.Values {
			if !ca.Admits(v) {
				return false
			}
		}
		for _, p := range cb.Patterns {
			if !slices.Contains(ca.Patterns, p) {
				return false
			}
		}
	}
	return true
}

func sameGrant(a, b policy.Grant) bool {
	ra, rb := slices.Clone(a.Repositories), slices.Clone(b.Repositories)
	slices.Sort(ra)
	slices.Sort(rb)
	ia, ib := slices.Sorted(slices.Values(a.RepositoryIDs)), slices.Sorted(slices.Values(b.RepositoryIDs))
	if !slices.Equal(ra, rb) || !slices.Equal(ia, ib) || a.Caller != b.Caller || a.AllRepositories != b.AllRepositories || len(a.Permissions) != len(b.Permissions) {
		return false
	}
	for k, v := range a.Permissions {
		if b.Permissions[k] != v {
			return false
		}
	}
	return true
}

// Implied returns the rule's condition on a claim, or the condition its
// other conditions imply: a repository "owner/name" implies its
// repository_owner, full refs imply their ref_type. A job in repository
// acme/api carries repository_owner acme whatever the rule says of it.
// (Its repository_id is fixed too, but not known from the policy.)
func Implied(r policy.Rule, claim string) (policy.Condition, bool) {
	if c, ok := condition(r, claim); ok {
		return c, true
	}
	var from string
	var derive func(string) (string, bool)
	switch claim {
	case "repository_owner":
		from = "repository"
		derive = func(v string) (string, bool) { owner, _, ok := strings.Cut(v, "/"); return owner, ok && owner != "" }
	case "ref_type":
		from = "ref"
		derive = func(v string) (string, bool) {
			switch {
			case strings.HasPrefix(v, "refs/heads/"):
				return "branch", true
			case strings.HasPrefix(v, "refs/tags/"):
				return "tag", true
			}
			return "", false
		}
	default:
		return policy.Condition{}, false
	}
	c, ok := condition(r, from)
	if !ok || len(c.Patterns) > 0 || len(c.Values) == 0 {
		return policy.Condition{}, false
	}
	out := policy.Condition{Claim: claim, Pos: c.Pos}
	for _, v := range c.Values {
		d, ok := derive(v)
		if !ok {
			return policy.Condition{}, false
		}
		if !slices.Contains(out.Values, d) {
			out.Values = append(out.Values, d)
		}
	}
	return out, true
}

// condition returns the rule's condition on a claim; a rule that states
// several conditions on one claim is treated by its first.
func condition(r policy.Rule, claim string) (policy.Condition, bool) {
	for _, c := range r.Match {
		if c.Claim == claim {
			return c, true
		}
	}
	return policy.Condition{}, false
}

// admits reports whether the rule's condition on claim (if any) accepts value.
func admits(r policy.Rule, claim, value string) bool {
	c, ok := condition(r, claim)
	return !ok || c.Admits(value)
}

func constrained(r policy.Rule, claim string) bool {
	_, ok := condition(r, claim)
	return ok
}

// writes returns the permissions the rule grants at write or admin, sorted.
func writes(g policy.Grant) []string {
	var out []string
	for name, level := range g.Permissions {
		if level == "write" || level == "admin" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func grants(r policy.Rule) []policy.Diagnostic {
	var out []policy.Diagnostic
	g := r.Grant
	gpos := pos(g.Pos, r.Pos)
	if g.AllRepositories || slices.Contains(g.Repositories, "*") {
		out = append(out, diag(gpos, CodeAllRepositories, r.Name,
			"rule %q grants every repository of the installation; name the repositories the job needs", r.Name))
	}
	var admin []string
	for name, level := range g.Permissions {
		if level == "admin" {
			admin = append(admin, name)
		}
	}
	if len(admin) > 0 {
		sort.Strings(admin)
		out = append(out, diag(gpos, CodeAdminLevel, r.Name,
			"rule %q grants admin on %s; grant write unless the job administers them", r.Name, strings.Join(admin, ", ")))
	}
	w := writes(g)
	if len(w) == 0 {
		return out
	}
	what := strings.Join(w, ", ")
	hasRef, hasEnv := constrained(r, "ref"), constrained(r, "environment")
	switch ev := pullRequestEvents(r); {
	case len(ev) > 0 && !hasRef && !constrained(r, "event_name"):
		env, _ := condition(r, "environment")
		out = append(out, diag(matchPos(r, "environment"), CodeWriteOnPullRequest, r.Name,
			"rule %q grants write on %s to every job in environment %s, %s jobs included, which run code not yet reviewed; add event_name: [\"push\", \"workflow_dispatch\"] or a protected ref",
			r.Name, what, describe(env), strings.Join(ev, " and ")))
	case len(ev) > 0:
		out = append(out, diag(matchPos(r, "event_name", "ref"), CodeWriteOnPullRequest, r.Name,
			"rule %q grants write on %s to %s jobs, which run code not yet reviewed; grant read only, or match push or deployment events",
			r.Name, what, strings.Join(ev, " and ")))
	case forkFinding(r, what, &out):
	case hasRef && !hasEnv && !constrained(r, "event_name") && mayBeBranch(r):
		out = append(out, diag(matchPos(r, "ref"), CodeWriteAnyEvent, r.Name,
			"rule %q grants write on %s to any event on its branches, pull_request_target and workflow_run jobs included: they carry the base branch's ref and often handle a pull request's code or artifacts; add event_name: [\"push\", \"workflow_dispatch\"] or an environment with required reviewers",
			r.Name, what))
	}
	switch {
	case !hasRef && !hasEnv:
		out = append(out, diag(r.Pos, CodeWriteUnconstrained, r.Name,
			"rule %q grants write on %s with neither a ref nor an environment constraint; match a protected ref or a deployment environment",
			r.Name, what))
	case !hasEnv && admits(r, "ref_protected", "false"):
		out = append(out, diag(matchPos(r, "ref_protected", "ref"), CodeWriteUnprotected, r.Name,
			"rule %q grants write on %s on refs that may be unprotected; add ref_protected: true or an environment with required reviewers",
			r.Name, what))
	}
	if !r.RequireVerified {
		out = append(out, diag(r.Pos, CodeWriteUnverified, r.Name,
			"rule %q grants write on %s without requiring a verified OIDC identity; set requireVerified: true", r.Name, what))
	}
	return out
}

// forkFinding appends forkSubject's finding, if any, and reports whether
// there was one (it takes the place of write-any-event's warning).
func forkFinding(r policy.Rule, what string, out *[]policy.Diagnostic) bool {
	d, ok := forkSubject(r, what)
	if ok {
		*out = append(*out, d)
	}
	return ok
}

// pullRequestEvents returns the pull request events the rule may match:
// those its event_name condition admits, or, without one, both when its ref
// condition admits a pull request's merge ref, or when it has no ref
// condition but an environment one (a pull request job may name any
// environment). A rule with neither ref nor environment is left to
// write-unconstrained.
func pullRequestEvents(r policy.Rule) []string {
	events := []string{"pull_request", "pull_request_target"}
	if constrained(r, "event_name") {
		var out []string
		for _, e := range events {
			if admits(r, "event_name", e) {
				out = append(out, e)
			}
		}
		return out
	}
	if constrained(r, "ref") && admits(r, "ref", "refs/pull/1/merge") {
		return events
	}
	if !constrained(r, "ref") && constrained(r, "environment") {
		return events
	}
	return nil
}

// branchPrefix starts every branch ref; pull_request_target and
// workflow_run jobs carry the base (or default) branch's.
const branchPrefix = "refs/heads/"

// mayBeBranch reports whether the rule may match a job on a branch: its
// ref_type condition, if any, admits "branch", and its ref condition lists
// a branch or has a pattern that may match one. A pattern is judged by the
// literal text it is anchored to (^refs/tags/ matches no branch); any
// other pattern may.
func mayBeBranch(r policy.Rule) bool {
	if constrained(r, "ref_type") && !admits(r, "ref_type", "branch") {
		return false
	}
	c, ok := condition(r, "ref")
	if !ok {
		return true
	}
	for _, v := range c.Values {
		if strings.HasPrefix(v, branchPrefix) {
			return true
		}
	}
	for _, p := range c.Patterns {
		prefix, anchored := anchoredPrefix(p)
		if !anchored || strings.HasPrefix(prefix, branchPrefix) || strings.HasPrefix(branchPrefix, prefix) {
			return true
		}
	}
	return false
}

// anchoredPrefix returns the literal text a pattern requires at the start
// of the value (^refs/tags/v... gives "refs/tags/v"), and false when the
// pattern is not anchored to literal text.
func anchoredPrefix(pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText ||
		re.Sub[1].Op != syntax.OpLiteral || re.Sub[1].Flags&syntax.FoldCase != 0 {
		return "", false
	}
	return string(re.Sub[1].Rune), true
}

// describe renders a condition's values and patterns: `a or /p/`.
func describe(c policy.Condition) string {
	parts := slices.Clone(c.Values)
	for _, p := range c.Patterns {
		parts = append(parts, "/"+p+"/")
	}
	return strings.Join(parts, " or ")
}

func matchPos(r policy.Rule, claims ...string) policy.Pos {
	for _, claim := range claims {
		if c, ok := condition(r, claim); ok {
			return pos(c.Pos, r.Pos)
		}
	}
	return r.Pos
}

func pos(p, fallback policy.Pos) policy.Pos {
	if p.File == "" || p.Line == 0 {
		return fallback
	}
	return p
}
