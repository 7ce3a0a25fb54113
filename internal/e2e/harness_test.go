//go:build unix

package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/secretscan"
)

// actTimeout bounds one act run; a healthy one takes a few seconds.
const actTimeout = 3 * time.Minute

// requireAct skips the test, saying why, when act cannot run here.
func requireAct(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped under -short: runs workflows through act")
	}
	p, err := exec.LookPath("act")
	if err != nil {
		t.Skip("e2e: act is not on PATH; `bash .ci/run` builds the pinned one from .ci/tools/act, " +
			"or: go build -C .ci/tools/act -o \"$(go env GOPATH)/bin/act\" github.com/nektos/act")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("e2e: node is not on PATH; the action's launchers need it")
	}
	return p
}

// requireAction skips the test while the repository has no action.yml yet
// (it is being built beside these tests); once it exists, the test runs.
func requireAction(t *testing.T, root string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "action.yml")); errors.Is(err, fs.ErrNotExist) {
		t.Skip("e2e: the repository has no action.yml yet")
	}
}

// repoRoot is the directory holding jitkey's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(b, []byte("module github.com/jitkey/jitkey\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no jitkey go.mod above the test's directory")
		dir = parent
	}
}

// releaseCommands are the binaries a release puts in dist/, each with the
// version the harness stamps into it. A binary's User-Agent is
// "jitkey/"+version, so distinct versions tell which binary made an API call
// (the post step's revoke comes from jitkey-post, say).
var releaseCommands = map[string]string{
	"jitkey":      "e2e-jitkey",
	"jitkey-mint": "e2e-jitkey-mint",
	"jitkey-post": "e2e-jitkey-post",
}

// userAgent is the User-Agent of the harness's build of command cmd.
func userAgent(cmd string) string { return "jitkey/" + releaseCommands[cmd] }

var build struct {
	once sync.Once
	dir  string
	bins map[string]string
	err  error
}

// releaseBinaries builds every command in releaseCommands once per test
// process, as release.yml does (CGO_ENABLED=0, -trimpath, version stamped),
// and returns their paths by command name.
func releaseBinaries(t *testing.T, root string) map[string]string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "jitkey-e2e-bin-")
		if build.err != nil {
			return
		}
		build.bins = map[string]string{}
		for name, version := range releaseCommands {
			bin := filepath.Join(build.dir, name)
			cmd := exec.Command("go", "build", "-trimpath",
				"-ldflags", "-X github.com/jitkey/jitkey/internal/runstep.Version="+version,
				"-o", bin, "./cmd/"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				build.err = fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out)
				return
			}
			build.bins[name] = bin
		}
	})
	require.NoError(t, build.err)
	return build.bins
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// world is one simulated GitHub with one App installed on acme/api, and the
// job identity the workflow runs as. The job reaches the REST API at apiURL,
// the simulator served again behind a recorder of User-Agents.
type world struct {
	sim       *ghsim.Sim
	app       *ghsim.App
	api       *agentRecorder
	apiURL    string
	jobToken  string
	oidcURL   string
	oidcToken string
}

// agentRecorder records the User-Agent of every request it passes on,
// by "METHOD /path" (the path without the API prefix).
type agentRecorder struct {
	mu     sync.Mutex
	prefix string
	agents map[string][]string
}

func (a *agentRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		key := r.Method + " " + strings.TrimPrefix(r.URL.Path, a.prefix)
		a.agents[key] = append(a.agents[key], r.UserAgent())
		a.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// userAgents are the User-Agents of the requests to route, in order.
func (a *agentRecorder) userAgents(route string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.agents[route])
}

const e2ePolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "ci-read"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", event_name: "push"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}]
`

// e2eOrgPolicy is acme's organisation policy (acme/.github): the ceiling.
const e2eOrgPolicy = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "write"}
`

func newWorld(t *testing.T) *world {
	t.Helper()
	sim := ghsim.New(ghsim.Options{})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })

	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	sim.AddOrg("acme")
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: ".github", DefaultBranch: "main", Private: true})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", DefaultBranch: "main", Private: true})
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "infra", DefaultBranch: "main", Private: true})
	sim.Install(app.ID, "acme", ghsim.InstallSpec{
		Permissions: map[string]string{"contents": "write", "issues": "write", "metadata": "read", "actions": "read"},
	})
	sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(e2eOrgPolicy))
	sim.PutFile("acme", "api", "main", ".github/jitkey/policy.cue", []byte(e2ePolicy))

	// The simulator's own address stays its web root and OIDC issuer.
	root := strings.TrimSuffix(sim.ServerURL(), "/")
	prefix := strings.TrimPrefix(sim.BaseURL(), root)
	api := &agentRecorder{prefix: prefix, agents: map[string][]string{}}
	srv := httptest.NewServer(api.wrap(sim.Handler()))
	t.Cleanup(srv.Close)

	w := &world{sim: sim, app: app, api: api, apiURL: srv.URL + prefix, jobToken: sim.JobToken("acme/api")}
	w.oidcURL, w.oidcToken = sim.OIDCRequest(sim.JobClaims("acme/api"))
	return w
}

// secrets are every secret value the job could leak.
func (w *world) secrets() []string {
	return []string{string(w.app.PrivateKeyPEM), w.jobToken, w.oidcToken}
}

// workspace lays out a repository for act: the action (action.yml and its
// launchers) copied from the repository root, the workflow under test and
// its helper script, committed to a fresh git repository whose origin names
// acme/api. A copy keeps act's own copy of the workspace small and keeps the
// shared working tree out of the run.
//
// With bins set (releaseBinaries), each binary goes where a release puts it,
// dist/CMD-OS-ARCH, with its line in dist/SHA256SUMS, so the launcher takes
// its prebuilt path: it checks the checksum and runs it (building from source
// would need the whole tree).
func workspace(t *testing.T, root, workflow string, bins map[string]string) string {
	t.Helper()
	ws := t.TempDir()
	copyFile(t, filepath.Join(root, "action.yml"), filepath.Join(ws, "action.yml"))
	copyTree(t, filepath.Join(root, "action"), filepath.Join(ws, "action"))
	copyFile(t, filepath.Join(root, "testdata", "e2e", workflow), filepath.Join(ws, ".github", "workflows", workflow))
	copyFile(t, filepath.Join(root, "testdata", "e2e", "use-token.mjs"), filepath.Join(ws, ".e2e", "use-token.mjs"))
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"remote", "add", "origin", "https://github.com/acme/api.git"},
		{"add", "-A"},
		{"-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-q", "-m", "e2e"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = ws
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	if len(bins) > 0 {
		// After the commit: act copies the directory, not the git tree.
		var sums strings.Builder
		for _, cmd := range slices.Sorted(maps.Keys(bins)) {
			name := cmd + "-" + runtime.GOOS + "-" + runtime.GOARCH
			copyFile(t, bins[cmd], filepath.Join(ws, "dist", name))
			b, err := os.ReadFile(bins[cmd])
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			sums.WriteString(hex.EncodeToString(sum[:]) + "  " + name + "\n")
		}
		require.NoError(t, os.WriteFile(filepath.Join(ws, "dist", "SHA256SUMS"), []byte(sums.String()), 0o644))
	}
	return ws
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	info, err := os.Stat(from)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(to), 0o755))
	require.NoError(t, os.WriteFile(to, b, info.Mode().Perm()))
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	})
	require.NoError(t, err)
}

// watchBuffer collects output and closes ready the first time marker shows up.
type watchBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	ready  chan struct{}
	fired  bool
}

func newWatchBuffer(marker string) *watchBuffer {
	return &watchBuffer{marker: marker, ready: make(chan struct{})}
}

func (b *watchBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.marker != "" && !b.fired && strings.Contains(b.buf.String(), b.marker) {
		b.fired = true
		close(b.ready)
	}
	return n, err
}

func (b *watchBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// actRun is one job run through act.
type actRun struct {
	Job      string
	Env      map[string]string // --env for the workflow
	Secrets  map[string]string // --secret-file
	CancelOn string            // when this text appears, send SIGINT to act
	// CancelWhen, polled while act runs, sends SIGINT to act once it holds;
	// KillWhen SIGKILLs act's whole process group (the runner lost).
	CancelWhen func(output string) bool
	KillWhen   func(output string) bool
}

type actResult struct {
	Output   string
	ExitCode int
	Signaled bool // SIGINT was sent
	Killed   bool // act's process group was SIGKILLed
}

// run runs one job of workflow through act in host mode and returns its
// combined output. act's own environment is built from scratch: nothing of
// the test process's environment (a CI token, say) reaches the job.
func run(t *testing.T, act, ws, workflow string, r actRun) actResult {
	t.Helper()
	home := t.TempDir()
	secretFile := filepath.Join(t.TempDir(), "secrets.env")
	var sb strings.Builder
	for k, v := range r.Secrets {
		fmt.Fprintf(&sb, "%s=%s\n", k, dotenvQuote(v))
	}
	require.NoError(t, os.WriteFile(secretFile, []byte(sb.String()), 0o600))

	args := []string{"push",
		"-W", filepath.Join(".github", "workflows", workflow),
		"-j", r.Job,
		"-P", "ubuntu-latest=-self-hosted",
		"--no-cache-server",
		"--action-cache-path", filepath.Join(home, "act"),
		"--secret-file", secretFile,
		"--env-file", os.DevNull,
		"--var-file", os.DevNull,
	}
	for k, v := range r.Env {
		args = append(args, "--env", k+"="+v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), actTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, args...)
	cmd.Dir = ws
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"TMPDIR=" + os.TempDir(),
		"LANG=C.UTF-8",
		"ACT_DISABLE_VERSION_CHECK=1", // act would ask its notices service otherwise
	}
	out := newWatchBuffer(r.CancelOn)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	// Whatever happens, nothing the job started outlives the test.
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })

	res := actResult{}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stops, quit := watch(out, r)
	defer quit()
	var err error
	select {
	case err = <-done:
	case <-out.ready:
		res.Signaled = true
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		err = <-done
	case stop := <-stops:
		if stop == syscall.SIGKILL {
			res.Killed = true
			require.NoError(t, syscall.Kill(-pgid, syscall.SIGKILL))
		} else {
			res.Signaled = true
			require.NoError(t, cmd.Process.Signal(stop))
		}
		err = <-done
	}
	res.Output = out.String()
	require.NoError(t, ctx.Err(), "act did not finish within %s:\n%s", actTimeout, res.Output)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	default:
		require.NoError(t, err, "run act:\n%s", res.Output)
	}
	if t.Failed() || testing.Verbose() {
		// act's output went through secretscan below; log it redacted anyway.
		t.Logf("act %s output:\n%s", r.Job, redact(res.Output))
	}
	return res
}

// watch polls r's CancelWhen and KillWhen over act's output until one
// holds (it sends the signal to deliver) or quit is called.
func watch(out *watchBuffer, r actRun) (<-chan syscall.Signal, func()) {
	ch := make(chan syscall.Signal, 1)
	quit := make(chan struct{})
	if r.CancelWhen == nil && r.KillWhen == nil {
		return ch, func() {}
	}
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			o := out.String()
			switch {
			case r.KillWhen != nil && r.KillWhen(o):
				ch <- syscall.SIGKILL
				return
			case r.CancelWhen != nil && r.CancelWhen(o):
				ch <- syscall.SIGINT
				return
			}
		}
	}()
	return ch, func() { close(quit) }
}

// dotenvQuote quotes a value for act's --secret-file (dotenv): double
// quotes, with newlines and quotes escaped.
func dotenvQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// redact replaces anything secretscan's patterns find, so a failing test's
// log never shows a leaked value.
func redact(s string) string {
	found := secretscan.Scan(s)
	for i := len(found) - 1; i >= 0; i-- {
		f := found[i]
		if f.Offset+f.Length <= len(s) {
			s = s[:f.Offset] + "[REDACTED " + string(f.Kind) + "]" + s[f.Offset+f.Length:]
		}
	}
	return s
}
