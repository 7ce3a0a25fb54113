package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/post"
)

// sandboxBrokerPolicy lets acme/api's deploy workflow on main read and
// deploy acme/api.
const sandboxBrokerPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "deploy"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/heads/main"}
	grant: {repositories: ["caller"], permissions: {contents: "read", deployments: "write"}}
}]
`

// sandboxBrokerOrgPolicy is acme's organisation policy (acme/.github): the
// ceiling every repository's grants stay under.
const sandboxBrokerOrgPolicy = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "read", deployments: "write"}
`

// brokerSandboxSteps is the broker tour (jitkey sandbox --broker).
func brokerSandboxSteps() []sandboxStep {
	return []sandboxStep{
		{title: "a simulated GitHub, and `jitkey serve` (SQLite ledger) holding the App key", run: (*sandbox).brokerWorld, required: true},
		{title: "a deploy job that holds no key exchanges its OIDC token at the broker (`jitkey-post exchange`, the action with `broker:`)", run: (*sandbox).brokerMint, required: true},
		{title: "the runner is killed before the post step: nothing revokes from the job", run: (*sandbox).runnerKilled, required: true},
		{title: "GitHub sends the workflow_job completed webhook: the broker revokes the job's token", run: (*sandbox).jobCompleted, required: true},
		{title: "the ledger shows the token, who revoked it and when", run: (*sandbox).ledgerShows},
	}
}

// brokerTour is the part of the sandbox the broker tour adds.
type brokerTour struct {
	url     string
	stop    context.CancelFunc
	done    chan error
	served  served
	logs    *lockedBuffer
	run     ghsim.Run
	sha     string
	revoked time.Duration
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (sb *sandbox) brokerWorld(ctx context.Context) error {
	sb.sim = ghsim.New(ghsim.Options{})
	if _, err := sb.sim.Start(); err != nil {
		return fmt.Errorf("start the simulator: %w", err)
	}
	sb.app = sb.sim.AddApp(ghsim.AppSpec{Slug: "jitkey", Name: "jitkey sandbox"})
	sb.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true})
	sb.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: ".github", Private: true})
	sb.sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(sandboxBrokerOrgPolicy))
	sb.inst = sb.sim.Install(sb.app.ID, "acme", ghsim.InstallSpec{
		Permissions: map[string]string{"contents": "read", "deployments": "write", "actions": "read"}})
	sb.sim.PutFile("acme", "api", "main", ".github/jitkey/policy.cue", []byte(sandboxBrokerPolicy))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	url := "http://" + addr
	if err := os.WriteFile(filepath.Join(sb.dir, "app.pem"), sb.app.PrivateKeyPEM, 0o600); err != nil {
		return err
	}
	cfgPath := filepath.Join(sb.dir, "serve.cue")
	cfg := fmt.Sprintf(`listen: %q
public_url: %q
github: {api_url: %q, app_id: %d, private_key: file: "app.pem"}
issuers: [%q]
ledger: sqlite: path: "ledger.db"
encryption_key: env: "JITKEY_LEDGER_KEY"
webhook_secret: env: "JITKEY_WEBHOOK_SECRET"
`, addr, url, sb.sim.URL(), sb.app.ID, sb.sim.OIDCIssuer())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	secrets := map[string]string{"JITKEY_LEDGER_KEY": randomBase64(32), "JITKEY_WEBHOOK_SECRET": randomBase64(24)}
	env := Env{Getenv: func(k string) string { return secrets[k] }, Now: time.Now, Stdout: sb.out, Stderr: sb.out, Dir: sb.dir}
	conf, err := loadServeConfig(env, cfgPath)
	if err != nil {
		return err
	}
	bt := &brokerTour{url: url, logs: &lockedBuffer{}, done: make(chan error, 1)}
	sctx, cancel := context.WithCancel(ctx)
	bt.stop = cancel
	ready := make(chan served, 1)
	log := slog.New(slog.NewJSONHandler(bt.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { bt.done <- serve(sctx, env, conf, log, func(s served) { ready <- s }) }()
	select {
	case bt.served = <-ready:
	case err := <-bt.done:
		cancel()
		return fmt.Errorf("jitkey serve did not start: %w", err)
	}
	sb.broker = bt
	sb.sim.SetAppWebhook(sb.app.ID, url+"/v1/webhook", []byte(secrets["JITKEY_WEBHOOK_SECRET"]))
	sb.sayf("API %s, OIDC issuer %s", sb.sim.URL(), sb.sim.OIDCIssuer())
	sb.sayf("acme/.github holds the organisation policy (the ceiling); acme/api's policy lets its deploy workflow on main deploy acme/api")
	sb.sayf("jitkey serve on %s: the App key, the ledger (SQLite, tokens sealed with AES-256-GCM), the webhook secret", url)
	sb.sayf("the App's webhook (workflow_job, workflow_run, push) points at %s/v1/webhook", url)
	return nil
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (sb *sandbox) brokerMint(ctx context.Context) error {
	bt := sb.broker
	bt.run = sb.sim.StartRun(ghsim.RunSpec{Repo: "acme/api", Workflow: "deploy.yml", Jobs: []string{"deploy"}})
	claims := sb.sim.RunClaims(bt.run, bt.run.Jobs[0])
	vars, err := sb.runnerEnv("broker-deploy", claims)
	if err != nil {
		return err
	}
	for _, k := range []string{"INPUT_APP-ID", "INPUT_PRIVATE-KEY", "INPUT_GITHUB-TOKEN"} {
		delete(vars, k)
	}
	vars["INPUT_BROKER"] = bt.url
	for k, v := range vars {
		if strings.Contains(v, "PRIVATE KEY") {
			return fmt.Errorf("the job's environment holds a key (%s)", k)
		}
	}
	code, log := sb.step(ctx, vars, func(ctx context.Context, env Env, _ []string) int { return post.Exchange(ctx, env) })
	out := parseRunnerFile(vars["GITHUB_OUTPUT"])
	sb.token = out["token"]
	if code != ExitOK || sb.token == "" {
		return fmt.Errorf("the exchange exited %d:\n%s", code, log)
	}
	bt.sha = out["token-sha256"]
	sb.sayf("the job's inputs: broker=%s (no app-id, no private-key, no github-token)", bt.url)
	sb.sayf("%s", log)
	sb.sayf("outputs: rule=%s repositories=%s permissions=%s token-sha256=%s… (the token itself is masked)",
		out["rule"], out["repositories"], strings.ReplaceAll(out["permissions"], "\n", ", "), audit.ShortSHA(bt.sha))
	sb.sayf("run %d attempt %d, job %d (its check_run_id claim)", bt.run.ID, bt.run.Attempt, bt.run.Jobs[0].ID)
	return nil
}

func (sb *sandbox) runnerKilled(context.Context) error {
	rec, ok := sb.sim.TokenByValue(sb.token)
	if !ok || rec.State() != ghsim.StateValid {
		return fmt.Errorf("the token should still be valid")
	}
	sb.sayf("the post step never runs; GitHub would let the token live until %s", rec.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}

func (sb *sandbox) jobCompleted(ctx context.Context) error {
	bt := sb.broker
	start := time.Now()
	ds, err := sb.sim.CompleteJob(bt.run.Jobs[0].ID, "cancelled")
	if err != nil {
		return err
	}
	for _, d := range ds {
		sb.sayf("delivery %s: %s %s, X-Hub-Signature-256 verified, answered %d", d.ID, d.Event, d.Action, d.Status)
	}
	rec, ok := sb.sim.TokenByValue(sb.token)
	bt.revoked = time.Since(start)
	if !ok || rec.State() != ghsim.StateRevoked {
		return fmt.Errorf("the token is still valid after the job ended")
	}
	if bt.revoked > time.Second {
		return fmt.Errorf("the token was revoked %s after the event, more than a second", bt.revoked.Round(time.Millisecond))
	}
	gh, err := github.NewTokenClient(github.Options{BaseURL: sb.sim.URL()}, sb.token)
	if err != nil {
		return err
	}
	_, _, err = gh.FileContents(ctx, "acme", "api", ".github/jitkey/policy.cue", "")
	if e, ok := github.AsError(err); !ok || e.Status != 401 {
		return fmt.Errorf("the token still reads acme/api (%v)", err)
	}
	sb.sayf("the token was revoked %s after the event: GitHub now answers it HTTP 401", bt.revoked.Round(time.Millisecond))
	return nil
}

func (sb *sandbox) ledgerShows(ctx context.Context) error {
	bt := sb.broker
	defer func() {
		bt.stop()
		if err := <-bt.done; err != nil {
			sb.sayf("jitkey serve stopped: %v", err)
		}
	}()
	e, err := bt.served.Ledger.Get(ctx, bt.sha)
	if err != nil {
		return err
	}
	sb.sayf("ledger: sha256 %s… rule %q, %s, run %d attempt %d job %d", audit.ShortSHA(bt.sha), e.Intent.Rule,
		strings.Join(e.Intent.Repositories, ","), e.Intent.Job.RunID, e.Intent.Job.RunAttempt, e.Intent.Job.CheckRunID)
	sb.sayf("        state %s: minted %s, revoked %s by %s; the sealed token was erased",
		e.State, e.MintedAt.UTC().Format("15:04:05.000"), e.Revoked.At.UTC().Format("15:04:05.000"), e.Revoked.By)
	if e.State != "revoked" || e.Revoked.By != "webhook:workflow_job" {
		return fmt.Errorf("the ledger says %s by %q", e.State, e.Revoked.By)
	}
	n := 0
	for _, l := range strings.Split(bt.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"audit"`) {
			n++
		}
	}
	sb.sayf("the broker's log holds %d audit records (the mint and the revocation)", n)
	return nil
}
