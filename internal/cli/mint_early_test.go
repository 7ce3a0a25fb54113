package cli_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// TestMintLooksUpTheVerifiedRepository: jitkey mint starts the installation
// lookup of the repository the runner names while it verifies the job's
// OIDC token. A runner environment that names another repository (here of
// another owner on which the App is installed too) must not steer the mint:
// the installation is the one of the repository the verified token names.
func TestMintLooksUpTheVerifiedRepository(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	w.sim.AddRepo(ghsim.RepoSpec{Owner: "other", Name: "lib", Private: true})
	w.sim.Install(w.app.ID, "other", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write"}, Repositories: []string{"lib"}})
	j := w.newJob(t, w.deployClaims())
	j.vars["GITHUB_REPOSITORY"], j.vars["GITHUB_REPOSITORY_OWNER"] = "other/lib", "other"
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"), "stdout: %s", &j.stdout)
	out := j.outputs()
	assert.Equal(t, itoa(w.inst.ID), out["installation-id"], "the installation of acme/api, which the verified token names")
	assert.Equal(t, "acme/api,acme/infra", out["repositories"])
	assert.Equal(t, 2, w.sim.Calls()[routeInstallation], "the early lookup of other/lib, then acme/api's: %v", w.sim.Calls())
	rec, ok := w.sim.TokenByValue(out["token"])
	require.True(t, ok)
	assert.Equal(t, w.inst.ID, rec.InstallationID)
}
