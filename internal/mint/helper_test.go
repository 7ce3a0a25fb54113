package mint_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
)

const policyPath = ".github/jitkey/policy.cue"

const testPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "deploy"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}
}, {
	name: "ci-read"
	match: {repository: "acme/api", event_name: "pull_request"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "too-much"
	match: {repository: "acme/api", event_name: "schedule"}
	grant: {repositories: ["caller"], permissions: {contents: "read", packages: "write"}}
}, {
	name: "elsewhere"
	match: {repository: "acme/api", event_name: "release"}
	grant: {repositories: ["acme/lib"], permissions: {contents: "read"}}
}]
`

type fixture struct {
	sim  *ghsim.Sim
	clk  *ghsim.ManualClock
	app  *ghsim.App
	inst ghsim.Installation
	m    *mint.Minter
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := ghsim.NewClock(time.Now())
	sim := ghsim.New(ghsim.Options{Clock: clk, TimeoutCap: 200 * time.Millisecond})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	for _, name := range []string{"api", "infra", "lib"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name, Private: true})
	}
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{
		Permissions:  map[string]string{"contents": "write", "deployments": "write"},
		Repositories: []string{"api", "infra"}})
	sim.PutFile("acme", "api", "main", policyPath, []byte(testPolicy))
	f := &fixture{sim: sim, clk: clk, app: app, inst: inst}
	f.m = f.minter(t)
	return f
}

func (f *fixture) opts() github.Options {
	return github.Options{BaseURL: f.sim.URL(), Now: f.clk.Now, AttemptTimeout: time.Second,
		Retry: github.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: -1}}
}

func (f *fixture) minter(t testing.TB) *mint.Minter {
	t.Helper()
	app, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: strconv.FormatInt(f.app.ID, 10), PrivateKey: f.app.PrivateKeyPEM})
	require.NoError(t, err)
	contents, err := github.NewTokenClient(f.opts(), f.sim.JobToken("acme/api"))
	require.NoError(t, err)
	tokens := func(tok github.Secret) (mint.TokenAPI, error) { return github.NewTokenClient(f.opts(), tok.Reveal()) }
	return mint.New(app, contents, tokens, mint.WithClock(f.clk.Now))
}

func deployClaims() policy.Claims {
	return policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main",
		Environment: "production", EventName: "push", Actor: "octocat", Verified: true}
}

func deployInput() mint.Input {
	return mint.Input{Claims: deployClaims(), PolicyPath: policyPath}
}

func (f *fixture) mint(t testing.TB) *mint.Grant {
	t.Helper()
	g, err := f.m.Mint(context.Background(), deployInput())
	require.NoError(t, err)
	return g
}

// appCalls counts the calls to App-authenticated and token endpoints.
func appCalls(sim *ghsim.Sim) int {
	c := sim.Calls()
	return c["GET /repos/{owner}/{repo}/installation"] + c["POST /app/installations/{installation_id}/access_tokens"]
}

func totalCalls(sim *ghsim.Sim) int {
	n := 0
	for _, v := range sim.Calls() {
		n += v
	}
	return n
}

var _ = context.Background
