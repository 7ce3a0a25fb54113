package mint_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
)

// toolsByID is acme's organisation policy consenting, by repository ID,
// to acme/api's production deploy writing deployments of the repository
// that was acme/tools (ID 777) when the rule was written.
const toolsByID = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "write", deployments: "write", packages: "write", statuses: "write"}
rules: [{
	name:            "api-deploys-tools"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: [{id: 777}], permissions: {deployments: "write"}}
}]
`

// TestMintRepositoryByID checks, on the simulator, that a grant naming a
// repository by ID follows the repository, not its name: after a rename
// the ID grant still consents under the new name, and a repository
// created under the old name with another ID gets nothing, where a grant
// by name would have let it in.
func TestMintRepositoryByID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		repo   ghsim.RepoSpec
		ask    string
		policy string
		allow  bool
		reason string
	}{
		{name: "acme/tools renamed to acme/toolbox keeps its ID grant", repo: ghsim.RepoSpec{ID: 777, Owner: "acme", Name: "toolbox", Private: true},
			ask: "toolbox", policy: toolsByID, allow: true},
		{name: "acme/tools re-created with another ID gets nothing", repo: ghsim.RepoSpec{ID: 888, Owner: "acme", Name: "tools", Private: true},
			ask: "tools", policy: toolsByID, reason: "acme/tools refuses: no rule in its policy or the organisation policy that grants on acme/tools matches"},
		{name: "the same grant by name would let the re-created repository in", repo: ghsim.RepoSpec{ID: 888, Owner: "acme", Name: "tools", Private: true},
			ask: "tools", policy: strings.Replace(toolsByID, `[{id: 777}]`, `["acme/tools"]`, 1), allow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.repo)
			f.sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(tt.policy))
			in := deployInput()
			in.Request = policy.Request{Repositories: []string{tt.ask}, Permissions: map[string]string{"deployments": "write"}}
			g, err := f.m.Mint(context.Background(), in)
			if !tt.allow {
				var denied *mint.DeniedError
				require.True(t, errors.As(err, &denied), "%v", err)
				assert.Equal(t, "acme/"+tt.ask, denied.Decision.Refused)
				assert.Contains(t, denied.Decision.Reason, tt.reason)
				assert.Nil(t, g)
				assert.Empty(t, f.validMinted(t), "nothing is left valid")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"acme/" + tt.ask}, g.Repositories)
			assert.Equal(t, []policy.Consent{{Repository: "acme/" + tt.ask, Policy: policy.OrgPolicyName, Rule: "api-deploys-tools"}}, g.Decision.Consents)
			var minted []ghsim.TokenRecord
			for _, rec := range f.sim.Ledger() {
				if rec.Permissions["deployments"] == "write" {
					minted = append(minted, rec)
				}
			}
			require.Len(t, minted, 1)
			assert.Len(t, minted[0].Repositories, 1)
			assert.Contains(t, minted[0].Repositories[0], tt.ask, "the token is on the repository asked for")
		})
	}
}
