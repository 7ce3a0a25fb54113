package mint_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/source"
)

const policyPath = ".github/jitkey/policy.cue"

// orgPolicy is acme's organisation policy: the ceiling, and nothing else.
const orgPolicy = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "write", deployments: "write", packages: "write", statuses: "write"}
`

// testPolicy is acme/api's own policy.
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

// infraPolicy is acme/infra's: it consents to acme/api's production deploy.
const infraPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "api-deploys"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: ["acme/infra"], permissions: {contents: "read", deployments: "write"}}
}]
`

// libPolicy is acme/lib's: it consents to acme/api's release job reading it.
const libPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "api-release"
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
	src  *source.GitHub
}

// newFixture is acme with its policies; extra repositories are added and
// installed beside acme's usual ones.
func newFixture(t testing.TB, extra ...ghsim.RepoSpec) *fixture {
	t.Helper()
	clk := ghsim.NewClock(time.Now())
	sim := ghsim.New(ghsim.Options{Clock: clk, TimeoutCap: 200 * time.Millisecond})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	for _, name := range []string{".github", "api", "infra", "lib", "web"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name, Private: true})
	}
	installed := []string{".github", "api", "infra", "web"}
	for _, spec := range extra {
		sim.AddRepo(spec)
		installed = append(installed, spec.Name)
	}
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{
		Permissions:  map[string]string{"contents": "write", "deployments": "write"},
		Repositories: installed})
	sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(orgPolicy))
	sim.PutFile("acme", "api", "main", policyPath, []byte(testPolicy))
	sim.PutFile("acme", "infra", "main", ".github/jitkey/consent.cue", []byte(infraPolicy))
	sim.PutFile("acme", "lib", "main", ".github/jitkey/consent.cue", []byte(libPolicy))
	f := &fixture{sim: sim, clk: clk, app: app, inst: inst}
	f.m = f.minter(t)
	return f
}

func (f *fixture) opts() github.Options {
	return github.Options{BaseURL: f.sim.URL(), Now: f.clk.Now, AttemptTimeout: time.Second,
		Retry: github.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: -1}}
}

func (f *fixture) minter(t testing.TB) *mint.Minter { return f.minterWith(t) }

// minterWith is a Minter on the fixture's simulator with more options.
func (f *fixture) minterWith(t testing.TB, opts ...mint.Option) *mint.Minter {
	t.Helper()
	app, err := github.NewAppClient(f.opts(), appCreds(f))
	require.NoError(t, err)
	tokens := func(tok github.Secret) (mint.TokenAPI, error) { return github.NewTokenClient(f.opts(), tok.Reveal()) }
	f.src = source.NewGitHub(app, func(tok string) (source.TokenClient, error) { return github.NewTokenClient(f.opts(), tok) }, source.WithClock(f.clk.Now))
	t.Cleanup(func() { _ = f.src.Close(context.Background()) })
	return mint.New(app, f.src, tokens, append([]mint.Option{mint.WithClock(f.clk.Now)}, opts...)...)
}

// jobTokensOf lists the tokens minted for the job: every token but the
// policy-read tokens (contents: read on nothing but policies' repositories,
// including the organisation policy's).
func jobTokensOf(f *fixture) []ghsim.TokenRecord {
	var out []ghsim.TokenRecord
	for _, r := range f.sim.Ledger() {
		if len(r.Permissions) == 2 && r.Permissions["contents"] == "read" && r.Permissions["metadata"] == "read" {
			continue
		}
		out = append(out, r)
	}
	return out
}

// validMinted lists the valid tokens once the policy-read token is revoked
// (as the edges do when a mint is over).
func (f *fixture) validMinted(t testing.TB) []ghsim.TokenRecord {
	t.Helper()
	require.NoError(t, f.src.Close(context.Background()))
	return f.sim.ValidTokens()
}

// warm reads the policies once, so that the read token is held and a
// fault on POST meets the mint itself.
func (f *fixture) warm(t testing.TB) {
	t.Helper()
	_, err := f.m.Decide(context.Background(), deployInput())
	require.NoError(t, err)
}

func deployClaims() policy.Claims {
	return policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main",
		Environment: "production", EventName: "push", Actor: "octocat", Verified: true}
}

// deployInput is the deploy job's request, its claims verified from a
// github.com OIDC token.
func deployInput() mint.Input {
	return mint.Input{Claims: deployClaims(), Issuer: identity.GitHubIssuer}
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
	return c["GET /repos/{owner}/{repo}/installation"] + c["GET /app/installations/{installation_id}"] + c["POST /app/installations/{installation_id}/access_tokens"]
}

func totalCalls(sim *ghsim.Sim) int {
	n := 0
	for _, v := range sim.Calls() {
		n += v
	}
	return n
}

var _ = context.Background
