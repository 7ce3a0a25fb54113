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
		{name: "new repository by ID", base: &policy.Set{Rules: []policy.Rule{deploy()}}, head: &policy.Set{Rules: []policy.Rule{with(func(r *policy.Rule) {
			r.Grant.RepositoryIDs = []int64{777}
		})}}, want: []string{
			`this change lets workflow matching /^acme/api/\.github/workflows/deploy\.yml@/ on ref refs/heads/main in environment production write deployments and read contents of {id: 777} (rule "deploy")`,
		}},
		{name: "ceiling lists a new repository ID", base: &policy.Set{Ceiling: &policy.Ceiling{Permissions: map[string]string{"contents": "read"}, Repositories: []string{"acme/api"}}},
			head: &policy.Set{Ceiling: &policy.Ceiling{Permissions: map[string]string{"contents": "read"}, Repositories: []string{"acme/api"}, RepositoryIDs: []int64{9}}},
			want: []string{"this change raises the organisation ceiling: rules may now grant {id: 9}"}},
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

// TestDiffOrder covers what a change grants through the order of rules:
// the first matching rule decides, so removing, moving or narrowing an
// earlier rule hands its jobs to a later one.
func TestDiffOrder(t *testing.T) {
	t.Parallel()
	rule := func(name string, perms map[string]string, match ...policy.Condition) policy.Rule {
		return policy.Rule{Name: name, Pos: policy.Pos{File: "p.cue", Line: 1, Col: 2}, RequireVerified: true, Match: match,
			Grant: policy.Grant{Caller: true, Permissions: perms}}
	}
	main := policy.Condition{Claim: "ref", Values: []string{"refs/heads/main"}}
	prod := policy.Condition{Claim: "environment", Values: []string{"production"}}
	staging := policy.Condition{Claim: "environment", Values: []string{"staging"}}
	read := map[string]string{"contents": "read"}
	write := map[string]string{"contents": "write"}
	// The base: production deploys on main read; everything else on main writes.
	deployRead := rule("deploy-read", read, main, prod)
	ciWrite := rule("ci-write", write, main)
	base := &policy.Set{Rules: []policy.Rule{deployRead, ciWrite}}
	const wrote = `this change lets any workflow on ref refs/heads/main write contents of the calling repository (rule "ci-write" now decides jobs that rule "deploy-read" decided in the base: `
	tests := []struct {
		name       string
		base, head *policy.Set
		want       []string
	}{
		{name: "same order", base: base, head: &policy.Set{Rules: []policy.Rule{deployRead, ciWrite}}},
		{name: "reordered", base: base, head: &policy.Set{Rules: []policy.Rule{ciWrite, deployRead}}, want: []string{
			wrote + `"deploy-read" was moved below "ci-write")`,
		}},
		{name: "earlier narrower rule deleted", base: base, head: &policy.Set{Rules: []policy.Rule{ciWrite}}, want: []string{
			wrote + `"deploy-read" was removed)`,
		}},
		{name: "earlier rule narrowed", base: base, head: &policy.Set{Rules: []policy.Rule{
			rule("deploy-read", read, main, prod, policy.Condition{Claim: "actor", Values: []string{"octocat"}}), ciWrite,
		}}, want: []string{
			wrote + `"deploy-read" was narrowed)`,
		}},
		{name: "earlier rule loses requireVerified: still covers", base: base, head: &policy.Set{Rules: []policy.Rule{
			func() policy.Rule { r := deployRead; r.RequireVerified = false; return r }(), ciWrite,
		}}, want: []string{
			`this change lets any workflow on ref refs/heads/main in environment production, even without a verified OIDC identity, read contents of the calling repository (rule "deploy-read" now also matches claims that were not verified through OIDC)`,
		}},
		{name: "earlier rule widened: still covers", base: base, head: &policy.Set{Rules: []policy.Rule{
			rule("deploy-read", read, main), ciWrite,
		}}, want: []string{
			`this change lets any workflow on ref refs/heads/main read contents of the calling repository (rule "deploy-read" now also matches any environment)`,
		}},
		{name: "disjoint values", base: &policy.Set{Rules: []policy.Rule{rule("a", read, main, prod), rule("b", write, main, staging)}},
			head: &policy.Set{Rules: []policy.Rule{rule("b", write, main, staging), rule("a", read, main, prod)}}},
		{name: "disjoint ref_protected", base: &policy.Set{Rules: []policy.Rule{
			rule("a", read, policy.Condition{Claim: "ref_protected", Values: []string{"false"}}),
			rule("b", write, main, policy.Condition{Claim: "ref_protected", Values: []string{"true"}}),
		}}, head: &policy.Set{Rules: []policy.Rule{
			rule("b", write, main, policy.Condition{Claim: "ref_protected", Values: []string{"true"}}),
		}}},
		{name: "disjoint value and pattern", base: &policy.Set{Rules: []policy.Rule{
			rule("tags", read, policy.Condition{Claim: "ref", Patterns: []string{"^refs/tags/"}}), ciWrite,
		}}, head: &policy.Set{Rules: []policy.Rule{ciWrite}}},
		{name: "value matching a pattern overlaps", base: &policy.Set{Rules: []policy.Rule{
			rule("heads", read, policy.Condition{Claim: "ref", Patterns: []string{"^refs/heads/"}}), ciWrite,
		}}, head: &policy.Set{Rules: []policy.Rule{ciWrite}}, want: []string{
			`this change lets any workflow on ref refs/heads/main write contents of the calling repository (rule "ci-write" now decides jobs that rule "heads" decided in the base: "heads" was removed)`,
		}},
		{name: "two patterns count as overlapping", base: &policy.Set{Rules: []policy.Rule{
			rule("tags", read, policy.Condition{Claim: "ref", Patterns: []string{"^refs/tags/"}}),
			rule("heads", write, policy.Condition{Claim: "ref", Patterns: []string{"^refs/heads/"}}),
		}}, head: &policy.Set{Rules: []policy.Rule{
			rule("heads", write, policy.Condition{Claim: "ref", Patterns: []string{"^refs/heads/"}}),
		}}, want: []string{
			`this change lets any workflow on ref matching /^refs/heads// write contents of the calling repository (rule "heads" now decides jobs that rule "tags" decided in the base: "tags" was removed)`,
		}},
		{name: "later rule grants no more", base: &policy.Set{Rules: []policy.Rule{rule("a", write, main, prod), rule("b", read, main)}},
			head: &policy.Set{Rules: []policy.Rule{rule("b", read, main), rule("a", write, main, prod)}}},
		{name: "later rule grants another repository", base: &policy.Set{Rules: []policy.Rule{deployRead, func() policy.Rule {
			r := rule("infra-read", read, main)
			r.Grant.Repositories = []string{"acme/infra"}
			return r
		}()}}, head: &policy.Set{Rules: []policy.Rule{func() policy.Rule {
			r := rule("infra-read", read, main)
			r.Grant.Repositories = []string{"acme/infra"}
			return r
		}()}}, want: []string{
			`this change lets any workflow on ref refs/heads/main read contents of acme/infra (rule "infra-read" now decides jobs that rule "deploy-read" decided in the base: "deploy-read" was removed)`,
		}},
		{name: "earlier rule denied everything", base: &policy.Set{Rules: []policy.Rule{rule("deny", map[string]string{}, main, prod), ciWrite}},
			head: &policy.Set{Rules: []policy.Rule{ciWrite}}, want: []string{
				`this change lets any workflow on ref refs/heads/main write contents of the calling repository (rule "ci-write" now decides jobs that rule "deny" decided in the base: "deny" was removed)`,
			}},
		{name: "a new rule in front is reported once, as new", base: base, head: &policy.Set{Rules: []policy.Rule{
			rule("all-write", write, main, prod), deployRead, ciWrite,
		}}, want: []string{
			`this change lets any workflow on ref refs/heads/main in environment production write contents of the calling repository (new rule "all-write")`,
		}},
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
