package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

const decidePolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "deploy-production"
	requireVerified: true
	match: {
		repository:   "acme/api"
		ref:          "refs/heads/main"
		environment:  ["production", "prod"]
		workflow_ref: {pattern: "^acme/api/\\.github/workflows/deploy\\.yml@"}
	}
	grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}
}, {
	name: "release-tags"
	match: {repository_owner: "acme", ref_type: "tag", ref_protected: true, event_name: "push", actor: ["alice", "bob"]}
	grant: {repositories: ["caller"], permissions: {contents: "write"}}
}, {
	name: "reusable"
	match: {job_workflow_ref: {pattern: "^acme/shared/\\.github/workflows/build\\.yml@refs/tags/v"}, runner_environment: "github-hosted"}
	grant: {repositories: ["acme/shared"], permissions: {packages: "write", metadata: "read"}}
}, {
	name: "org-wide-read"
	match: {repository_owner: "acme", event_name: "schedule"}
	grant: {repositories: "*", permissions: {issues: "read"}}
}]
ceiling: {permissions: {contents: "write", deployments: "write", packages: "write", metadata: "read", issues: "read"}}
`

func mustLoad(t testing.TB, name, src string) *policy.Set {
	t.Helper()
	s, err := policy.LoadBytes(name, []byte(src))
	require.NoError(t, err)
	return s
}

func prodClaims() policy.Claims {
	return policy.Claims{
		Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main", RefType: "branch",
		Environment: "production", WorkflowRef: "acme/api/.github/workflows/deploy.yml@refs/heads/main",
		EventName: "push", Actor: "alice", RunnerEnvironment: "github-hosted", Verified: true,
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "decide.cue", decidePolicy)
	tag := policy.Claims{Repository: "acme/cli", RepositoryOwner: "acme", Ref: "refs/tags/v1.0.0", RefType: "tag",
		RefProtected: true, EventName: "push", Actor: "bob"}
	with := func(c policy.Claims, f func(*policy.Claims)) policy.Claims { f(&c); return c }
	tests := []struct {
		name      string
		claims    policy.Claims
		req       policy.Request
		allow     bool
		rule      string
		perms     map[string]string
		repos     []string
		allRepos  bool
		reason    string
		nearFirst string
		failed    []string
	}{
		{name: "no request is the whole grant, caller resolved", claims: prodClaims(), allow: true, rule: "deploy-production",
			perms: map[string]string{"contents": "read", "deployments": "write"}, repos: []string{"acme/api", "acme/infra"},
			reason: `rule "deploy-production" allows contents:read, deployments:write on acme/api, acme/infra`},
		{name: "environment from list", claims: with(prodClaims(), func(c *policy.Claims) { c.Environment = "prod" }), allow: true, rule: "deploy-production"},
		{name: "request within grant, short repository name", claims: prodClaims(),
			req:   policy.Request{Repositories: []string{"infra"}, Permissions: map[string]string{"contents": "read"}},
			allow: true, rule: "deploy-production", perms: map[string]string{"contents": "read"}, repos: []string{"acme/infra"}},
		{name: "empty permission map is the whole grant", claims: prodClaims(), req: policy.Request{Permissions: map[string]string{}},
			allow: true, perms: map[string]string{"contents": "read", "deployments": "write"}},
		{name: "short name qualified by the repository claim when the owner claim is absent",
			claims: with(prodClaims(), func(c *policy.Claims) { c.RepositoryOwner = "" }),
			req:    policy.Request{Repositories: []string{"infra"}}, allow: true, repos: []string{"acme/infra"}},
		{name: "lower level than granted", claims: prodClaims(),
			req:   policy.Request{Permissions: map[string]string{"deployments": "read"}},
			allow: true, perms: map[string]string{"deployments": "read"}, repos: []string{"acme/api", "acme/infra"}},
		{name: "level above grant", claims: prodClaims(), req: policy.Request{Permissions: map[string]string{"contents": "write"}},
			rule: "deploy-production", reason: `rule "deploy-production" matches, but it grants contents: read, not write`},
		{name: "permission not granted", claims: prodClaims(), req: policy.Request{Permissions: map[string]string{"issues": "read"}},
			reason: `rule "deploy-production" matches, but it does not grant issues (it grants contents:read, deployments:write)`},
		{name: "repository not granted", claims: prodClaims(), req: policy.Request{Repositories: []string{"acme/secret"}},
			reason: `rule "deploy-production" matches, but it does not grant repository acme/secret (it grants acme/infra, acme/api)`},
		{name: "unknown permission", claims: prodClaims(), req: policy.Request{Permissions: map[string]string{"secret": "read"}},
			reason: `the request names unknown permission "secret"; use a GitHub App permission name such as contents or pull_requests (@octokit/openapi 23.0.2)`},
		{name: "unknown level", claims: prodClaims(), req: policy.Request{Permissions: map[string]string{"contents": "admin"}},
			reason: `the request asks for contents: "admin", but contents accepts only read, write`},
		{name: "bad repository in request", claims: prodClaims(), req: policy.Request{Repositories: []string{"*"}},
			reason: `the request names repository "*"; write owner/name or name`},
		{name: "unverified never matches a rule requiring verified",
			claims: with(prodClaims(), func(c *policy.Claims) { c.Verified = false }),
			reason: "no rule matches these claims, so the request is denied by default", nearFirst: "deploy-production",
			failed: []string{"requireVerified: the claims were not verified through OIDC"}},
		{name: "wrong ref explained", claims: with(prodClaims(), func(c *policy.Claims) { c.Ref = "refs/heads/dev" }),
			nearFirst: "deploy-production", failed: []string{`ref: "refs/heads/dev" does not equal "refs/heads/main"`}},
		{name: "missing environment explained", claims: with(prodClaims(), func(c *policy.Claims) { c.Environment = "" }),
			nearFirst: "deploy-production",
			failed:    []string{`environment: the job has no environment claim, which is not one of "production", "prod"`}},
		{name: "pattern fails", claims: with(prodClaims(), func(c *policy.Claims) { c.WorkflowRef = "acme/api/.github/workflows/evil.yml@refs/heads/main" }),
			nearFirst: "deploy-production",
			failed:    []string{`workflow_ref: "acme/api/.github/workflows/evil.yml@refs/heads/main" does not match pattern "^acme/api/\\.github/workflows/deploy\\.yml@"`}},
		{name: "repository exact", claims: with(prodClaims(), func(c *policy.Claims) { c.Repository = "acme/api2" }),
			nearFirst: "deploy-production", failed: []string{`repository: "acme/api2" does not equal "acme/api"`}},
		{name: "protected tag by listed actor", claims: tag, allow: true, rule: "release-tags",
			perms: map[string]string{"contents": "write"}, repos: []string{"acme/cli"}},
		{name: "unprotected tag", claims: with(tag, func(c *policy.Claims) { c.RefProtected = false }),
			nearFirst: "release-tags", failed: []string{`ref_protected: "false" does not equal "true"`}},
		{name: "actor not listed", claims: with(tag, func(c *policy.Claims) { c.Actor = "mallory" }),
			nearFirst: "release-tags", failed: []string{`actor: "mallory" is not one of "alice", "bob"`}},
		{name: "event name", claims: with(tag, func(c *policy.Claims) { c.EventName = "workflow_dispatch" }),
			nearFirst: "release-tags", failed: []string{`event_name: "workflow_dispatch" does not equal "push"`}},
		{name: "ref type", claims: with(tag, func(c *policy.Claims) { c.RefType = "branch" }),
			nearFirst: "release-tags", failed: []string{`ref_type: "branch" does not equal "tag"`}},
		{name: "owner", claims: with(tag, func(c *policy.Claims) { c.RepositoryOwner = "evil" }),
			nearFirst: "release-tags", failed: []string{`repository_owner: "evil" does not equal "acme"`}},
		{name: "reusable workflow on hosted runner",
			claims: policy.Claims{Repository: "acme/web", RepositoryOwner: "acme", JobWorkflowRef: "acme/shared/.github/workflows/build.yml@refs/tags/v2", RunnerEnvironment: "github-hosted"},
			allow:  true, rule: "reusable", perms: map[string]string{"packages": "write", "metadata": "read"}, repos: []string{"acme/shared"}},
		{name: "reusable workflow on self-hosted runner",
			claims:    policy.Claims{JobWorkflowRef: "acme/shared/.github/workflows/build.yml@refs/tags/v2", RunnerEnvironment: "self-hosted"},
			nearFirst: "reusable", failed: []string{`runner_environment: "self-hosted" does not equal "github-hosted"`}},
		{name: "all repositories, no request", claims: policy.Claims{RepositoryOwner: "acme", EventName: "schedule"},
			allow: true, rule: "org-wide-read", perms: map[string]string{"issues": "read"}, allRepos: true,
			reason: `rule "org-wide-read" allows issues:read on every repository of the installation`},
		{name: "all repositories, named request", claims: policy.Claims{RepositoryOwner: "acme", EventName: "schedule"},
			req: policy.Request{Repositories: []string{"b", "acme/a"}}, allow: true, repos: []string{"acme/a", "acme/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := policy.Decide(s, tt.claims, tt.req)
			assert.Equal(t, tt.allow, d.Allowed, d.Reason)
			if tt.rule != "" {
				assert.Equal(t, tt.rule, d.Rule)
			}
			if tt.perms != nil {
				assert.Equal(t, tt.perms, d.Permissions)
			}
			if tt.repos != nil {
				assert.Equal(t, tt.repos, d.Repositories)
			}
			assert.Equal(t, tt.allRepos, d.AllRepositories)
			if tt.reason != "" {
				assert.Equal(t, tt.reason, d.Reason)
			}
			if !tt.allow {
				assert.Empty(t, d.Permissions, "a denial grants nothing")
				assert.NotEmpty(t, d.Reason)
			}
			if tt.nearFirst != "" {
				require.NotEmpty(t, d.NearMisses)
				assert.Equal(t, tt.nearFirst, d.NearMisses[0].Rule)
				assert.Equal(t, tt.failed, d.NearMisses[0].Failed)
				assert.LessOrEqual(t, len(d.NearMisses), policy.MaxNearMisses)
			}
		})
	}
}

func TestDecideFirstMatchWins(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "order.cue", `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "narrow"
	match: {repository: "acme/api"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "broad"
	match: {repository_owner: "acme"}
	grant: {repositories: ["caller"], permissions: {contents: "write"}}
}]
`)
	c := policy.Claims{Repository: "acme/api", RepositoryOwner: "acme"}
	d := policy.Decide(s, c, policy.Request{Permissions: map[string]string{"contents": "write"}})
	assert.False(t, d.Allowed, "the first matching rule decides; later rules are not tried")
	assert.Equal(t, "narrow", d.Rule)
	c.Repository = "acme/web"
	d = policy.Decide(s, c, policy.Request{Permissions: map[string]string{"contents": "write"}})
	assert.True(t, d.Allowed)
	assert.Equal(t, "broad", d.Rule)
}

func TestDecideCeiling(t *testing.T) {
	t.Parallel()
	// Load refuses rules beyond the ceiling; a ceiling on repositories can
	// only be checked for "caller" at decision time.
	s := mustLoad(t, "ceiling.cue", `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "any"
	match: {repository_owner: ["acme", "other"]}
	grant: {repositories: ["caller"], permissions: {contents: "write"}}
}]
ceiling: {permissions: {contents: "write"}, repositories: ["acme/*"]}
`)
	d := policy.Decide(s, policy.Claims{Repository: "acme/x", RepositoryOwner: "acme"}, policy.Request{})
	assert.True(t, d.Allowed, d.Reason)
	d = policy.Decide(s, policy.Claims{Repository: "other/x", RepositoryOwner: "other"}, policy.Request{})
	assert.False(t, d.Allowed)
	assert.Equal(t, `rule "any" matches, but the ceiling does not list repository other/x`, d.Reason)

	// A Set built by hand is still held to its ceiling.
	hand := &policy.Set{Rules: []policy.Rule{{Name: "r", Grant: policy.Grant{AllRepositories: true, Permissions: map[string]string{"issues": "write"}}}},
		Ceiling: &policy.Ceiling{Permissions: map[string]string{"issues": "read"}}}
	d = policy.Decide(hand, policy.Claims{}, policy.Request{})
	assert.False(t, d.Allowed)
	assert.Equal(t, `rule "r" matches, but the ceiling allows issues: read at most`, d.Reason)
}

func TestDecideNoRulesAndNoRepository(t *testing.T) {
	t.Parallel()
	assert.False(t, policy.Decide(nil, policy.Claims{}, policy.Request{}).Allowed)
	assert.False(t, policy.Decide(&policy.Set{}, policy.Claims{}, policy.Request{}).Allowed)
	s := mustLoad(t, "caller.cue", `apiVersion: "jitkey.dev/v1"
rules: [{name: "c", match: {}, grant: {repositories: ["caller"], permissions: {contents: "read"}}}]
`)
	d := policy.Decide(s, policy.Claims{}, policy.Request{})
	assert.False(t, d.Allowed, "caller without a repository claim grants nothing")
	assert.Contains(t, d.Reason, "no repository")
	hand := &policy.Set{Rules: []policy.Rule{{Name: "empty", Grant: policy.Grant{Caller: true}}}}
	d = policy.Decide(hand, policy.Claims{Repository: "a/b"}, policy.Request{})
	assert.False(t, d.Allowed, "a grant without permissions never becomes a token of the installation's permissions")
	assert.Equal(t, `rule "empty" matches, but its grant has no permissions`, d.Reason)
}

func TestNearMissesClosestFirst(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "near.cue", `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "two-off"
	match: {repository: "acme/a", ref: "refs/heads/main", environment: "prod", actor: "nobody"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "one-off"
	match: {repository: "acme/b", ref: "refs/heads/main"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "three-off"
	match: {repository: "x/y", ref: "refs/heads/x", environment: "x", actor: "x"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "also-one-off"
	match: {ref: "refs/heads/dev"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}]
`)
	d := policy.Decide(s, policy.Claims{Repository: "acme/a", Ref: "refs/heads/main", Actor: "x"}, policy.Request{})
	require.False(t, d.Allowed)
	var names []string
	for _, m := range d.NearMisses {
		names = append(names, m.Rule)
	}
	assert.Equal(t, []string{"one-off", "also-one-off", "two-off"}, names)
}

func TestRuleMatchesByHand(t *testing.T) {
	t.Parallel()
	// Rules built outside Load (other packages' tests) compile their
	// patterns on first use.
	r := policy.Rule{Name: "h", Match: []policy.Condition{{Claim: "ref", Patterns: []string{"^refs/tags/v[0-9]+$"}}}}
	ok, failed := r.Matches(policy.Claims{Ref: "refs/tags/v12"})
	assert.True(t, ok)
	assert.Empty(t, failed)
	ok, failed = r.Matches(policy.Claims{Ref: "refs/tags/v1.2"})
	assert.False(t, ok)
	assert.Equal(t, []string{`ref: "refs/tags/v1.2" does not match pattern "^refs/tags/v[0-9]+$"`}, failed)
	bad := policy.Rule{Match: []policy.Condition{{Claim: "ref", Patterns: []string{"("}}, {Claim: "nope", Values: []string{"x"}}}}
	ok, failed = bad.Matches(policy.Claims{Ref: "("})
	assert.False(t, ok, "an invalid pattern never matches")
	assert.Len(t, failed, 2)
	assert.Equal(t, "nope: jitkey knows no such claim", failed[1])
}

func TestLevelAtMost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, limit string
		want        bool
	}{
		{"read", "read", true}, {"read", "write", true}, {"write", "read", false}, {"write", "admin", true},
		{"admin", "write", false}, {"admin", "admin", true}, {"", "read", false}, {"read", "", false}, {"owner", "admin", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, policy.LevelAtMost(tt.have, tt.limit), "%s <= %s", tt.have, tt.limit)
	}
}

func TestPermissionsTable(t *testing.T) {
	t.Parallel()
	p := policy.Permissions()
	assert.Equal(t, []string{"read", "write"}, p["contents"])
	assert.Equal(t, []string{"write"}, p["workflows"])
	assert.Equal(t, []string{"read", "write", "admin"}, p["organization_projects"])
	assert.NotContains(t, p, "secret")
	p["contents"][0] = "mutated"
	assert.Equal(t, "read", policy.Permissions()["contents"][0], "Permissions returns a copy")
	assert.True(t, policy.ValidLevel("organization_plan", "read"))
	assert.False(t, policy.ValidLevel("organization_plan", "write"))
	assert.Len(t, policy.PermissionNames(), len(p))
}
