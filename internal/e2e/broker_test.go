//go:build unix

package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/ledger"
	"github.com/jitkey/jitkey/internal/secretscan"
)

const brokerWorkflow = "broker.yml"

// TestBrokerMode runs testdata/e2e/broker.yml: the action with `broker:`
// and no secret at all. A release build of jitkey serve holds the App key
// (SQLite ledger); the job's main step (jitkey-post exchange) trades its
// OIDC token for the token, a step uses it, the post step revokes through
// the broker, and the broker's ledger records who revoked it.
func TestBrokerMode(t *testing.T) {
	t.Parallel()
	act := requireAct(t)
	root := repoRoot(t)
	requireAction(t, root)
	bins := releaseBinaries(t, root)
	w := newWorld(t)

	dir := t.TempDir()
	port := freePort(t)
	url := "http://127.0.0.1:" + port
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.pem"), w.app.PrivateKeyPEM, 0o600))
	cfg := fmt.Sprintf(`listen: "127.0.0.1:%s"
public_url: %q
github: {api_url: %q, app_id: %d, private_key: file: "app.pem"}
issuers: [%q]
ledger: sqlite: path: "ledger.db"
encryption_key: env: "JITKEY_LEDGER_KEY"
webhook_secret: env: "JITKEY_WEBHOOK_SECRET"
`, port, url, w.apiURL, w.app.ID, w.sim.OIDCIssuer())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "serve.cue"), []byte(cfg), 0o600))
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	hook := make([]byte, 24)
	_, err = rand.Read(hook)
	require.NoError(t, err)
	stop := startServe(t, bins["jitkey"], filepath.Join(dir, "serve.cue"),
		"JITKEY_LEDGER_KEY="+base64.StdEncoding.EncodeToString(key), "JITKEY_WEBHOOK_SECRET="+base64.StdEncoding.EncodeToString(hook))

	ws := workspace(t, root, brokerWorkflow, bins)
	env := jobEnv(w)
	delete(env, "GITHUB_TOKEN") // broker mode reads no policy in the job
	env["JITKEY_BROKER"] = url
	res := run(t, act, ws, brokerWorkflow, actRun{Job: "broker", Env: env})
	logs := stop()

	assert.Zero(t, res.ExitCode, "the job should succeed")
	assert.Contains(t, res.Output, "e2e-token-works: 1 repositories: acme/api")
	assert.Contains(t, res.Output, "e2e-outputs: rule=ci-read repositories=acme/api")
	assert.Contains(t, res.Output, "jitkey: the broker minted a token")
	assert.NotContains(t, res.Output, "ledger missed")
	agents := w.api.userAgents(revokeRoute)
	require.NotEmpty(t, agents)
	for _, ua := range agents {
		assert.True(t, strings.HasPrefix(ua, "jitkey-broker/"), "the broker revokes, not the job: %s", ua)
	}
	for _, rec := range w.sim.Ledger() {
		assert.Equal(t, ghsim.StateRevoked, rec.State(), "token %d should be revoked", rec.ID)
	}

	ring, err := ledger.NewKeyring(key)
	require.NoError(t, err)
	led, err := ledger.Open(context.Background(), ledger.Config{Driver: "sqlite", DSN: filepath.Join(dir, "ledger.db"), Keys: ring})
	require.NoError(t, err)
	defer led.Close()
	st, err := led.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Entries, "one exchange recorded")
	assert.Zero(t, st.Live)
	var minted string
	for _, l := range strings.Split(logs, "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Record struct {
				Outcome string `json:"outcome"`
				SHA     string `json:"token_sha256"`
			} `json:"record"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "audit" && rec.Record.Outcome == "minted" {
			minted = rec.Record.SHA
		}
	}
	require.NotEmpty(t, minted, "the broker's audit log records the mint:\n%s", logs)
	for _, rec := range w.sim.Ledger() {
		if strings.HasPrefix(rec.SHA256, minted) {
			e, err := led.Get(context.Background(), rec.SHA256)
			require.NoError(t, err)
			assert.Equal(t, "job", e.Revoked.By, "the post step revoked through the broker")
		}
	}
	secretscan.AssertClean(t, "act output", res.Output, append(w.secrets(), base64.StdEncoding.EncodeToString(key))...)
	secretscan.AssertClean(t, "broker log", logs, append(w.secrets(), base64.StdEncoding.EncodeToString(key))...)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, ln.Close())
	return port
}

// startServe runs `jitkey serve` and waits until it listens; stop ends it
// (SIGTERM: graceful) and returns its log.
func startServe(t *testing.T, bin, cfg string, env ...string) (stop func() string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", cfg)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var logs strings.Builder
	ready, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		fired := false
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if !fired && strings.Contains(sc.Text(), `"msg":"jitkey serve: listening"`) {
				fired = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatalf("jitkey serve exited:\n%s", logs.String())
	case <-time.After(60 * time.Second):
		t.Fatal("jitkey serve did not start in 60 s")
	}
	return func() string {
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		_ = cmd.Wait()
		return logs.String()
	}
}
