// Package policydiff says, rule by rule and in plain sentences, what a
// changed policy set grants that its base did not: new rules, wider
// matches, more permissions or repositories, a raised ceiling, and jobs
// that a rule now decides because an earlier rule of the base that decided
// them was removed, moved below it or narrowed (the first matching rule
// decides, so order is part of the grant). Narrowing changes that take
// nothing new are not reported.
package policydiff

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

// Change is one thing the head grants that the base did not.
type Change struct {
	Rule     string // the rule, or "ceiling"
	Pos      policy.Pos
	Sentence string
	// Cause is the base rule whose removal, move or narrowing lets Rule
	// decide jobs it did not ("" when Rule itself changed).
	Cause string
	// PolicyChange marks a change to who may change policies (Rule is the
	// rule, or "organization" for the organisation settings).
	PolicyChange bool
}

// Diff compares head with base; a nil base is an empty set, so every rule
// of head is new.
func Diff(base, head *policy.Set) []Change {
	if head == nil {
		return nil
	}
	if base == nil {
		base = &policy.Set{}
	}
	old, now := index(base.Rules), index(head.Rules)
	fates := fate(base.Rules, head.Rules, now)
	var out []Change
	for hi, r := range head.Rules {
		bi, ok := old[r.Name]
		if !ok {
			out = append(out, Change{Rule: r.Name, Pos: r.Pos,
				Sentence: fmt.Sprintf("this change lets %s %s (new rule %q)", who(r), grantText(r.Grant.Permissions, r.Grant), r.Name)})
			continue
		}
		if c, ok := changed(base.Rules[bi], r); ok {
			out = append(out, c)
		}
		out = append(out, displaced(base.Rules[:bi], fates, head.Rules, hi)...)
	}
	if c, ok := ceiling(base.Ceiling, head.Ceiling); ok {
		out = append(out, c)
	}
	return out
}

// index maps each rule name to the index of its first rule.
func index(rules []policy.Rule) map[string]int {
	out := make(map[string]int, len(rules))
	for i, r := range rules {
		if _, ok := out[r.Name]; !ok {
			out[r.Name] = i
		}
	}
	return out
}

// counterpart is what became of a base rule in the head: At is the index
// of the head rule of the same name, -1 when it was removed; Covers says
// whether that rule still matches every job the base rule matched.
type counterpart struct {
	At     int
	Covers bool
}

func fate(base, head []policy.Rule, now map[string]int) []counterpart {
	out := make([]counterpart, len(base))
	for i, p := range base {
		out[i].At = -1
		if pi, ok := now[p.Name]; ok {
			out[i] = counterpart{At: pi, Covers: lint.Covers(head[pi], p)}
		}
	}
	return out
}

// displaced reports the jobs head rule h = head[hi] now decides that an
// earlier base rule decided. The first matching rule decides, so a job
// matching both h and a base rule p that came before h's counterpart got
// p's grant; it gets h's now when p no longer comes before h covering
// what it matched: p was removed, moved below h, or narrowed. Each such p
// whose match may overlap h's and whose grant h's exceeds is one change.
func displaced(before []policy.Rule, fates []counterpart, head []policy.Rule, hi int) []Change {
	h := head[hi]
	var out []Change
	for i, p := range before {
		var why string
		switch f := fates[i]; {
		case f.At < 0:
			why = fmt.Sprintf("%q was removed", p.Name)
		case f.At > hi:
			why = fmt.Sprintf("%q was moved below %q", p.Name, h.Name)
		case !f.Covers:
			why = fmt.Sprintf("%q was narrowed", p.Name)
		default:
			continue // p still comes first and matches all it matched
		}
		if !overlap(p, h) {
			continue
		}
		parts := exceeding(p.Grant, h.Grant)
		if len(parts) == 0 {
			continue
		}
		out = append(out, Change{Rule: h.Name, Pos: h.Pos, Cause: p.Name, Sentence: fmt.Sprintf(
			"this change lets %s %s (rule %q now decides jobs that rule %q decided in the base: %s)",
			who(h), strings.Join(parts, ", and "), h.Name, p.Name, why)})
	}
	return out
}

// overlap reports whether some job may match both a and b. It says no only
// when, for some claim, no value can meet both rules' conditions: exact
// values on both sides with none in common (ref_protected true against
// false included), or exact values on one side that the other side neither
// lists nor matches with a pattern. Patterns on both sides count as
// overlapping, and so does everything else: the answer errs on "yes".
//
// What a rule's conditions imply counts too (lint.Implied): a rule on
// repository "acme/api" and one on repository_owner "other" cannot overlap.
func overlap(a, b policy.Rule) bool {
	for _, pair := range [2][2]policy.Rule{{a, b}, {b, a}} {
		for _, ca := range pair[0].Match {
			if cb, ok := lint.Implied(pair[1], ca.Claim); ok && !meet(ca, cb) {
				return false
			}
		}
	}
	return true
}

func meet(a, b policy.Condition) bool {
	if len(a.Patterns) > 0 && len(b.Patterns) > 0 {
		return true
	}
	for _, v := range a.Values {
		if b.Admits(v) {
			return true
		}
	}
	for _, v := range b.Values {
		if a.Admits(v) {
			return true
		}
	}
	return false
}

// exceeding describes what grant r gives beyond grant b: permissions at a
// higher level (on r's repositories), and repositories b did not grant
// (with r's permissions). It is empty when r gives nothing beyond b.
func exceeding(b, r policy.Grant) []string {
	raised := map[string]string{}
	for name, level := range r.Permissions {
		if had, ok := b.Permissions[name]; !ok || !policy.LevelAtMost(level, had) {
			raised[name] = level
		}
	}
	var parts []string
	if len(raised) > 0 {
		parts = append(parts, levels(raised)+repositories(r))
	}
	if repos := newRepositories(b, r); !repos.empty() && len(r.Permissions) > 0 {
		parts = append(parts, levels(r.Permissions)+repos.of())
	}
	return parts
}

func changed(b, r policy.Rule) (Change, bool) {
	var wider []string
	if b.RequireVerified && !r.RequireVerified {
		wider = append(wider, "claims that were not verified through OIDC")
	}
	if !lint.Covers(anyVerification(b), r) { // verification is said above
		wider = append(wider, widened(b, r)...)
	}
	if len(wider) > 0 {
		return Change{Rule: r.Name, Pos: r.Pos, Sentence: fmt.Sprintf("this change lets %s %s (rule %q now also matches %s)",
			who(r), grantText(r.Grant.Permissions, r.Grant), r.Name, strings.Join(wider, "; "))}, true
	}
	parts := exceeding(b.Grant, r.Grant)
	if len(parts) == 0 {
		return Change{}, false
	}
	return Change{Rule: r.Name, Pos: pos(r.Grant.Pos, r.Pos), Sentence: fmt.Sprintf("this change lets %s %s (rule %q)",
		who(r), strings.Join(parts, ", and "), r.Name)}, true
}

// anyVerification returns r without its requireVerified.
func anyVerification(r policy.Rule) policy.Rule {
	r.RequireVerified = false
	return r
}

// widened describes how r's match admits jobs b's did not.
func widened(b, r policy.Rule) []string {
	var out []string
	for _, cb := range b.Match {
		cr, ok := condition(r, cb.Claim)
		if !ok {
			out = append(out, "any "+cb.Claim)
			continue
		}
		var more []string
		for _, v := range cr.Values {
			if !slices.Contains(cb.Values, v) {
				more = append(more, v)
			}
		}
		for _, p := range cr.Patterns {
			if !slices.Contains(cb.Patterns, p) {
				more = append(more, "/"+p+"/")
			}
		}
		if len(more) > 0 {
			out = append(out, cb.Claim+" "+strings.Join(more, " or "))
		}
	}
	if len(out) == 0 {
		out = append(out, "more jobs")
	}
	return out
}

type repoDelta struct {
	names  []string
	caller bool
	all    bool
}

func (d repoDelta) empty() bool { return len(d.names) == 0 && !d.caller && !d.all }

// of names the new repositories: " of acme/web".
func (d repoDelta) of() string {
	return repositories(policy.Grant{Repositories: d.names, Caller: d.caller, AllRepositories: d.all})
}

func newRepositories(b, r policy.Grant) repoDelta {
	var d repoDelta
	had := grantNames(b)
	for _, name := range grantNames(r) {
		if !slices.Contains(had, name) && !b.AllRepositories {
			d.names = append(d.names, name)
		}
	}
	d.caller = r.Caller && !b.Caller && !b.AllRepositories
	d.all = r.AllRepositories && !b.AllRepositories
	return d
}

func ceiling(b, r *policy.Ceiling) (Change, bool) {
	if r == nil {
		if b != nil {
			return Change{Rule: "ceiling", Sentence: "this change removes the organisation ceiling, so rules may grant any permission on any repository"}, true
		}
		return Change{}, false
	}
	if b == nil {
		return Change{}, false // a new ceiling only takes away
	}
	raised := map[string]string{}
	if b.Permissions != nil {
		for name, level := range r.Permissions {
			if had, ok := b.Permissions[name]; !ok || !policy.LevelAtMost(level, had) {
				raised[name] = level
			}
		}
	}
	var repos []string
	had, now := ceilingNames(b), ceilingNames(r)
	if len(had) > 0 {
		for _, name := range now {
			if !slices.Contains(had, name) {
				repos = append(repos, name)
			}
		}
	}
	var parts []string
	if len(raised) > 0 {
		parts = append(parts, "rules may now "+levels(raised))
	}
	if len(repos) > 0 {
		parts = append(parts, "rules may now grant "+strings.Join(repos, ", "))
	}
	if (b.Permissions != nil && r.Permissions == nil) || (len(had) > 0 && len(now) == 0) {
		parts = append(parts, "a limit of the ceiling is gone")
	}
	if len(parts) == 0 {
		return Change{}, false
	}
	return Change{Rule: "ceiling", Pos: r.Pos, Sentence: "this change raises the organisation ceiling: " + strings.Join(parts, "; ")}, true
}

func condition(r policy.Rule, claim string) (policy.Condition, bool) {
	for _, c := range r.Match {
		if c.Claim == claim {
			return c, true
		}
	}
	return policy.Condition{}, false
}

func pos(p, fallback policy.Pos) policy.Pos {
	if p.File == "" || p.Line == 0 {
		return fallback
	}
	return p
}

// describe renders a condition: `a or b or matching /p/`.
func describe(c policy.Condition) string {
	parts := slices.Clone(c.Values)
	for _, p := range c.Patterns {
		parts = append(parts, "matching /"+p+"/")
	}
	return strings.Join(parts, " or ")
}

// who says which jobs a rule matches: "workflow W in repository R on ref
// F in environment E".
func who(r policy.Rule) string {
	var b strings.Builder
	wf := "any workflow"
	if c, ok := condition(r, "job_workflow_ref"); ok {
		wf = "reusable workflow " + describe(c)
	} else if c, ok := condition(r, "workflow_ref"); ok {
		wf = "workflow " + describe(c)
	}
	b.WriteString(wf)
	phrases := []struct{ claim, format string }{
		{"repository", " in %s"},
		{"repository_owner", " owned by %s"},
		{"event_name", " on %s events"},
		{"ref_type", " on a %s"},
		{"ref", " on ref %s"},
		{"environment", " in environment %s"},
		{"actor", " run by %s"},
		{"runner_environment", " on %s runners"},
	}
	hasRef := false
	for _, p := range phrases {
		if c, ok := condition(r, p.claim); ok {
			fmt.Fprintf(&b, p.format, describe(c))
			hasRef = hasRef || p.claim == "ref"
		}
	}
	if !hasRef {
		b.WriteString(" on any ref")
	}
	if c, ok := condition(r, "ref_protected"); ok && !slices.Contains(c.Values, "false") && len(c.Patterns) == 0 {
		b.WriteString(" (protected refs only)")
	}
	if !r.RequireVerified {
		b.WriteString(", even without a verified OIDC identity,")
	}
	return b.String()
}

// levels renders permissions grouped by level: "write contents and
// deployments and read metadata".
func levels(perms map[string]string) string {
	var parts []string
	for _, level := range []string{"admin", "write", "read"} {
		var names []string
		for _, name := range slices.Sorted(maps.Keys(perms)) {
			if perms[name] == level {
				names = append(names, name)
			}
		}
		if len(names) > 0 {
			parts = append(parts, level+" "+strings.Join(names, ", "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(perms)) {
		if l := perms[name]; l != "admin" && l != "write" && l != "read" {
			parts = append(parts, l+" "+name)
		}
	}
	if len(parts) == 0 {
		return "get a token without permissions"
	}
	return strings.Join(parts, " and ")
}

func grantText(perms map[string]string, g policy.Grant) string {
	return levels(perms) + repositories(g)
}

// repositories renders " of acme/api, acme/infra and the calling repository".
func repositories(g policy.Grant) string {
	if g.AllRepositories {
		return " of every repository of the installation"
	}
	names := grantNames(g)
	slices.Sort(names)
	if g.Caller {
		names = append(names, "the calling repository")
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return " of " + names[0]
	}
	return " of " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// grantNames are the repositories a grant names: "owner/name", and
// "{id: N}" for those named by ID.
func grantNames(g policy.Grant) []string {
	out := slices.Clone(g.Repositories)
	for _, id := range g.RepositoryIDs {
		out = append(out, policy.IDName(id))
	}
	return out
}

// ceilingNames are the repositories a ceiling lists, by name and by ID.
func ceilingNames(c *policy.Ceiling) []string {
	return grantNames(policy.Grant{Repositories: c.Repositories, RepositoryIDs: c.RepositoryIDs})
}
