package ghsim

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadAcme(t *testing.T) *Scenario {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "scenarios", "acme.yaml"))
	require.NoError(t, err)
	defer f.Close()
	sc, err := LoadScenario(f)
	require.NoError(t, err)
	return sc
}

func TestAcmeScenario(t *testing.T) {
	t.Parallel()
	clk := NewClock(time.Now())
	sim := New(Options{Clock: clk})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	require.NoError(t, sim.Apply(loadAcme(t)))

	apps := sim.Apps()
	require.Len(t, apps, 2)
	insts := sim.Installations()
	require.Len(t, insts, 2)
	f := &fixture{sim: sim, clk: clk, app: apps[0], inst: insts[0]}
	c := f.client(t, f.mint(t, nil))
	ctx := context.Background()

	keys, _, err := c.Repositories.ListKeys(ctx, "acme", "api", nil)
	require.NoError(t, err)
	require.Len(t, keys, 3)
	assert.WithinDuration(t, clk.Now().Add(-420*24*time.Hour), keys[1].GetLastUsed().Time, time.Second)
	assert.Nil(t, keys[2].LastUsed)
	fc, _, _, err := c.Repositories.GetContents(ctx, "acme", "api", ".github/jitkey/policy.cue", nil)
	require.NoError(t, err)
	body, err := fc.GetContent()
	require.NoError(t, err)
	assert.Contains(t, body, `apiVersion: "jitkey.dev/v1"`)
	hooks, _, err := c.Repositories.ListHooks(ctx, "acme", "web", nil)
	require.NoError(t, err)
	assert.False(t, hooks[0].GetActive())
	orgInst, _, err := c.Organizations.ListInstallations(ctx, "acme", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, orgInst.GetTotalCount())
	sec, _, err := c.Actions.ListOrgSecrets(ctx, "acme", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, sec.TotalCount)
	auths, _, err := c.Organizations.ListCredentialAuthorizations(ctx, "acme", nil)
	require.NoError(t, err)
	assert.Len(t, auths, 3)
	is, _, err := c.Issues.ListByRepo(ctx, "acme", "api", &github.IssueListByRepoOptions{Labels: []string{"security"}})
	require.NoError(t, err)
	assert.Len(t, is, 1)
	repo, _, err := c.Repositories.Get(ctx, "acme", "infra")
	require.NoError(t, err)
	assert.True(t, repo.GetArchived())
}

func TestLoadScenarioErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown field": "orgs:\n  - login: acme\n    repoz: []\n",
		"bad now":       "now: yesterday\n",
	}
	for name, doc := range cases {
		_, err := LoadScenario(strings.NewReader(doc))
		assert.Error(t, err, name)
	}
	applyCases := map[string]string{
		"unknown app":       "orgs: [{login: acme}]\ninstallations: [{app: nope, account: acme}]\n",
		"unknown repo":      "orgs: [{login: acme, secrets: [{name: X, visibility: selected, repositories: [nope]}]}]\n",
		"bad relative time": "orgs: [{login: acme, repos: [{name: a, deploy_keys: [{title: k, created_at: -3w}]}]}]\n",
		"bad secret kind":   "orgs: [{login: acme, repos: [{name: a, secrets: [{name: X, kind: vault}]}]}]\n",
	}
	for name, doc := range applyCases {
		sc, err := LoadScenario(strings.NewReader(doc))
		require.NoError(t, err, name)
		assert.Error(t, New(Options{}).Apply(sc), name)
	}
}

func TestScenarioNowSetsManualClock(t *testing.T) {
	t.Parallel()
	sc, err := LoadScenario(strings.NewReader("now: 2026-01-02T03:04:05Z\norgs: [{login: acme, repos: [{name: a, deploy_keys: [{title: k, created_at: -1d}]}]}]\n"))
	require.NoError(t, err)
	clk := NewClock(time.Now())
	sim := New(Options{Clock: clk})
	require.NoError(t, sim.Apply(sc))
	assert.Equal(t, "2026-01-02T03:04:05Z", clk.Now().Format(time.RFC3339))
	assert.Equal(t, time.Date(2026, 1, 1, 3, 4, 5, 0, time.UTC), sim.repoByName("acme", "a").Keys[0].CreatedAt)
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	sc := Generate(GenSpec{})
	org := sc.Orgs[0]
	require.Len(t, org.Repos, 2000)
	for _, r := range org.Repos[:10] {
		assert.Len(t, r.DeployKeys, 2)
		assert.Len(t, r.Secrets, 3)
		require.Len(t, r.Environments, 1)
		assert.Len(t, r.Environments[0].Secrets, 1)
		assert.Len(t, r.Hooks, 1)
	}
	assert.Equal(t, Generate(GenSpec{}), sc, "deterministic")
	start := time.Now()
	sim := New(Options{})
	require.NoError(t, sim.Apply(sc))
	t.Logf("applied 2,000 repositories in %v", time.Since(start))
	assert.Len(t, sim.mustOrg("acme").Repos, 2000)
}

func TestServeStandalone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		done <- ServeStandalone(ctx, "127.0.0.1:0", loadAcme(t), pw, Options{Prefix: "/api/v3"})
		pw.Close()
	}()
	lines := map[string]string{}
	var printed strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, ": "); ok {
			lines[k] = strings.TrimSpace(v)
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			lines[k] = v
		}
		if strings.HasPrefix(line, "ghsim: serving") {
			break
		}
	}
	apiURL := lines["API URL (GITHUB_API_URL)"]
	require.True(t, strings.HasSuffix(apiURL, "/api/v3/"), apiURL)
	var appID int64
	var keyPath string
	for k, v := range lines {
		if strings.HasPrefix(k, "App jitkey") {
			fields := strings.Fields(v)
			appID, _ = strconv.ParseInt(strings.TrimSuffix(fields[1], ","), 10, 64)
			keyPath = fields[len(fields)-1]
		}
	}
	require.NotZero(t, appID)
	st, err := os.Stat(keyPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	pemBytes, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	var envPath string
	for _, f := range strings.Fields(printed.String()) {
		if strings.HasSuffix(f, "job.env") {
			envPath = f
		}
	}
	require.NotEmpty(t, envPath, "job.env path printed")
	envBytes, err := os.ReadFile(envPath)
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(envBytes)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	assert.Contains(t, env["ACTIONS_ID_TOKEN_REQUEST_URL"], "?api-version=2.0")
	for _, secret := range []string{env["GITHUB_TOKEN"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]} {
		require.NotEmpty(t, secret)
		assert.NotContains(t, printed.String(), secret, "credentials must not be printed")
	}

	key, err := parseRSAKey(pemBytes)
	require.NoError(t, err)
	jwt, err := SignAppJWT(key, strconv.FormatInt(appID, 10), time.Now().Add(-time.Minute), time.Now().Add(5*time.Minute))
	require.NoError(t, err)
	c := github.NewClient(nil).WithAuthToken(jwt)
	c.BaseURL, _ = c.BaseURL.Parse(apiURL)
	insts, _, err := c.Apps.ListInstallations(context.Background(), nil)
	require.NoError(t, err)
	assert.Len(t, insts, 1)

	cancel()
	require.NoError(t, <-done)
	_, err = os.Stat(keyPath)
	assert.True(t, os.IsNotExist(err), "key directory removed on exit")
}
