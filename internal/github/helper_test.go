package github_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
)

type fixture struct {
	sim    *ghsim.Sim
	clk    *ghsim.ManualClock
	app    *ghsim.App
	inst   ghsim.Installation
	sleeps *sleeps
}

// sleeps records back-off waits instead of sleeping, and advances the
// simulator's clock by them, so rate-limit waits finish at once.
type sleeps struct {
	mu  sync.Mutex
	clk *ghsim.ManualClock
	all []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.all = append(s.all, d)
	s.mu.Unlock()
	s.clk.Advance(d)
	return ctx.Err()
}

func (s *sleeps) list() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.all...)
}

func newFixture(t *testing.T, prefix string) *fixture {
	t.Helper()
	return newFixtureFormat(t, prefix, "")
}

// newFixtureFormat is newFixture minting tokens of the given format.
func newFixtureFormat(t *testing.T, prefix string, format ghsim.TokenFormat) *fixture {
	t.Helper()
	clk := ghsim.NewClock(time.Now())
	sim := ghsim.New(ghsim.Options{Prefix: prefix, Clock: clk, TimeoutCap: 300 * time.Millisecond, TokenFormat: format})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "web"})
	sim.AddRepo(ghsim.RepoSpec{Owner: "other", Name: "lib"})
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{
		Permissions: map[string]string{"contents": "write", "issues": "write"}, Repositories: []string{"api", "web"}})
	sim.PutFile("acme", "api", "main", ".github/jitkey/policy.cue", []byte("apiVersion: \"jitkey.dev/v1\"\n"))
	return &fixture{sim: sim, clk: clk, app: app, inst: inst, sleeps: &sleeps{clk: clk}}
}

func (f *fixture) opts() github.Options {
	return github.Options{BaseURL: f.sim.URL(), Now: f.clk.Now, Sleep: f.sleeps.sleep, Jitter: func() float64 { return 0.5 },
		AttemptTimeout: 2 * time.Second}
}

func (f *fixture) appClient(t *testing.T) *github.Client {
	t.Helper()
	c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
	require.NoError(t, err)
	return c
}

func (f *fixture) tokenClient(t *testing.T, tok string) *github.Client {
	t.Helper()
	c, err := github.NewTokenClient(f.opts(), tok)
	require.NoError(t, err)
	return c
}

func (f *fixture) mint(t *testing.T) *github.InstallationToken {
	t.Helper()
	tok, err := f.appClient(t).CreateInstallationToken(context.Background(), f.inst.ID,
		github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "read"}})
	require.NoError(t, err)
	return tok
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
