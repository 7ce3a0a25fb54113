package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// brokerPolicy lets push jobs on acme/api's main branch read acme/api and
// write its issues; jobs of acme/web get nothing.
const brokerPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "ci"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", event_name: "push"}
	grant: {repositories: ["caller"], permissions: {contents: "read", issues: "write"}}
}]
`

// brokerOrgPolicy is acme's organisation policy: the ceiling.
const brokerOrgPolicy = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "write", issues: "write"}
`

// brokerWorld is a simulator (org acme, repos api and web, the App
// installed on both) and a jitkey serve on a fresh ledger in front of it.
type brokerWorld struct {
	t      testing.TB
	sim    *ghsim.Sim
	app    *ghsim.App
	url    string // the broker's base URL, also its audience
	secret []byte // the webhook secret
	srv    cli.Served
	logs   *syncBuf
	logBuf *bytes.Buffer
	stop   context.CancelFunc
	done   chan error
	hc     *http.Client
	cfg    string
	env    cli.Env // what the broker runs with; start(env) restarts it
}

type brokerOpt struct {
	ledger   string // extra ledger CUE; default SQLite in a temp dir
	limits   string // CUE for limits, or any other top-level field
	noStart  bool
	prefix   string
	simOpts  ghsim.Options
	envExtra map[string]string
}

func newBrokerWorld(t testing.TB, o brokerOpt) *brokerWorld {
	t.Helper()
	o.simOpts.Prefix = o.prefix
	sim := ghsim.New(o.simOpts)
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	for _, name := range []string{"api", "web", ".github"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name, Private: true})
	}
	sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write", "issues": "write", "actions": "read"}})
	sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(brokerOrgPolicy))
	sim.PutFile("acme", "api", "main", mintPolicyPath, []byte(brokerPolicy))
	w := &brokerWorld{t: t, sim: sim, app: app, secret: []byte(randomB64(t, 24)), logBuf: &bytes.Buffer{},
		hc: &http.Client{Timeout: 30 * time.Second}}
	w.logs = &syncBuf{b: w.logBuf}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.pem"), app.PrivateKeyPEM, 0o600))
	if o.ledger == "" {
		o.ledger = fmt.Sprintf("ledger: sqlite: path: %q\n", filepath.Join(dir, "ledger.db"))
	}
	w.cfg = filepath.Join(dir, "serve.cue")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
public_url: "http://broker.test"
github: {api_url: %q, app_id: %d, private_key: file: "app.pem"}
issuers: [%q]
%s
encryption_key: env: "LEDGER_KEY"
webhook_secret: env: "HOOK_SECRET"
sweep: {interval: "1h", min_age: "0s"}
log_level: "debug"
%s
`, sim.URL(), app.ID, sim.OIDCIssuer(), o.ledger, o.limits)
	require.NoError(t, os.WriteFile(w.cfg, []byte(cfg), 0o600))
	vars := map[string]string{"LEDGER_KEY": randomB64(t, 32), "HOOK_SECRET": string(w.secret)}
	for k, v := range o.envExtra {
		vars[k] = v
	}
	env := cli.Env{Stdout: io.Discard, Stderr: w.logs, Getenv: func(k string) string { return vars[k] }, Now: time.Now, Dir: dir}
	w.env = env
	if o.noStart {
		return w
	}
	w.start(env)
	return w
}

func (w *brokerWorld) start(env cli.Env) {
	t := w.t
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan cli.Served, 1)
	w.done = make(chan error, 1)
	go func() { w.done <- cli.StartServe(ctx, env, w.cfg, func(s cli.Served) { ready <- s }) }()
	select {
	case w.srv = <-ready:
	case err := <-w.done:
		cancel()
		t.Fatalf("jitkey serve did not start: %v\n%s", err, w.logBuf.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("jitkey serve did not start in 30 s")
	}
	w.stop = cancel
	w.url = "http://" + w.srv.Addr
	w.sim.SetAppWebhook(w.app.ID, w.url+"/v1/webhook", w.secret)
	t.Cleanup(func() { w.shutdown() })
}

// shutdown stops the broker and waits for it.
func (w *brokerWorld) shutdown() {
	if w.stop == nil {
		return
	}
	w.stop()
	w.stop = nil
	select {
	case err := <-w.done:
		assert.NoError(w.t, err)
	case <-time.After(40 * time.Second):
		w.t.Error("jitkey serve did not stop in 40 s")
	}
}

func randomB64(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// oidc signs a job token for claims with the broker as audience.
func (w *brokerWorld) oidc(claims map[string]any) string {
	return w.sim.IssueOIDC(claims, "http://broker.test")
}

// pushClaims are the claims of a push job on acme/api's main branch, in a
// run of its own.
func (w *brokerWorld) pushClaims() (map[string]any, ghsim.Run) {
	run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
	return w.sim.RunClaims(run, run.Jobs[0]), run
}

// post sends a request to the broker and returns the status and body.
func (w *brokerWorld) post(path, bearer string, body []byte, header ...string) (int, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+path, bytes.NewReader(body))
	require.NoError(w.t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := w.hc.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// exchange trades an OIDC token through the real client.
func (w *brokerWorld) exchange(ctx context.Context, oidc string, req brokerclient.TokenRequest) (*brokerclient.TokenAnswer, error) {
	c, err := brokerclient.New(w.url, w.hc)
	require.NoError(w.t, err)
	return c.Exchange(ctx, oidc, req)
}

func problemOf(t testing.TB, body []byte) brokerclient.Problem {
	t.Helper()
	var p struct {
		Error brokerclient.Problem `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	return p.Error
}

// tokenState is the simulator's state of a token by value.
func (w *brokerWorld) tokenState(tok string) ghsim.TokenState {
	rec, ok := w.sim.TokenByValue(tok)
	require.True(w.t, ok, "the simulator never issued this token")
	return rec.State()
}

// jobTokens counts the installation tokens minted for jobs: not the
// broker's own read token (contents and actions read on the installation)
// nor the policy-read tokens (contents read only; the jobs here are granted
// issues: write besides).
func (w *brokerWorld) jobTokens() []ghsim.TokenRecord {
	var out []ghsim.TokenRecord
	for _, r := range w.sim.Ledger() {
		if r.RepositorySelection == "all" && r.Permissions["actions"] == "read" && r.Permissions["contents"] == "read" && len(r.Permissions) == 3 {
			continue
		}
		if isPolicyRead(r) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// policyReadTokens are the tokens the broker read policies with.
func (w *brokerWorld) policyReadTokens() []ghsim.TokenRecord {
	var out []ghsim.TokenRecord
	for _, r := range w.sim.Ledger() {
		if isPolicyRead(r) {
			out = append(out, r)
		}
	}
	return out
}

func isPolicyRead(r ghsim.TokenRecord) bool {
	return len(r.Permissions) == 2 && r.Permissions["contents"] == "read" && r.Permissions["metadata"] == "read"
}

var logMu sync.Mutex

// logText is what the broker logged so far.
func (w *brokerWorld) logText() string {
	logMu.Lock()
	defer logMu.Unlock()
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	return w.logBuf.String()
}

var _ = strings.Contains
