package ghsim

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/require"
)

var prefixes = []string{"", "/api/v3"}

// fixtureSims holds every fixture's simulator and prefix, for TestMain's check that
// the tests drove every route under both prefixes.
var fixtureSims sync.Map

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.bench").Value.String() == "" {
		if missing := undrivenRoutes(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: routes no test drove through a fixture: %s\n", strings.Join(missing, "; "))
			code = 1
		}
	}
	os.Exit(code)
}

func undrivenRoutes() []string {
	seen := map[string]bool{}
	var routes []string
	fixtureSims.Range(func(k, v any) bool {
		sim := k.(*Sim)
		routes = sim.Routes()
		for route, n := range sim.Calls() {
			if n > 0 {
				seen[v.(string)+" "+route] = true
			}
		}
		return true
	})
	var missing []string
	for _, p := range prefixes {
		for _, r := range routes {
			if !seen[p+" "+r] {
				missing = append(missing, "prefix "+strconv.Quote(p)+": "+r)
			}
		}
	}
	return missing
}

type fixture struct {
	sim  *Sim
	clk  *ManualClock
	app  *App
	inst Installation
}

// newFixture starts a simulator with org acme, repos api (private) and web, an App
// installed on acme with contents:write and issues:write.
func newFixture(t *testing.T, prefix string) *fixture {
	t.Helper()
	return newFixtureWith(t, prefix, Options{})
}

// newFixtureWith is newFixture with more options.
func newFixtureWith(t *testing.T, prefix string, opts Options) *fixture {
	t.Helper()
	clk := NewClock(time.Now())
	opts.Prefix, opts.Clock = prefix, clk
	sim := New(opts)
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	fixtureSims.Store(sim, prefix)
	app := sim.AddApp(AppSpec{Slug: "jitkey"})
	sim.AddRepo(RepoSpec{Owner: "acme", Name: "api", Private: true})
	sim.AddRepo(RepoSpec{Owner: "acme", Name: "web"})
	inst := sim.Install(app.ID, "acme", InstallSpec{Permissions: map[string]string{
		"contents": "write", "issues": "write", "administration": "read", "secrets": "write",
		"organization_administration": "write", "organization_personal_access_tokens": "write",
		"repository_hooks": "write", "organization_hooks": "write", "organization_secrets": "write",
		"dependabot_secrets": "write", "codespaces_secrets": "write", "organization_dependabot_secrets": "write",
		"organization_codespaces_secrets": "write", "actions": "read", "members": "read"}})
	sim.PutFile("acme", "api", "main", ".github/jitkey/policy.cue", []byte("package jitkey\n"))
	return &fixture{sim: sim, clk: clk, app: app, inst: inst}
}

// client returns a go-github client sending the given token (or none).
func (f *fixture) client(t *testing.T, token string) *github.Client {
	t.Helper()
	c := github.NewClient(&http.Client{Timeout: 10 * time.Second})
	if token != "" {
		c = c.WithAuthToken(token)
	}
	c, err := c.WithEnterpriseURLs(f.sim.URL(), f.sim.URL())
	require.NoError(t, err)
	c.BaseURL, _ = c.BaseURL.Parse(f.sim.URL())
	return c
}

// appClient returns a go-github client authenticated as the App through ghinstallation.
func (f *fixture) appClient(t *testing.T) *github.Client {
	t.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, f.app.ID, f.app.PrivateKeyPEM)
	require.NoError(t, err)
	atr.BaseURL = f.sim.BaseURL()
	c := github.NewClient(&http.Client{Transport: atr, Timeout: 10 * time.Second})
	c.BaseURL, _ = c.BaseURL.Parse(f.sim.URL())
	return c
}

// mint creates an installation token through go-github.
func (f *fixture) mint(t *testing.T, opts *github.InstallationTokenOptions) string {
	t.Helper()
	tok, _, err := f.appClient(t).Apps.CreateInstallationToken(context.Background(), f.inst.ID, opts)
	require.NoError(t, err)
	return tok.GetToken()
}

// installClient returns a client on an installation token from ghinstallation's Transport.
func (f *fixture) installClient(t *testing.T) *github.Client {
	t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, f.app.ID, f.inst.ID, f.app.PrivateKeyPEM)
	require.NoError(t, err)
	itr.BaseURL = f.sim.BaseURL()
	c := github.NewClient(&http.Client{Transport: itr, Timeout: 10 * time.Second})
	c.BaseURL, _ = c.BaseURL.Parse(f.sim.URL())
	return c
}

func statusOf(t *testing.T, resp *github.Response) int {
	t.Helper()
	require.NotNil(t, resp)
	return resp.StatusCode
}
