package policydiff

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

// Result is everything a reviewer gates on: what the change newly grants,
// each rule before and after, and the jobs that move from one rule to
// another, every item positioned on a line the change touched when there
// is one.
type Result struct {
	Grants []Change
	Rows   []Row
	Moves  []Move
}

// Row is one rule that the change added, removed, changed or moved.
type Row struct {
	Rule          string
	Pos           policy.Pos // in the head; in the base for a removed rule
	Status        string     // "added", "removed", "changed" or "moved"
	Before, After Side       // zero on the side where the rule does not exist
}

// Side is a rule's match, repositories and permissions, as text.
type Side struct {
	Match        string
	Repositories string
	Permissions  string
}

// Move is a set of jobs that one rule decided in the base and another
// decides in the head (To is "" when they are now denied).
type Move struct {
	From, To string
	Pos      policy.Pos
	Wider    bool // To grants more than From did; the grant is also in Result.Grants
	Sentence string
}

// Compare is Diff with the per-rule table and the moves, every position
// placed on a changed line of the head (hunks from git diff -U0; nil
// keeps the rules' own positions).
func Compare(base, head *policy.Set, hunks Hunks) Result {
	if head == nil {
		return Result{}
	}
	if base == nil {
		base = &policy.Set{}
	}
	pl := newPlacer(base, head, hunks)
	headAt := map[string]policy.Pos{}
	for _, r := range head.Rules {
		headAt[r.Name] = r.Pos
	}
	res := Result{Grants: Diff(base, head), Rows: rows(base, head), Moves: moves(base, head)}
	for i := range res.Grants {
		c := &res.Grants[i]
		c.Pos = pl.place(c.Pos, headAt[c.Cause], c.Cause)
	}
	for i := range res.Rows {
		r := &res.Rows[i]
		if r.Status == "removed" {
			if at, ok := pl.removed(r.Rule); ok {
				r.Pos = at
			}
			continue
		}
		r.Pos = pl.place(r.Pos, policy.Pos{}, "")
	}
	for i := range res.Moves {
		m := &res.Moves[i]
		m.Pos = pl.place(m.Pos, headAt[m.From], m.From)
	}
	return res
}

func side(r policy.Rule) Side {
	var conds []string
	for _, c := range r.Match {
		parts := slices.Clone(c.Values)
		for _, p := range c.Patterns {
			parts = append(parts, "/"+p+"/")
		}
		conds = append(conds, c.Claim+": "+strings.Join(parts, " or "))
	}
	if r.RequireVerified {
		conds = append(conds, "verified only")
	}
	if len(conds) == 0 {
		conds = []string{"any job"}
	}
	var repos []string
	switch {
	case r.Grant.AllRepositories:
		repos = []string{"every repository"}
	default:
		repos = slices.Sorted(slices.Values(grantNames(r.Grant)))
		if r.Grant.Caller {
			repos = append([]string{"caller"}, repos...)
		}
	}
	var perms []string
	for _, k := range slices.Sorted(maps.Keys(r.Grant.Permissions)) {
		perms = append(perms, k+": "+r.Grant.Permissions[k])
	}
	return Side{Match: strings.Join(conds, "; "), Repositories: strings.Join(repos, ", "), Permissions: strings.Join(perms, ", ")}
}

// rows lists the rules the change added, removed or changed, and those
// whose order relative to the rules both sides have changed (the first
// matching rule decides, so order is part of the grant), in head order,
// removed rules last.
func rows(base, head *policy.Set) []Row {
	old, now := index(base.Rules), index(head.Rules)
	var common []string
	for _, r := range base.Rules {
		if _, ok := now[r.Name]; ok && !slices.Contains(common, r.Name) {
			common = append(common, r.Name)
		}
	}
	var headOrder []string
	for _, r := range head.Rules {
		if _, ok := old[r.Name]; ok && !slices.Contains(headOrder, r.Name) {
			headOrder = append(headOrder, r.Name)
		}
	}
	var out []Row
	for _, r := range head.Rules {
		bi, ok := old[r.Name]
		if !ok {
			out = append(out, Row{Rule: r.Name, Pos: r.Pos, Status: "added", After: side(r)})
			continue
		}
		before, after := side(base.Rules[bi]), side(r)
		switch {
		case before != after:
			out = append(out, Row{Rule: r.Name, Pos: r.Pos, Status: "changed", Before: before, After: after})
		case slices.Index(common, r.Name) != slices.Index(headOrder, r.Name):
			out = append(out, Row{Rule: r.Name, Pos: r.Pos, Status: "moved", Before: before, After: after})
		}
	}
	for _, r := range base.Rules {
		if _, ok := now[r.Name]; !ok {
			out = append(out, Row{Rule: r.Name, Pos: r.Pos, Status: "removed", Before: side(r)})
		}
	}
	return out
}

// moves finds the jobs that change hands: a job rule p decided in the
// base (p came before h there, or h is new) that rule h decides in the
// head (h now comes before p, p was removed, or p was narrowed), for
// every h whose match may overlap p's. Jobs of a removed or narrowed p
// that no head rule covers entirely may now be denied.
func moves(base, head *policy.Set) []Move {
	old, now := index(base.Rules), index(head.Rules)
	inf := int(^uint(0) >> 1)
	at := func(m map[string]int, name string) int {
		if i, ok := m[name]; ok {
			return i
		}
		return inf
	}
	var out []Move
	for bi, p := range base.Rules {
		if old[p.Name] != bi {
			continue
		}
		hp := at(now, p.Name)
		narrowed := hp != inf && !lint.Covers(head.Rules[hp], p)
		if hp == inf || narrowed {
			covered := false
			for _, h := range head.Rules {
				if h.Name != p.Name && lint.Covers(h, p) {
					covered = true
				}
			}
			if !covered {
				why := "it was removed"
				if narrowed {
					why = "it was narrowed"
				}
				pos := p.Pos
				if narrowed {
					pos = head.Rules[hp].Pos
				}
				out = append(out, Move{From: p.Name, Pos: pos, Sentence: fmt.Sprintf(
					"some jobs rule %q decided in the base may now be denied, or decided by a rule further down: %s", p.Name, why)})
			}
		}
		for hi, h := range head.Rules {
			if h.Name == p.Name || now[h.Name] != hi || at(old, h.Name) < bi || !overlap(p, h) {
				continue
			}
			var why string
			switch {
			case hp == inf:
				why = fmt.Sprintf("%q was removed", p.Name)
			case hi < hp && at(old, h.Name) == inf:
				why = fmt.Sprintf("new rule %q comes before %q", h.Name, p.Name)
			case hi < hp:
				why = fmt.Sprintf("%q now comes before %q", h.Name, p.Name)
			case narrowed:
				why = fmt.Sprintf("%q was narrowed", p.Name)
			default:
				continue
			}
			parts := exceeding(p.Grant, h.Grant)
			grants := fmt.Sprintf("rule %q grants no more than %q did", h.Name, p.Name)
			if len(parts) > 0 {
				grants = fmt.Sprintf("rule %q grants more: %s", h.Name, strings.Join(parts, ", and "))
			}
			out = append(out, Move{From: p.Name, To: h.Name, Pos: h.Pos, Wider: len(parts) > 0, Sentence: fmt.Sprintf(
				"%s that rule %q decided in the base now go to rule %q (%s); %s", jobsOf(p), p.Name, h.Name, why, grants)})
		}
	}
	return out
}

// jobsOf names the jobs a rule matches: "jobs of workflow W in R ..." or
// "jobs in R ...".
func jobsOf(r policy.Rule) string {
	w := strings.TrimSuffix(who(r), ",")
	if rest, ok := strings.CutPrefix(w, "any workflow"); ok {
		return "jobs" + rest
	}
	return "jobs of " + w
}
