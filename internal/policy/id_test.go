package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/policy"
)

// idOrg is an organisation policy granting, by repository ID, deployments
// on the repository with ID 7 (acme/tools when written) to acme/api's
// production jobs, under a ceiling that lists repositories by ID.
const idOrg = `apiVersion: "jitkey.dev/v1"
ceiling: {permissions: {deployments: "write", contents: "write"}, repositories: [{id: 7}, {id: 9}]}
rules: [{
	name: "tools-by-id"
	match: {repository: "acme/api", environment: "production"}
	grant: {repositories: [{id: 7}], permissions: {deployments: "write"}}
}, {
	name: "self-by-id"
	match: {repository_id: "9", environment: "release"}
	grant: {repositories: [{id: 9}], permissions: {contents: "write"}}
}]
`

// TestDecideScopeByID holds the decision's binding of {id: N} to the
// repository GitHub answered with that ID, or to the job's own by its
// repository_id claim, never to a name.
func TestDecideScopeByID(t *testing.T) {
	t.Parallel()
	org := mustLoad(t, "org.cue", idOrg)
	api := policy.Claims{Repository: "acme/api", Environment: "production", Verified: true}
	deploy := policy.Request{Permissions: map[string]string{"deployments": "write"}}
	tests := []struct {
		name    string
		ids     map[string]int64
		claims  policy.Claims
		req     policy.Request
		allow   bool
		refused string
		reason  string
	}{
		{name: "renamed: the ID follows the repository", ids: map[string]int64{"acme/toolbox": 7}, claims: api,
			req: policy.Request{Repositories: []string{"toolbox"}, Permissions: deploy.Permissions}, allow: true},
		{name: "re-created under the old name: another ID gets nothing", ids: map[string]int64{"acme/tools": 8}, claims: api,
			req: policy.Request{Repositories: []string{"tools"}, Permissions: deploy.Permissions}, refused: "acme/tools", reason: "acme/tools refuses"},
		{name: "an ID GitHub did not answer for names nothing", claims: api,
			req: policy.Request{Repositories: []string{"tools"}, Permissions: deploy.Permissions}, refused: "acme/tools", reason: "acme/tools refuses"},
		{name: "a default scope needs names", claims: api, req: policy.Request{}, reason: "its grant names repository ID 7, and the request names no repositories"},
		{name: "the job's own repository by its claim", claims: policy.Claims{Repository: "acme/cli", RepositoryID: "9", Environment: "release", Verified: true},
			allow: true},
		{name: "a claim of another ID is not the repository", claims: policy.Claims{Repository: "acme/cli", RepositoryID: "10", Environment: "release", Verified: true},
			req: policy.Request{Repositories: []string{"cli"}, Permissions: map[string]string{"contents": "write"}}, refused: "acme/cli"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := policy.DecideScope(policy.Policies{Owner: "acme", Org: org, IDs: tt.ids}, tt.claims, tt.req)
			assert.Equal(t, tt.allow, d.Allowed, d.Reason)
			assert.Equal(t, tt.refused, d.Refused, d.Reason)
			assert.Contains(t, d.Reason, tt.reason)
		})
	}
}

// TestDecideByIDClaim holds a single set's decision (no GitHub to ask) to
// the job's repository_id claim, and the ceiling by ID to the same.
func TestDecideByIDClaim(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "p.cue", `apiVersion: "jitkey.dev/v1"
ceiling: {permissions: {contents: "write"}, repositories: [{id: 9}]}
rules: [{name: "self", match: {environment: "release"}, grant: {repositories: ["caller", {id: 9}], permissions: {contents: "write"}}}]
`)
	own := policy.Decide(s, policy.Claims{Repository: "acme/cli", RepositoryID: "9", Environment: "release"}, policy.Request{Repositories: []string{"cli"}})
	assert.True(t, own.Allowed, own.Reason)
	other := policy.Decide(s, policy.Claims{Repository: "acme/web", RepositoryID: "10", Environment: "release"}, policy.Request{})
	assert.False(t, other.Allowed)
	assert.Contains(t, other.Reason, "the ceiling does not list repository acme/web", "caller is acme/web, which the ceiling by ID does not admit")
}
