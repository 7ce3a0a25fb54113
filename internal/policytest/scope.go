package policytest

import "github.com/jitkey/jitkey/internal/policy"

// RunScope runs the cases of a policy tree (tests, from every directory)
// through the organisation-and-consent decision over p, as a mint would;
// sets are every loaded set, for coverage: a rule counts as exercised when
// it allowed some repository of an allowed case.
func RunScope(p policy.Policies, sets []*policy.Set, tests []policy.TestCase) Result {
	var res Result
	hit := map[string]bool{}
	for _, tc := range tests {
		d := policy.DecideScope(p, tc.Claims, tc.Request)
		if d.Allowed {
			hit[d.Rule] = true
			for _, c := range d.Consents {
				hit[c.Rule] = true
			}
		}
		res.Cases = append(res.Cases, Case{Name: tc.Name, Pos: tc.Pos, Decision: d, Failures: compare(tc.Expect, d)})
	}
	seen := map[string]bool{}
	for _, s := range sets {
		res.tally(s.Rules, hit, seen)
	}
	return res
}
