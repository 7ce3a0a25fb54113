package cli

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
)

// TestReviewTokenRefreshes: a review that outlasts its installation token's
// hour gets a new token before the old one expires, keeps working, and
// revokes every token it minted at the end.
func TestReviewTokenRefreshes(t *testing.T) {
	t.Parallel()
	clk := ghsim.NewClock(time.Now())
	sim := ghsim.New(ghsim.Options{Clock: clk})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	sim.AddOrg("acme")
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"})
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey-review"})
	sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"administration": "read", "issues": "write"}})
	vars := map[string]string{"JITKEY_APP_ID": strconv.FormatInt(app.ID, 10), "JITKEY_APP_PRIVATE_KEY": string(app.PrivateKeyPEM),
		"GITHUB_API_URL": sim.URL()}
	env := Env{Getenv: func(k string) string { return vars[k] }, Now: clk.Now, Dir: t.TempDir()}

	ctx := context.Background()
	gh, release, err := reviewClient(ctx, env, reviewAuth{tokenEnv: "GITHUB_TOKEN"}, "acme", nil, false)
	require.NoError(t, err)
	keys := func() {
		t.Helper()
		_, _, err := gh.Repositories.ListKeys(ctx, "acme", "api", nil)
		require.NoError(t, err)
	}
	keys()
	require.Len(t, sim.ValidTokens(), 1)

	clk.Advance(45 * time.Minute) // 15 minutes left: still used
	keys()
	assert.Len(t, sim.ValidTokens(), 1, "a token with more than the margin left is kept")

	clk.Advance(10 * time.Minute) // 5 minutes left: replaced
	keys()
	assert.Len(t, sim.ValidTokens(), 2, "a new token before the old one expires")

	clk.Advance(20 * time.Minute) // the first has expired; the second serves
	keys()

	require.NoError(t, release(ctx))
	assert.Empty(t, sim.ValidTokens(), "every token the review minted is revoked")
	for _, rec := range sim.Ledger() {
		assert.Contains(t, []ghsim.TokenState{ghsim.StateRevoked, ghsim.StateExpired}, rec.State())
	}
}
