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
	gh, _, release, err := reviewClient(ctx, env, reviewAuth{tokenEnv: "GITHUB_TOKEN"}, "acme", nil, false)
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

// TestReviewIdentity: the login the review's issues are kept under, which
// decides which issues and replies count as jitkey's: the App's bot, the
// runner's github-actions[bot] for GITHUB_TOKEN, or --identity; a token
// whose user cannot be read and is not the runner's is refused, rather
// than guessed.
func TestReviewIdentity(t *testing.T) {
	t.Parallel()
	sim := ghsim.New(ghsim.Options{})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"})
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey-review"})
	sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"issues": "write"}})
	job := sim.JobToken("acme/api")
	for _, tc := range []struct {
		name string
		vars map[string]string
		auth reviewAuth
		want string // "" expects an error naming --identity
	}{
		{"App", map[string]string{"JITKEY_APP_ID": strconv.FormatInt(app.ID, 10), "JITKEY_APP_PRIVATE_KEY": string(app.PrivateKeyPEM)}, reviewAuth{tokenEnv: "GITHUB_TOKEN"}, "jitkey-review[bot]"},
		{"runner's GITHUB_TOKEN", map[string]string{"GITHUB_TOKEN": job, "GITHUB_ACTIONS": "true"}, reviewAuth{tokenEnv: "GITHUB_TOKEN"}, "github-actions[bot]"},
		{"another token outside a runner", map[string]string{"GITHUB_TOKEN": job}, reviewAuth{tokenEnv: "GITHUB_TOKEN"}, ""},
		{"another variable in a runner", map[string]string{"OTHER": job, "GITHUB_ACTIONS": "true"}, reviewAuth{tokenEnv: "OTHER"}, ""},
		{"named", map[string]string{"OTHER": job}, reviewAuth{tokenEnv: "OTHER", identity: "deploy-bot[bot]"}, "deploy-bot[bot]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.vars["GITHUB_API_URL"] = sim.URL()
			env := Env{Getenv: func(k string) string { return tc.vars[k] }, Now: sim.Now, Dir: t.TempDir()}
			_, id, release, err := reviewClient(context.Background(), env, tc.auth, "acme", nil, true)
			defer func() { _ = release(context.Background()) }()
			if tc.want == "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "--identity")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, id)
		})
	}
}
