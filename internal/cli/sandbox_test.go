package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
	for _, want := range []string{"[11/11]", "deploy-production", "opens one issue per finding", "issues: update 2, close 1", "denied by policy", "API calls: 3", "API calls: 1",
		"HTTP 401", "0 tokens still valid", "every step behaved"} {
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
	var stdout, stderr bytes.Buffer
	out := &syncBuf{b: &stdout}
	env := cli.Env{Stdout: out, Stderr: &stderr, Now: time.Now, Dir: t.TempDir(), Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- cli.Run(ctx, []string{"sandbox", "--serve", "127.0.0.1:0"}, env) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out.mu.Lock()
		up := strings.Contains(stdout.String(), "serving until interrupted")
		out.mu.Unlock()
		if up {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	assert.Equal(t, cli.ExitOK, <-done, "stderr: %s", &stderr)
	assert.Contains(t, stdout.String(), "API URL")
}
