package post_test

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/post"
	"github.com/jitkey/jitkey/internal/runstep"
)

// TestPostBinaryLinksNoPolicyEngine: the post step's binary must stay free
// of CUE, whose package initialisation alone would cost it ~23 ms per start,
// and of the broker's storage and KMS clients (SQLite, pgx, the AWS SDK)
// go-github (the review's REST client) and go-githubactions (whose
// step-summary templates link html/template).
func TestPostBinaryLinksNoPolicyEngine(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "github.com/jitkey/jitkey/cmd/jitkey-post").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"cuelang.org/", "modernc.org/", "github.com/jackc/", "github.com/aws/",
			"github.com/jitkey/jitkey/internal/ledger", "github.com/jitkey/jitkey/internal/signer", "github.com/google/go-github/",
			"github.com/sethvargo/go-githubactions", "html/template"} {
			assert.False(t, strings.HasPrefix(pkg, banned), "jitkey-post links %s", pkg)
		}
		assert.NotEqual(t, "github.com/jitkey/jitkey/internal/policy", pkg)
	}
}

// TestRunRevokesTheSavedToken is the post step on a runner: the token from
// the main step's state is revoked with one call, said in the summary and
// the log, masked first, and a second run finds it already revoked.
func TestRunRevokesTheSavedToken(t *testing.T) {
	t.Parallel()
	sim := ghsim.New(ghsim.Options{})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	sim.AddOrg("acme")
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"})
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "read"}})
	tok := mintDirect(t, sim, app, inst.ID)

	dir := t.TempDir()
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_API_URL": sim.URL(), "GITHUB_STEP_SUMMARY": dir + "/summary",
		"STATE_" + runstep.StateToken: tok, "STATE_" + runstep.StateRule: "deploy", "STATE_" + runstep.StateVerified: "true"}
	run := func() (int, string) {
		var out bytes.Buffer
		env := runstep.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string { return vars[k] }, Now: time.Now, Dir: dir}
		return post.Run(context.Background(), env, nil), out.String()
	}
	code, out := run()
	require.Equal(t, runstep.ExitOK, code, out)
	assert.True(t, strings.HasPrefix(out, "::add-mask::"), "the token is masked before anything else: %.80s", out)
	assert.Equal(t, 1, strings.Count(out, tok), "the token appears only in its mask")
	assert.Contains(t, out, `"outcome":"revoked"`)
	assert.Contains(t, out, `"rule":"deploy"`)
	assert.Empty(t, sim.ValidTokens())
	assert.Equal(t, 1, sim.Calls()["DELETE /installation/token"])

	code, out = run()
	require.Equal(t, runstep.ExitOK, code, out)
	assert.Contains(t, out, `"outcome":"already_revoked"`)
}

// mintDirect mints an installation token through the API, as the main step
// would have.
func mintDirect(t *testing.T, sim *ghsim.Sim, app *ghsim.App, installation int64) string {
	t.Helper()
	c, err := github.NewAppClient(github.Options{BaseURL: sim.URL()}, github.AppCredentials{ID: strconv.FormatInt(app.ID, 10), PrivateKey: app.PrivateKeyPEM})
	require.NoError(t, err)
	tok, err := c.CreateInstallationToken(context.Background(), installation,
		github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "read"}})
	require.NoError(t, err)
	return tok.Token.Reveal()
}
