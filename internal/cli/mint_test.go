package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/secretscan"
)

const (
	routeInstallation    = "GET /repos/{owner}/{repo}/installation"
	routeAppInstallation = "GET /app/installations/{installation_id}"
	routeMint            = "POST /app/installations/{installation_id}/access_tokens"
	routeContents        = "GET /repos/{owner}/{repo}/contents/{path}"
	routeGraphQL         = "POST /graphql"
	routeRevoke          = "DELETE /installation/token"
)

func apiCalls(sim *ghsim.Sim) int {
	c := sim.Calls()
	return c[routeInstallation] + c[routeAppInstallation] + c[routeMint] + c[routeContents] + c[routeGraphQL] + c[routeRevoke]
}

// jobTokens leaves out the policy-read tokens the jobs' main steps handed
// to their post steps: the tokens minted for the jobs.
func jobTokens(recs []ghsim.TokenRecord, jobs ...*job) []ghsim.TokenRecord {
	reads := map[string]bool{}
	for _, j := range jobs {
		for _, tok := range j.readTokens() {
			reads[ghsim.HashToken(tok)] = true
		}
	}
	var out []ghsim.TokenRecord
	for _, r := range recs {
		if !reads[r.SHA256] {
			out = append(out, r)
		}
	}
	return out
}

// readTokens are the policy-read tokens the main step listed in the step
// state for the post step, every one it ever listed.
func (j *job) readTokens() []string {
	var out []string
	for _, v := range stateValues(j.t, j.file("state"), "policy-read-tokens") {
		for _, tok := range strings.Fields(v) {
			if !slices.Contains(out, tok) {
				out = append(out, tok)
			}
		}
	}
	return out
}

// assertNoLeak checks every output of a step: the token may appear only in
// the state and output files (where it is asked for) and in its own
// ::add-mask:: command; the private key, the job token and any JWT nowhere
// but their mask commands.
func assertNoLeak(t *testing.T, j *job, token string, w *mintWorld) {
	t.Helper()
	known := []string{string(w.app.PrivateKeyPEM), j.vars["INPUT_GITHUB-TOKEN"]}
	if token != "" {
		known = append(known, token)
	}
	for name, text := range j.everything() {
		if name == "state" || name == "output" {
			for k, v := range parseEnvFile(t, text) {
				if k == "token" {
					assert.Equal(t, token, v)
					text = strings.ReplaceAll(text, v, "")
				}
			}
		}
		if name == "state" {
			for _, tok := range j.readTokens() { // the post step's to revoke
				text = strings.ReplaceAll(text, tok, "")
			}
		}
		if name == "stdout" {
			text = stripMaskCommands(t, text, token)
		}
		secretscan.AssertClean(t, name, text, known...)
	}
}

// stripMaskCommands drops ::add-mask:: lines, checking that the token's mask
// comes before any other line that mentions it.
func stripMaskCommands(t *testing.T, stdout, token string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "::add-mask::") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// TestMintThenRevokeInActions is a job's whole cycle, with installation
// tokens of both formats (the classic 40 characters, and the stateless
// ghs_APPID_JWT of about 520 with dots): masked before anything else, in
// the outputs and the step state, its SHA-256 in the audit records and the
// summary, revoked by the post step, and nowhere else.
func TestMintThenRevokeInActions(t *testing.T) {
	t.Parallel()
	for _, format := range []ghsim.TokenFormat{ghsim.TokenClassic, ghsim.TokenStateless} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			testMintThenRevokeInActions(t, format)
		})
	}
}

func testMintThenRevokeInActions(t *testing.T, format ghsim.TokenFormat) {
	w := newMintWorldWith(t, ghsim.Options{TokenFormat: format})
	j := w.newJob(t, w.deployClaims())
	audit := filepath.Join(j.dir, "audit.jsonl")
	j.vars["INPUT_AUDIT-FILE"] = audit
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"), "stderr: %s\nstdout: %s", &j.stderr, &j.stdout)

	out := j.outputs()
	tok := out["token"]
	require.True(t, strings.HasPrefix(tok, "ghs_"))
	if format == ghsim.TokenStateless {
		require.Greater(t, len(tok), 400, "a stateless token")
		require.Contains(t, tok, ".")
	} else {
		require.Len(t, tok, 40)
	}
	sum := sha256.Sum256([]byte(tok))
	assert.Equal(t, hex.EncodeToString(sum[:]), out["token-sha256"], "the audit SHA-256 is of the whole token")
	assert.Contains(t, j.file("state"), tok, "the post step's state holds the whole token")
	rec, ok := w.sim.TokenByValue(tok)
	require.True(t, ok)
	assert.Equal(t, ghsim.StateValid, rec.State())
	assert.Equal(t, map[string]string{"contents": "read", "deployments": "write", "metadata": "read"}, rec.Permissions)
	assert.ElementsMatch(t, []string{"api", "infra"}, rec.Repositories)
	assert.Equal(t, "deploy-production", out["rule"])
	assert.Equal(t, "acme/api,acme/infra", out["repositories"])
	assert.Equal(t, "contents: read\ndeployments: write", out["permissions"])
	assert.Equal(t, rec.SHA256, out["token-sha256"])
	assert.Equal(t, "jitkey", out["app-slug"])
	assert.NotEmpty(t, out["expires-at"])
	// The lookup, a read token and the policies of the organisation and
	// acme/api, a read token and the policy of acme/infra (which the rule
	// names), the mint. The read tokens are the post step's to revoke.
	assert.Equal(t, 6, apiCalls(w.sim), "API calls: %v", w.sim.Calls())
	assert.Zero(t, w.sim.Calls()[routeRevoke], "nothing is revoked on the mint's path")
	reads := j.readTokens()
	require.Len(t, reads, 2, "the read tokens are in the step state for the post step")
	assert.Len(t, jobTokens(w.sim.ValidTokens(), j), 1, "one token for the job")
	assert.Len(t, w.sim.ValidTokens(), 3, "the read tokens live until the post step")

	// The mask is the first thing printed after the mint.
	stdout := j.stdout.String()
	maskAt := strings.Index(stdout, "::add-mask::"+tok)
	require.GreaterOrEqual(t, maskAt, 0)
	assert.Equal(t, 1, strings.Count(stdout, tok), "the token appears once in stdout: in its mask command")
	summary := j.file("summary")
	assert.Contains(t, summary, "deploy-production")
	assert.Contains(t, summary, "verified by OIDC")
	assert.Contains(t, summary, rec.SHA256[:16])
	assert.Contains(t, summary, "deployments")
	assert.Contains(t, summary, out["expires-at"], "the summary says when the token expires")
	assert.Contains(t, stdout, `jitkey audit: {`, "the audit record goes to the log too")
	assert.Contains(t, stdout, `"outcome":"minted"`)
	assertNoLeak(t, j, tok, w)

	var line map[string]any
	raw, err := os.ReadFile(audit)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &line))
	assert.Equal(t, "minted", line["outcome"])
	assert.Equal(t, true, line["verified"])

	post := j.post()
	require.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"), "stderr: %s", &post.stderr)
	rec, _ = w.sim.TokenByValue(tok)
	assert.Equal(t, ghsim.StateRevoked, rec.State())
	assert.Equal(t, 3, w.sim.Calls()[routeRevoke], "a revoke is one API call: the job's token and the two read tokens")
	assert.Empty(t, w.sim.ValidTokens(), "the post step revoked the read tokens too")
	for _, r := range reads {
		assert.Contains(t, post.stdout.String(), "jitkey: policy-read token sha256 "+ghsim.HashToken(r)[:16]+" revoked")
	}
	assert.Contains(t, post.file("summary"), "revoked")
	assertNoLeak(t, post, tok, w)
	raw, err = os.ReadFile(audit)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(raw), "\n"))
	assert.Contains(t, string(raw), `"outcome":"revoked"`)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Contains(t, l, `"rule":"deploy-production"`, "the revoke record names the rule the token came from, as the mint record does")
	}
}

// TestMintCallCounts counts the API calls of a mint on the simulator: the
// installation lookup (or the read of a given installation-id), a
// policy-read token on the repositories whose policies are read, one
// query for them, the mint; a second read token and query when the rule
// names a repository the request did not. The post step then revokes the
// job's token and the read tokens, one call each.
func TestMintCallCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		inputs      map[string]string
		calls, read int
	}{
		{"one repository", map[string]string{"INPUT_REPOSITORIES": "api", "INPUT_PERMISSIONS": "contents: read"}, 4, 1},
		{"one repository, installation-id given", map[string]string{"INPUT_REPOSITORIES": "api", "INPUT_PERMISSIONS": "contents: read", "INPUT_INSTALLATION-ID": "ID"}, 4, 1},
		{"two repositories named", map[string]string{"INPUT_REPOSITORIES": "api,infra"}, 4, 1},
		{"two repositories named, installation-id given", map[string]string{"INPUT_REPOSITORIES": "api,infra", "INPUT_INSTALLATION-ID": "ID"}, 4, 1},
		{"two repositories from the rule", map[string]string{}, 6, 2},
		{"two repositories from the rule, installation-id given", map[string]string{"INPUT_INSTALLATION-ID": "ID"}, 6, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newMintWorld(t)
			j := w.newJob(t, w.deployClaims())
			for k, v := range tt.inputs {
				j.vars[k] = strings.ReplaceAll(v, "ID", itoa(w.inst.ID))
			}
			require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"), "stdout: %s", &j.stdout)
			assert.Equal(t, tt.calls, apiCalls(w.sim), "%v", w.sim.Calls())
			assert.Equal(t, tt.read, w.sim.Calls()[routeGraphQL])
			assert.Equal(t, tt.read+1, w.sim.Calls()[routeMint], "a read token for each read, and the job's token")
			assert.Zero(t, w.sim.Calls()[routeRevoke], "nothing is revoked on the mint's path")
			post := j.post()
			require.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"), "%s", &post.stderr)
			assert.Equal(t, tt.read+1, w.sim.Calls()[routeRevoke], "the post step revokes the job's token and each read token")
			assert.Empty(t, w.sim.ValidTokens())
			t.Logf("%s: %d API calls to mint, %d in the post step", tt.name, tt.calls, tt.read+1)
		})
	}
}

func TestMintOnGHESWithClientID(t *testing.T) {
	t.Parallel()
	w := newMintWorldAt(t, "/api/v3")
	j := w.newJob(t, w.deployClaims())
	require.True(t, strings.HasSuffix(j.vars["GITHUB_API_URL"], "/api/v3/"))
	delete(j.vars, "INPUT_APP-ID")
	j.vars["INPUT_CLIENT-ID"] = w.app.ClientID
	j.vars["INPUT_PERMISSIONS"] = "deployments: read"
	j.vars["INPUT_REPOSITORIES"] = "infra"
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"), "stdout: %s", stripMaskCommands(t, j.stdout.String(), ""))
	rec, ok := w.sim.TokenByValue(j.outputs()["token"])
	require.True(t, ok)
	assert.Equal(t, map[string]string{"deployments": "read", "metadata": "read"}, rec.Permissions)
	assert.Equal(t, []string{"infra"}, rec.Repositories)
	post := j.post()
	require.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
	assert.Empty(t, w.sim.ValidTokens())
}

func TestMintDeniedExplains(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"unverified job cannot use a verified rule", nil, []string{"no rule in the policy of acme/api or the organisation policy matches", "deploy-production", "requireVerified"}},
		{"verified job on another branch", func() map[string]any {
			c := w.deployClaims()
			c["ref"] = "refs/heads/feature"
			return c
		}(), []string{"no rule in the policy of acme/api or the organisation policy matches", `"refs/heads/feature"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := w.newJob(t, tt.claims)
			before := len(jobTokens(w.sim.Ledger(), j))
			assert.Equal(t, cli.ExitFindings, j.run(context.Background(), "mint"))
			all := j.stdout.String() + j.stderr.String()
			for _, s := range tt.want {
				assert.Contains(t, all, s)
			}
			assert.Contains(t, j.stdout.String(), "::error title=jitkey mint denied::")
			assert.Contains(t, j.file("summary"), "denied")
			assert.Equal(t, before, len(jobTokens(w.sim.Ledger(), j)), "a denial mints nothing")
			assert.NotEmpty(t, j.readTokens(), "the read token was handed to the post step first")
			assert.Empty(t, w.sim.ValidTokens(), "the failed main step revoked the read token itself")
			state := parseEnvFile(t, j.file("state"))
			assert.Empty(t, state["policy-read-tokens"], "nothing left for the post step to revoke")
			assert.Empty(t, state["mint-in-flight"], "nothing in flight")
			assert.Empty(t, state["token"])
			assert.Empty(t, j.file("output"))
			assertNoLeak(t, j, "", w)
		})
	}
}

func TestMintErrorsSayTheFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(w *mintWorld, j *job)
		code  int
		want  string
	}{
		{"require-oidc without id-token permission", func(w *mintWorld, j *job) {
			j.vars["INPUT_REQUIRE-OIDC"] = "true"
			delete(j.vars, "ACTIONS_ID_TOKEN_REQUEST_URL")
			delete(j.vars, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		},
			cli.ExitFindings, "id-token: write"},
		{"repository outside the installation", func(w *mintWorld, j *job) {
			w.sim.PutFile("acme", "api", "main", mintPolicyPath, []byte(strings.Replace(mintPolicy, `"acme/infra"`, `"acme/web"`, 1)))
		}, cli.ExitFindings, "mint failed (not installed)::read the policy of acme/web: the App cannot read acme/web"},
		{"app not installed on the owner", func(w *mintWorld, j *job) {
			w.sim.AddOrg("globex")
			w.sim.AddRepo(ghsim.RepoSpec{Owner: "globex", Name: "api"})
			j.vars["GITHUB_REPOSITORY"], j.vars["GITHUB_REPOSITORY_OWNER"] = "globex/api", "globex"
			delete(j.vars, "ACTIONS_ID_TOKEN_REQUEST_URL")
		}, cli.ExitFindings, "mint failed (not installed)::find the App installation for globex/api: the GitHub App is not installed on globex/api"},
		{"wrong app id", func(w *mintWorld, j *job) { j.vars["INPUT_APP-ID"] = "4242" }, cli.ExitFindings, "belong to the same GitHub App"},
		{"garbage key", func(w *mintWorld, j *job) { j.vars["INPUT_PRIVATE-KEY"] = "not a key" }, cli.ExitUsage, "private"},
		{"policy outside the policy directory", func(w *mintWorld, j *job) { j.vars["INPUT_POLICY"] = "ci/policy.cue" }, cli.ExitUsage, "remove the policy input"},
		{"organisation policy missing", func(w *mintWorld, j *job) {
			w.sim.RemoveFile("acme", ".github", "main", ".github/jitkey/org.cue")
		}, cli.ExitFindings, "(policy unavailable)::read the organisation policy: the organisation policy at acme/.github:.github/jitkey has no policy files, so nothing is minted (jitkey fails closed)"},
		{"an OIDC issuer the organisation did not list (jitkey's verifier accepts it)", func(w *mintWorld, j *job) {
			w.sim.PutFile("acme", ".github", "main", ".github/jitkey/issuers.cue",
				[]byte("apiVersion: \"jitkey.dev/v1\"\norganization: issuers: [\"https://token.actions.githubusercontent.com\"]\n"))
		}, cli.ExitFindings, "the organisation policy (acme/.github) does not accept: organization.issuers lists \"https://token.actions.githubusercontent.com\""},
		{"GHES web URL", func(w *mintWorld, j *job) { j.vars["INPUT_GITHUB-API-URL"] = "https://ghes.example.com/" }, cli.ExitUsage, "api/v3"},
		{"rate limited", func(w *mintWorld, j *job) {
			w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultRateLimitPrimary, Path: "/repos/{owner}/{repo}/installation"})
		}, cli.ExitFindings, "rate limit lifts at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newMintWorld(t)
			j := w.newJob(t, w.deployClaims())
			tt.setup(w, j)
			assert.Equal(t, tt.code, j.run(context.Background(), "mint"))
			assert.Contains(t, stripMaskCommands(t, j.stdout.String(), "")+j.stderr.String(), tt.want)
			assert.Empty(t, w.sim.ValidTokens(), "nothing left valid, the read token included")
			assertNoLeak(t, j, "", w)
		})
	}
}

func TestFailureAfterMintRevokes(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	j := w.newJob(t, w.deployClaims())
	require.NoError(t, os.Mkdir(filepath.Join(j.dir, "output"), 0o755)) // outputs cannot be written
	assert.Equal(t, cli.ExitFindings, j.run(context.Background(), "mint"))
	require.Len(t, jobTokens(w.sim.Ledger(), j), 1)
	assert.Equal(t, ghsim.StateRevoked, jobTokens(w.sim.Ledger(), j)[0].State())
	assert.Empty(t, w.sim.ValidTokens())
	assert.Contains(t, j.stdout.String(), "was revoked")
	tok := parseEnvFile(t, j.file("state"))["token"]
	assertNoLeak(t, j, tok, w)

	// The post step then finds the token already gone: success.
	post := j.post()
	assert.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
	assert.Contains(t, post.file("summary"), "already revoked")
}

func TestCancelDuringMintRevokes(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	w.sim.Fault(ghsim.FaultSpec{Method: "POST", Kind: ghsim.FaultSlow, Latency: 400 * time.Millisecond})
	j := w.newJob(t, w.deployClaims())
	j.vars["INPUT_REPOSITORIES"] = "api,infra" // one read token, then the job's
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel() // SIGINT while the mint is in flight (or, on a failure, at the end)
		for end := time.Now().Add(10 * time.Second); w.sim.Calls()[routeMint] < 2 && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	assert.Equal(t, cli.ExitFindings, j.run(ctx, "mint"))
	require.Len(t, jobTokens(w.sim.Ledger(), j), 1)
	assert.Equal(t, ghsim.StateRevoked, jobTokens(w.sim.Ledger(), j)[0].State())
	assert.Empty(t, w.sim.ValidTokens(), "the read token too: a stopped main step revokes it itself")
	assert.Contains(t, j.stdout.String(), "interrupted")
}

func TestRevokeFailureWarnsWithSHAAndExpiry(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	j := w.newJob(t, w.deployClaims())
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "mint"))
	w.sim.Fault(ghsim.FaultSpec{Method: "DELETE", Kind: ghsim.FaultRateLimitPrimary}) // reset in an hour: beyond any wait
	post := j.post()
	assert.Equal(t, cli.ExitOK, post.run(context.Background(), "revoke"))
	sha := j.outputs()["token-sha256"][:16]
	assert.Contains(t, post.stdout.String(), "::warning title=jitkey token left valid::could not revoke token sha256 "+sha)
	assert.Contains(t, post.stdout.String(), j.outputs()["expires-at"])
	assert.Contains(t, post.file("summary"), sha)
	assertNoLeak(t, post, j.outputs()["token"], w)
}

func TestRevokeWithNothingMinted(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	j := w.newJob(t, nil)
	assert.Equal(t, cli.ExitOK, j.run(context.Background(), "revoke"))
	assert.Contains(t, j.stdout.String(), "nothing to revoke")
	assert.Zero(t, apiCalls(w.sim))
}

func TestMintOutsideActions(t *testing.T) {
	t.Parallel()
	w := newMintWorld(t)
	j := w.newJob(t, nil)
	keyFile := filepath.Join(j.dir, "app.pem")
	require.NoError(t, os.WriteFile(keyFile, w.app.PrivateKeyPEM, 0o600))
	for _, k := range []string{"GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_STEP_SUMMARY", "INPUT_APP-ID", "INPUT_PRIVATE-KEY", "INPUT_POLICY", "INPUT_GITHUB-TOKEN", "GITHUB_REPOSITORY", "GITHUB_EVENT_NAME"} {
		delete(j.vars, k)
	}
	j.vars["GITHUB_TOKEN"] = w.sim.JobToken("acme/api")
	j.vars["GITHUB_EVENT_NAME"] = "pull_request"
	code := j.run(context.Background(), "mint", "--app-id", itoa(w.app.ID), "--private-key-file", "app.pem",
		"--repository", "acme/api", "--policy", mintPolicyPath, "--permissions", "contents: read")
	require.Equal(t, cli.ExitOK, code, "stderr: %s", &j.stderr)
	var out map[string]string
	require.NoError(t, json.Unmarshal(j.stdout.Bytes(), &out), j.stdout.String())
	assert.Equal(t, "ci-read", out["rule"])
	assert.NotContains(t, j.stdout.String(), "::")
	secretscan.AssertClean(t, "stderr", j.stderr.String(), out["token"], string(w.app.PrivateKeyPEM))

	j.stdin = out["token"] + "\n"
	require.Equal(t, cli.ExitOK, j.run(context.Background(), "revoke", "--token-stdin", "--github-api-url", w.sim.URL()), "stderr: %s", &j.stderr)
	rec, _ := w.sim.TokenByValue(out["token"])
	assert.Equal(t, ghsim.StateRevoked, rec.State())
	secretscan.AssertClean(t, "revoke output", j.stdout.String()+j.stderr.String(), out["token"])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestMintReadsPolicyFromTheDefaultBranch: a job cannot widen its own grant
// by changing the policy in its branch or its workspace; policy-ref moves
// where the caller's policy is read only when the organisation policy
// allows that ref.
func TestMintReadsPolicyFromTheDefaultBranch(t *testing.T) {
	t.Parallel()
	wide := strings.Replace(mintPolicy, `match: {repository: "acme/api", ref: "refs/heads/main", environment: "production"}`,
		`match: {repository: "acme/api"}`, 1)
	require.NotEqual(t, mintPolicy, wide)
	claims := func(w *mintWorld) map[string]any {
		c := w.deployClaims()
		c["ref"], c["environment"] = "refs/heads/feature", "preview"
		return c
	}
	tests := []struct {
		name      string
		policyRef string
		orgAllows bool
		code      int
		want      string
	}{
		{"the default branch decides", "", false, cli.ExitFindings, "no rule in the policy of acme/api"},
		{"policy-ref names the branch, refused", "feature", false, cli.ExitFindings, `policy-ref \"feature\" is refused`},
		{"policy-ref names a branch the organisation allows", "feature", true, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newMintWorld(t)
			w.sim.PutFile("acme", "api", "feature", mintPolicyPath, []byte(wide))
			w.sim.PutFile("acme", "api", "feature", ".github/jitkey/bomb.cue", []byte(bombPolicy))
			if tt.orgAllows {
				w.sim.PutFile("acme", ".github", "main", ".github/jitkey/refs.cue", []byte("apiVersion: \"jitkey.dev/v1\"\norganization: policy_refs: \"feature\"\n"))
				w.sim.RemoveFile("acme", "api", "feature", ".github/jitkey/bomb.cue")
			}
			j := w.newJob(t, claims(w))
			j.vars["GITHUB_REF"] = "refs/heads/feature"
			// The job's checkout holds the wide policy too: never read.
			require.NoError(t, os.MkdirAll(filepath.Join(j.dir, ".github", "jitkey"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(j.dir, mintPolicyPath), []byte(wide), 0o644))
			if tt.policyRef != "" {
				j.vars["INPUT_POLICY-REF"] = tt.policyRef
			}
			j.vars["INPUT_REPOSITORIES"] = "api" // acme/infra consents to main's production deploys only
			assert.Equal(t, tt.code, j.run(context.Background(), "mint"), "%s%s", &j.stdout, &j.stderr)
			if tt.code != cli.ExitOK {
				assert.Empty(t, jobTokens(w.sim.Ledger(), j), "a denial mints nothing")
				assert.Contains(t, j.stdout.String(), "denied")
				assert.Contains(t, j.stdout.String(), tt.want)
			} else {
				assert.Len(t, jobTokens(w.sim.Ledger(), j), 1)
				assert.Contains(t, j.stdout.String(), `"policy_ref":"feature"`, "the audit record names the ref")
			}
			assertNoLeak(t, j, j.outputs()["token"], w)
		})
	}
}
