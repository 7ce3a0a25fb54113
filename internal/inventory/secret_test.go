package inventory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestSelectedReposOfAChangedSecret: an organisation secret listed as
// "selected" whose visibility changed before its repositories were read
// answers with no repositories (GitHub's description documents 200 only),
// or, from a GitHub that still answers 409 "not set to selected", a
// conflict. Either way the secret is reviewed, with no selected
// repositories, and the scan is complete.
func TestSelectedReposOfAChangedSecret(t *testing.T) {
	t.Parallel()
	for _, status := range []int{0, 409} {
		sim := ghsim.New(ghsim.Options{})
		_, err := sim.Start()
		require.NoError(t, err)
		t.Cleanup(func() { sim.Close() })
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"})
		sim.AddSecret(ghsim.SecretSpec{Scope: ghsim.ScopeOrg, Owner: "acme", Name: "ORG_TOKEN", Visibility: "selected", SelectedRepos: []string{"api"}})
		app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
		w := &rlWorld{sim: sim, app: app, inst: sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"organization_secrets": "read"}})}
		c := w.client(t)
		if status != 0 {
			w.sim.Fault(ghsim.FaultSpec{Path: "/orgs/{org}/actions/secrets/{secret_name}/repositories", Kind: ghsim.FaultStatus500, Status: status})
		}
		inv, err := inventory.Scan(context.Background(), c, inventory.Options{Org: "acme", OrgOnly: true,
			Kinds: []policy.CredentialKind{policy.KindActionsSecret}, Now: w.sim.Now})
		require.NoError(t, err)
		assert.False(t, inv.Partial(), "status %d: %v", status, inv.Gaps())
		require.Len(t, inv.Credentials, 1)
		if status == 0 {
			assert.Equal(t, []string{"acme/api"}, inv.Credentials[0].SelectedRepos)
		} else {
			assert.Empty(t, inv.Credentials[0].SelectedRepos)
		}
	}
}
