package policytest

import (
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// RunScope runs the cases of a policy tree (tests, from every directory)
// through the organisation-and-consent decision over p, as a mint would,
// with the claims a real token carries derived first (Claims.Complete);
// sets are every loaded set, for coverage: a rule counts as exercised when
// it allowed some repository of an allowed case.
func RunScope(p policy.Policies, sets []*policy.Set, tests []policy.TestCase) Result {
	var res Result
	hit := map[string]bool{}
	for _, tc := range tests {
		claims := tc.Claims
		derived := claims.Complete()
		d := policy.DecideScope(p, claims, tc.Request)
		if d.Allowed {
			hit[d.Rule] = true
			for _, c := range d.Consents {
				hit[c.Rule] = true
			}
		}
		res.Cases = append(res.Cases, Case{Name: tc.Name, Pos: tc.Pos, Decision: d, Failures: compare(tc.Expect, d), Derived: derived})
	}
	seen := map[string]bool{}
	for _, s := range sets {
		res.tally(s.Rules, hit, seen)
	}
	return res
}

// ConditionsScope is Conditions for a policy tree: for each condition of
// each rule of every set (requireVerified included), the condition is
// covered when a case that passes on the tree as written fails once the
// condition is removed from its rule. A rule of a tree can decide a case
// as the caller's scope or as a repository's consent, so every passing
// case is decided again for every mutant (the sets are small: a few dozen
// conditions and cases, microseconds each).
//
// One kind of condition no test can pin down is counted as covered, by
// the place the rule lives: in repository R's own policy, a rule whose
// grant reaches R only through "caller" decides for R's own jobs alone
// (as their scope, or as R's consent to them), so its repository
// condition admitting R changes no decision when removed. Its By says so.
func ConditionsScope(p policy.Policies, sets []*policy.Set, tests []policy.TestCase) []RuleCoverage {
	var passing []policy.TestCase
	for _, tc := range tests {
		tc.Claims.Complete()
		if len(compare(tc.Expect, policy.DecideScope(p, tc.Claims, tc.Request))) == 0 {
			passing = append(passing, tc)
		}
	}
	var out []RuleCoverage
	for _, s := range sets {
		rcs := skeleton(s)
		holder := holderOf(p, s)
		for i := range rcs {
			for j := range rcs[i].Conditions {
				if c := rcs[i].Conditions[j]; holder != "" && c.Claim == "repository" && onlyOwnJobs(s.Rules[i], holder) {
					rcs[i].Conditions[j].Covered, rcs[i].Conditions[j].By = true, "(implied: a rule of "+holder+"'s policy granting it only as \"caller\" decides for its own jobs alone)"
					continue
				}
				m := withSet(p, s, mutant(s, i, j))
				for _, tc := range passing {
					if len(compare(tc.Expect, policy.DecideScope(m, tc.Claims, tc.Request))) > 0 {
						rcs[i].Conditions[j].Covered, rcs[i].Conditions[j].By = true, tc.Name
						break
					}
				}
			}
		}
		out = append(out, rcs...)
	}
	return out
}

// withSet returns p with set old (the organisation's or a repository's)
// replaced by repl.
func withSet(p policy.Policies, old, repl *policy.Set) policy.Policies {
	if p.Org == old {
		p.Org = repl
	}
	repos := make(map[string]*policy.Set, len(p.Repos))
	for k, s := range p.Repos {
		if s == old {
			s = repl
		}
		repos[k] = s
	}
	p.Repos = repos
	return p
}

// holderOf is the repository whose own policy s is, lower case; "" for
// the organisation policy or a set p does not hold.
func holderOf(p policy.Policies, s *policy.Set) string {
	for k, rs := range p.Repos {
		if rs == s && s != p.Org {
			return k
		}
	}
	return ""
}

// onlyOwnJobs reports whether rule r of holder's own policy can only ever
// decide for holder's own jobs: its repository condition admits holder,
// and its grant reaches holder only as "caller" (not by name, ID or "*").
func onlyOwnJobs(r policy.Rule, holder string) bool {
	g := r.Grant
	if !g.Caller || g.AllRepositories || len(g.RepositoryIDs) > 0 {
		return false
	}
	for _, name := range g.Repositories {
		if strings.EqualFold(name, holder) || name == "*" {
			return false
		}
	}
	for _, c := range r.Match {
		if c.Claim == "repository" {
			return c.Admits(holder) || slices.ContainsFunc(c.Values, func(v string) bool { return strings.EqualFold(v, holder) })
		}
	}
	return false
}
