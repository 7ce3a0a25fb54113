package policydiff_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policydiff"
)

func deploy() policy.Rule {
	return policy.Rule{
		Name: "deploy", Pos: policy.Pos{File: "p.cue", Line: 3, Col: 2}, RequireVerified: true,
		Match: []policy.Condition{
			{Claim: "workflow_ref", Patterns: []string{"^acme/api/\\.github/workflows/deploy\\.yml@"}},
			{Claim: "ref", Values: []string{"refs/heads/main"}},
			{Claim: "environment", Values: []string{"production"}},
		},
		Grant: policy.Grant{Caller: true, Repositories: []string{"acme/infra"},
			Permissions: map[string]string{"contents": "read", "deployments": "write"}, Pos: policy.Pos{File: "p.cue", Line: 9, Col: 3}},
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	with := func(f func(*policy.Rule)) policy.Rule {
		r := deploy()
		f(&r)
		return r
	}
	tests := []struct {
		name       string
		base, head *policy.Set
		want       []string
	}{
		{name: "unchanged", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{deploy()}}},
		{name: "new rule", base: &policy.Set{}, head: &policy.Set{Rules: []policy.Rule{deploy()}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main in environment production write deployments and read contents of acme/infra and the calling repository (new rule "deploy")`,
		}},
		{name: "nil base", head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Match = nil
			r.RequireVerified = false
			r.Grant = policy.Grant{AllRepositories: true, Permissions: map[string]string{"contents": "write"}}
		})}}, want: []string{
			`this change lets any workflow on any ref, even without a verified OIDC identity, write contents of every repository of the installation (new rule "deploy")`,
		}},
		{name: "narrowed", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Grant.Permissions = map[string]string{"deployments": "read"}
			r.Grant.Repositories = nil
			r.Match = append(r.Match, policy.Condition{Claim: "actor", Values: []string{"octocat"}})
		})}}},
		{name: "raised permission", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Grant.Permissions = map[string]string{"contents": "write", "deployments": "write"}
		})}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main in environment production write contents of acme/infra and the calling repository (rule "deploy")`,
		}},
		{name: "new repository", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Grant.Repositories = []string{"acme/infra", "acme/web"}
		})}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main in environment production write deployments and read contents of acme/web (rule "deploy")`,
		}},
		{name: "raised permission and new repository", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Grant.Repositories = []string{"acme/infra", "acme/web"}
			r.Grant.Permissions = map[string]string{"contents": "read", "deployments": "write", "statuses": "write"}
		})}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main in environment production write statuses of acme/infra, acme/web and the calling repository, and write deployments, statuses and read contents of acme/web (rule "deploy")`,
		}},
		{name: "wider match", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Match = []policy.Condition{r.Match[0], {Claim: "ref", Values: []string{"refs/heads/main", "refs/heads/dev"}}}
			r.RequireVerified = false
		})}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main or refs/heads/dev, even without a verified OIDC identity, write deployments and read contents of acme/infra and the calling repository (rule "deploy" now also matches claims that were not verified through OIDC; ref refs/heads/dev; any environment)`,
		}},
		{name: "ceiling raised", base: &policy.Set{Ceiling: &policy.Ceiling{Permissions: map[string]string{"contents": "read"}}},
			head: &policy.Set{Ceiling: &policy.Ceiling{Permissions: map[string]string{"contents": "write", "issues": "read"}}}, want: []string{
				"this change raises the organisation ceiling: rules may now write contents and read issues",
			}},
		{name: "ceiling removed", base: &policy.Set{Ceiling: &policy.Ceiling{}}, head: &policy.Set{}, want: []string{
			"this change removes the organisation ceiling, so rules may grant any permission on any repository",
		}},
		{name: "ceiling added", base: &policy.Set{}, head: &policy.Set{Ceiling: &policy.Ceiling{Permissions: map[string]string{"contents": "write"}}}},
		{name: "no head", base: &policy.Set{Rules: []policy.Rule{deploy()}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, c := range policydiff.Diff(tt.base, tt.head) {
				got = append(got, c.Sentence)
				assert.NotEmpty(t, c.Rule)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
