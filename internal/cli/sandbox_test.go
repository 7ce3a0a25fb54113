package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/secretscan"
)

func TestSandboxTour(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now, Dir: t.TempDir(),
		Getenv: func(string) string { return "" }}
	code := cli.Run(context.Background(), []string{"sandbox"}, env)
	assert.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{"[12/12]", "deploy-production", "opens one issue per finding", "issues: update 2, close 1", "denied by policy", "API calls: 6", "API calls: 3 (DELETE",
		"acme/infra refuses", `consents":[`,
		"HTTP 401", "0 tokens still valid", "every step behaved"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAIL")
	secretscan.AssertClean(t, "sandbox stdout", out)
	secretscan.AssertClean(t, "sandbox stderr", stderr.String())
}

func TestSandboxBrokerTour(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now, Dir: t.TempDir(),
		Getenv: func(string) string { return "" }}
	code := cli.Run(context.Background(), []string{"sandbox", "--broker"}, env)
	assert.Equal(t, cli.ExitOK, code, "stdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{"[5/5]", "no app-id, no private-key, no github-token", "the broker minted a token",
		"workflow_job completed, X-Hub-Signature-256 verified, answered 200", "HTTP 401", "by webhook:workflow_job", "every step behaved"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAIL")
	secretscan.AssertClean(t, "sandbox stdout", out)
	secretscan.AssertClean(t, "sandbox stderr", stderr.String())
}

func TestSandboxUsage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Now: time.Now, Getenv: func(string) string { return "" }}
	assert.Equal(t, cli.ExitUsage, cli.Run(context.Background(), []string{"sandbox", "--scenario", "x.yaml"}, env))
	assert.Contains(t, stderr.String(), "--scenario needs --serve")
}

func TestSandboxServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, prefix string
		args         []string
	}{
		{"api.github.com layout", "", nil},
		{"GHES layout", "/api/v3", []string{"--prefix", "/api/v3"}},
		{"GHES layout, trailing slash", "/api/v3", []string{"--prefix", "/api/v3/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			out := &syncBuf{b: &stdout}
			env := cli.Env{Stdout: out, Stderr: &stderr, Now: time.Now, Dir: t.TempDir(), Getenv: func(string) string { return "" }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() { done <- cli.Run(ctx, append([]string{"sandbox", "--serve", "127.0.0.1:0"}, tc.args...), env) }()
			printed := ""
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(printed, "serving until interrupted"); {
				time.Sleep(10 * time.Millisecond)
				out.mu.Lock()
				printed = stdout.String()
				out.mu.Unlock()
			}
			require.Contains(t, printed, "serving until interrupted", "stderr: %s", &stderr)
			var apiURL, serverURL string
			for _, l := range strings.Split(printed, "\n") {
				if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
					switch k {
					case "API URL (GITHUB_API_URL)":
						apiURL = strings.TrimSpace(v)
					case "server URL (GITHUB_SERVER_URL)":
						serverURL = strings.TrimSpace(v)
					}
				}
			}
			require.NotEmpty(t, serverURL, printed)
			assert.Equal(t, strings.TrimSuffix(serverURL, "/")+tc.prefix+"/", apiURL, "the API URL carries the prefix")
			assert.Equal(t, http.StatusOK, getStatus(t, apiURL+"rate_limit"), "the REST API answers at the printed URL")
			if tc.prefix != "" {
				assert.Contains(t, printed, "the REST API is under /api/v3")
				assert.Equal(t, http.StatusNotFound, getStatus(t, serverURL+"rate_limit"), "and not at the root")
			}
			assert.Equal(t, http.StatusOK, getStatus(t, serverURL+"_services/token/.well-known/openid-configuration"), "the OIDC issuer stays at the root")
			cancel()
			assert.Equal(t, cli.ExitOK, <-done, "stderr: %s", &stderr)
			secretscan.AssertClean(t, "sandbox --serve stdout", stdout.String())
		})
	}
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestSandboxServeUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"--prefix without --serve", []string{"--prefix", "/api/v3"}, "--prefix needs --serve"},
		{"relative prefix", []string{"--serve", "127.0.0.1:0", "--prefix", "api/v3"}, `--prefix "api/v3": give a URL path such as /api/v3`},
		{"prefix with a space", []string{"--serve", "127.0.0.1:0", "--prefix", "/api v3"}, "give a URL path"},
		{"prefix with an empty segment", []string{"--serve", "127.0.0.1:0", "--prefix", "/api//v3"}, "give a URL path"},
		{"prefix climbing up", []string{"--serve", "127.0.0.1:0", "--prefix", "/api/.."}, "give a URL path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			env := cli.Env{Stdout: &stdout, Stderr: &stderr, Now: time.Now, Getenv: func(string) string { return "" }}
			assert.Equal(t, cli.ExitUsage, cli.Run(context.Background(), append([]string{"sandbox"}, tc.args...), env))
			assert.Contains(t, stderr.String(), tc.want)
			assert.Empty(t, stdout.String(), "nothing served")
		})
	}
}
