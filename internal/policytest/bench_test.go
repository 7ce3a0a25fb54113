package policytest_test

import (
	"fmt"
	"testing"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
)

// benchSet is n rules, each for one repository and environment with
// four conditions, and one allowed and one denied case per rule.
func benchSet(n int) *policy.Set {
	s := &policy.Set{}
	for i := range n {
		repo, env := fmt.Sprintf("acme/repo-%d", i), fmt.Sprintf("env-%d", i)
		s.Rules = append(s.Rules, policy.Rule{Name: fmt.Sprintf("r%d", i), RequireVerified: true,
			Match: []policy.Condition{{Claim: "repository", Values: []string{repo}}, {Claim: "ref", Values: []string{"refs/heads/main"}},
				{Claim: "environment", Values: []string{env}}, {Claim: "event_name", Values: []string{"push", "workflow_dispatch"}}},
			Grant: policy.Grant{Caller: true, Permissions: map[string]string{"contents": "write"}}})
		c := policy.Claims{Repository: repo, Ref: "refs/heads/main", Environment: env, EventName: "push", Verified: true}
		s.Tests = append(s.Tests, policy.TestCase{Name: "allow " + repo, Claims: c, Expect: policy.Expectation{Allow: true}})
		c.Ref = "refs/heads/dev"
		s.Tests = append(s.Tests, policy.TestCase{Name: "deny " + repo, Claims: c, Expect: policy.Expectation{Allow: false}})
	}
	return s
}

// BenchmarkConditions compares condition coverage with the brute force it
// replaces (every case re-run for every condition removed) on the same
// set: compare ns/op of the two sub-benchmarks.
func BenchmarkConditions(b *testing.B) {
	for _, n := range []int{20, 50} {
		s := benchSet(n)
		b.Run(fmt.Sprintf("rules=%d/fast", n), func(b *testing.B) {
			for b.Loop() {
				policytest.Conditions(s)
			}
		})
		b.Run(fmt.Sprintf("rules=%d/brute-force", n), func(b *testing.B) {
			for b.Loop() {
				policytest.NaiveConditions(s)
			}
		})
	}
}
