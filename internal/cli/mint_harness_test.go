package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

const mintPolicyPath = ".github/jitkey/policy.cue"

const mintPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "deploy-production"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}
}, {
	name: "ci-read"
	match: {repository: "acme/api", event_name: "pull_request"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}]
`

// mintOrgPolicy is acme's organisation policy: the ceiling.
const mintOrgPolicy = `apiVersion: "jitkey.dev/v1"
ceiling: permissions: {contents: "write", deployments: "write", packages: "write", statuses: "write"}
`

// mintInfraPolicy is acme/infra's: it consents to acme/api's production deploy.
const mintInfraPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "api-deploys"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}
	grant: {repositories: ["acme/infra"], permissions: {contents: "read", deployments: "write"}}
}]
`

// bombPolicy evaluates for minutes and hundreds of megabytes in CUE while
// being a few bytes: jitkey must never evaluate it unbounded.
const bombPolicy = `import "list"

apiVersion: "jitkey.dev/v1"
x: [for a in list.Range(0, 3000, 1) for b in list.Range(0, 3000, 1) {a * b}]
`

// mintWorld is a simulator with org acme, an App installed on api and infra,
// and the policy committed on api's default branch.
type mintWorld struct {
	sim  *ghsim.Sim
	clk  *ghsim.ManualClock
	app  *ghsim.App
	inst ghsim.Installation
}

func newMintWorld(t testing.TB) *mintWorld { return newMintWorldAt(t, "") }

// newMintWorldAt serves the API under prefix ("/api/v3" for the GHES layout).
func newMintWorldAt(t testing.TB, prefix string) *mintWorld {
	t.Helper()
	return newMintWorldWith(t, ghsim.Options{Prefix: prefix})
}

// newMintWorldWith is newMintWorldAt with more simulator options (the token format).
func newMintWorldWith(t testing.TB, opts ghsim.Options) *mintWorld {
	t.Helper()
	clk := ghsim.NewClock(time.Now())
	opts.Clock, opts.TimeoutCap = clk, 200*time.Millisecond
	sim := ghsim.New(opts)
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	for _, name := range []string{".github", "api", "infra", "web"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name, Private: true})
	}
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{
		Permissions: map[string]string{"contents": "write", "deployments": "write"}, Repositories: []string{".github", "api", "infra"}})
	sim.PutFile("acme", ".github", "main", ".github/jitkey/org.cue", []byte(mintOrgPolicy))
	sim.PutFile("acme", "api", "main", mintPolicyPath, []byte(mintPolicy))
	sim.PutFile("acme", "infra", "main", ".github/jitkey/consent.cue", []byte(mintInfraPolicy))
	return &mintWorld{sim: sim, clk: clk, app: app, inst: inst}
}

// deployClaims are the OIDC claims of a production deploy job.
func (w *mintWorld) deployClaims() map[string]any {
	c := w.sim.JobClaims("acme/api")
	c["environment"] = "production"
	delete(c, "sub")
	return c
}

// job is one step's runner: environment, files, streams.
type job struct {
	t      testing.TB
	dir    string
	vars   map[string]string
	stdout bytes.Buffer
	stderr bytes.Buffer
	stdin  string
	now    func() time.Time
}

// newJob returns a runner environment for the mint step of a job on acme/api.
// claims == nil means no OIDC (no id-token: write).
func (w *mintWorld) newJob(t testing.TB, claims map[string]any) *job {
	t.Helper()
	dir := t.TempDir()
	j := &job{t: t, dir: dir, now: w.clk.Now, vars: map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_API_URL": w.sim.URL(), "GITHUB_SERVER_URL": w.sim.ServerURL(),
		"GITHUB_REPOSITORY": "acme/api", "GITHUB_REPOSITORY_OWNER": "acme", "GITHUB_REF": "refs/heads/main",
		"GITHUB_EVENT_NAME": "push", "GITHUB_ACTOR": "octocat",
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STATE": filepath.Join(dir, "state"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_ENV": filepath.Join(dir, "env"),
		"INPUT_APP-ID": strconv.FormatInt(w.app.ID, 10), "INPUT_PRIVATE-KEY": string(w.app.PrivateKeyPEM),
		"INPUT_GITHUB-TOKEN": w.sim.JobToken("acme/api"), "INPUT_POLICY": mintPolicyPath,
	}}
	if claims != nil {
		j.vars["ACTIONS_ID_TOKEN_REQUEST_URL"], j.vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = w.sim.OIDCRequest(claims)
	}
	return j
}

func (j *job) run(ctx context.Context, args ...string) int {
	j.stdout.Reset()
	j.stderr.Reset()
	vars := map[string]string{}
	for k, v := range j.vars {
		vars[k] = v
	}
	env := cli.Env{Stdin: strings.NewReader(j.stdin), Stdout: &syncBuf{b: &j.stdout}, Stderr: &syncBuf{b: &j.stderr},
		Getenv: func(k string) string { return vars[k] }, Now: j.now, Dir: j.dir}
	return cli.Run(ctx, args, env)
}

// post turns this job's saved state into the post step's environment.
func (j *job) post() *job { return postWithState(j, j.file("state")) }

func (j *job) file(name string) string {
	p := filepath.Join(j.dir, name)
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		j.t.Fatal(err)
	}
	return string(b)
}

func (j *job) outputs() map[string]string { return parseEnvFile(j.t, j.file("output")) }

// everything is every byte the step wrote, for leak scans.
func (j *job) everything() map[string]string {
	return map[string]string{"stdout": j.stdout.String(), "stderr": j.stderr.String(),
		"summary": j.file("summary"), "state": j.file("state"), "output": j.file("output"), "env": j.file("env")}
}

// parseEnvFile reads NAME<<DELIM\nvalue\nDELIM records; a name written
// again keeps its last value.
func parseEnvFile(t testing.TB, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range envRecords(s) {
		out[r[0]] = r[1]
	}
	return out
}

// envRecords are the NAME<<DELIM records of a file, in order.
func envRecords(s string) [][2]string {
	var out [][2]string
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out = append(out, [2]string{name, strings.Join(val, "\n")})
	}
	return out
}

// stateValues is every value saved under name in a state file, in order
// (a name saved again has several).
func stateValues(t testing.TB, s, name string) []string {
	t.Helper()
	var out []string
	for _, r := range envRecords(s) {
		if r[0] == name {
			out = append(out, r[1])
		}
	}
	return out
}

type syncBuf struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
