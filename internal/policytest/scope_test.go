package policytest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
)

// A tree of two policies: acme/infra consents to acme/api's deploys, and
// acme/api's own rule asks for both.
const (
	scopeOrg   = "apiVersion: \"jitkey.dev/v1\"\nceiling: permissions: {contents: \"write\", deployments: \"write\"}\n"
	scopeAPI   = "apiVersion: \"jitkey.dev/v1\"\nrules: [{name: \"deploy\", requireVerified: true, match: {repository: \"acme/api\", environment: \"production\"}, grant: {repositories: [\"caller\", \"acme/infra\"], permissions: {deployments: \"write\"}}}]\n"
	scopeInfra = "apiVersion: \"jitkey.dev/v1\"\nrules: [{name: \"consent\", requireVerified: true, match: {repository: \"acme/api\", environment: \"production\"}, grant: {repositories: [\"acme/infra\"], permissions: {deployments: \"write\"}}}]\n"
)

func scopeTree(t *testing.T) (policy.Policies, []*policy.Set) {
	t.Helper()
	load := func(name, src string) *policy.Set {
		s, err := policy.LoadBytes(name, []byte(src))
		require.NoError(t, err)
		return s
	}
	org, api, infra := load("org.cue", scopeOrg), load("api.cue", scopeAPI), load("infra.cue", scopeInfra)
	return policy.Policies{Owner: "acme", Org: org, Repos: map[string]*policy.Set{"acme/api": api, "acme/infra": infra}},
		[]*policy.Set{org, api, infra}
}

func prodClaims() policy.Claims {
	return policy.Claims{Repository: "acme/api", Environment: "production", Verified: true}
}

// TestConditionsScope checks tree-mode condition coverage by mutation: a
// denial that a second policy's consent would give anyway pins nothing, a
// case asking for one repository pins that repository's conditions, and a
// repository condition a rule's place makes redundant counts as covered,
// saying why.
func TestConditionsScope(t *testing.T) {
	t.Parallel()
	p, sets := scopeTree(t)
	unverified := prodClaims()
	unverified.Verified = false
	staging := prodClaims()
	staging.Environment = "staging"
	web := prodClaims()
	web.Repository = "acme/web"
	tests := []struct {
		name  string
		cases []policy.TestCase
		want  map[string][]string // rule -> uncovered conditions
	}{
		{name: "only denials both policies refuse: nothing pinned", cases: []policy.TestCase{
			{Name: "allowed", Claims: prodClaims(), Expect: policy.Expectation{Allow: true}},
			{Name: "unverified", Claims: unverified, Expect: policy.Expectation{Allow: false}},
			{Name: "staging", Claims: staging, Expect: policy.Expectation{Allow: false}},
		}, want: map[string][]string{"deploy": {"requireVerified", "environment"}, "consent": {"requireVerified", "repository", "environment"}}},
		{name: "each policy asked alone", cases: []policy.TestCase{
			{Name: "allowed", Claims: prodClaims(), Expect: policy.Expectation{Allow: true}},
			{Name: "api unverified", Claims: unverified, Request: policy.Request{Repositories: []string{"acme/api"}}, Expect: policy.Expectation{Allow: false}},
			{Name: "api staging", Claims: staging, Request: policy.Request{Repositories: []string{"acme/api"}}, Expect: policy.Expectation{Allow: false}},
			{Name: "infra unverified", Claims: unverified, Request: policy.Request{Repositories: []string{"acme/infra"}, Permissions: map[string]string{"deployments": "write"}}, Expect: policy.Expectation{Allow: false}},
			{Name: "infra staging", Claims: staging, Request: policy.Request{Repositories: []string{"acme/infra"}, Permissions: map[string]string{"deployments": "write"}}, Expect: policy.Expectation{Allow: false}},
			{Name: "infra for web", Claims: web, Request: policy.Request{Repositories: []string{"acme/infra"}, Permissions: map[string]string{"deployments": "write"}}, Expect: policy.Expectation{Allow: false}},
		}, want: map[string][]string{"deploy": nil, "consent": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := policytest.RunScope(p, sets, tt.cases)
			_, failed := res.Counts()
			require.Zero(t, failed, "%+v", res.Cases)
			got := map[string][]string{}
			for _, rc := range policytest.ConditionsScope(p, sets, tt.cases) {
				got[rc.Rule] = rc.Uncovered()
				if rc.Rule == "deploy" {
					require.Equal(t, "repository", rc.Conditions[1].Claim)
					assert.True(t, rc.Conditions[1].Covered)
					assert.Contains(t, rc.Conditions[1].By, "implied", "acme/api's own caller-only rule decides for acme/api's jobs alone")
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestRunScopeCompletesClaims checks that a tree's cases are decided on
// the claims a real token carries: repository_owner follows from
// repository, as in single-directory mode.
func TestRunScopeCompletesClaims(t *testing.T) {
	t.Parallel()
	org, err := policy.LoadBytes("org.cue", []byte(scopeOrg+"rules: [{name: \"owner\", match: {repository_owner: \"acme\", environment: \"production\"}, grant: {repositories: [\"caller\"], permissions: {contents: \"write\"}}}]\n"))
	require.NoError(t, err)
	p := policy.Policies{Owner: "acme", Org: org}
	res := policytest.RunScope(p, []*policy.Set{org}, []policy.TestCase{{Name: "thin", Claims: policy.Claims{Repository: "acme/web", Environment: "production", Verified: true}, Expect: policy.Expectation{Allow: true, Rule: "owner"}}})
	require.Len(t, res.Cases, 1)
	assert.True(t, res.Cases[0].Passed(), "%v", res.Cases[0].Failures)
	assert.Contains(t, res.Cases[0].Derived, "repository_owner")
}
