package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
)

// reviewWorld is a simulated organisation with the review App installed,
// and the environment `jitkey review` runs in.
type reviewWorld struct {
	sim  *ghsim.Sim
	vars map[string]string
	dir  string
	key  []byte
}

func newReviewWorld(t *testing.T) *reviewWorld {
	t.Helper()
	sim := ghsim.New(ghsim.Options{Prefix: "/api/v3"})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	now := sim.Now()
	days := func(n int) time.Time { return now.AddDate(0, 0, -n) }
	ptr := func(t time.Time) *time.Time { return &t }
	sim.AddOrg("acme")
	for _, name := range []string{"api", "web", "docs", ".github"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name})
	}
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "attic", Archived: true})
	sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "old-deploy", ReadOnly: true, CreatedAt: days(300), LastUsed: ptr(days(200))})
	sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "web", Title: "pusher", CreatedAt: days(10), LastUsed: ptr(days(1))})
	sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "attic", Title: "archived", ReadOnly: true, CreatedAt: days(900)})
	sim.AddSecret(ghsim.SecretSpec{Owner: "acme", Repo: "docs", Name: "OLD_TOKEN", CreatedAt: days(500), UpdatedAt: days(400)})
	sim.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "api", URL: "https://hooks.example.com/services/T0/B0/LEAKYPATH"})
	sim.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "octocat", TokenName: "forever", LastUsedAt: ptr(days(1)), AccessGrantedAt: days(30),
		Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{
		"administration": "write", "secrets": "write", "dependabot_secrets": "read", "codespaces_secrets": "read",
		"repository_hooks": "read", "issues": "write", "contents": "read",
		"organization_secrets": "read", "organization_dependabot_secrets": "read", "organization_codespaces_secrets": "read",
		"organization_personal_access_tokens": "read", "organization_administration": "read", "organization_hooks": "read",
	}})
	dir := t.TempDir()
	return &reviewWorld{sim: sim, dir: dir, key: app.PrivateKeyPEM, vars: map[string]string{
		"JITKEY_APP_ID": strconv.FormatInt(app.ID, 10), "JITKEY_APP_PRIVATE_KEY": string(app.PrivateKeyPEM),
		"GITHUB_API_URL": sim.URL(), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary.md"),
	}}
}

// contentWrites counts the write calls other than the review token's own
// mint (POST access_tokens) and revoke (DELETE /installation/token).
func (w *reviewWorld) contentWrites() int {
	c := w.sim.Calls()
	return w.sim.WriteCalls() - c["POST /app/installations/{installation_id}/access_tokens"] - c["DELETE /installation/token"]
}

// review runs `jitkey review ARGS...` and returns exit code, stdout, stderr.
func (w *reviewWorld) review(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return w.vars[k] }, Now: time.Now, Dir: w.dir}
	code := Run(context.Background(), append([]string{"review"}, args...), env)
	w.assertNoLeak(t, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func (w *reviewWorld) assertNoLeak(t *testing.T, texts ...string) {
	t.Helper()
	summary, _ := os.ReadFile(w.vars["GITHUB_STEP_SUMMARY"])
	texts = append(texts, string(summary))
	for _, repo := range []string{"api", "web", "docs", ".github"} {
		for _, is := range w.sim.Issues("acme", repo) {
			texts = append(texts, is.Body)
			for _, c := range is.Comments {
				texts = append(texts, c.Body)
			}
		}
	}
	for _, s := range texts {
		assert.NotContains(t, s, "PRIVATE KEY")
		assert.NotContains(t, s, "LEAKYPATH")
		assert.NotRegexp(t, `gh[sopu]_[A-Za-z0-9]{20,}`, s, "token-shaped string in an output")
		for _, rec := range w.sim.ValidTokens() {
			assert.NotContains(t, s, rec.SHA256[:16]) // a token hash is harmless, but never printed either
		}
	}
}

func decodeReview(t *testing.T, s string) reviewOutput {
	t.Helper()
	var o reviewOutput
	require.NoError(t, json.Unmarshal([]byte(s), &o), s)
	return o
}

func TestReviewCommandEndToEnd(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json")
	require.Equal(t, ExitOK, code, stderr)
	o := decodeReview(t, stdout)
	assert.False(t, o.Partial)
	var got []string
	for _, f := range o.Findings {
		got = append(got, string(f.Kind)+"/"+string(f.Type)+"/"+f.Credential.Name)
	}
	assert.ElementsMatch(t, []string{"deploy_key/dormant/old-deploy", "deploy_key/over_scoped/pusher", "actions_secret/stale/OLD_TOKEN",
		"webhook/insecure/https://hooks.example.com", "fine_grained_pat/stale/forever", "app_installation/over_scoped/jitkey"}, got)
	assert.Equal(t, 6, o.Issues.Created)
	assert.Contains(t, stderr, "review: scanned")
	summary, err := os.ReadFile(w.vars["GITHUB_STEP_SUMMARY"])
	require.NoError(t, err)
	assert.Contains(t, string(summary), "| deploy_key | 2 |")
	assert.Contains(t, string(summary), "## jitkey review: complete")

	before := w.contentWrites()
	code, stdout, stderr = w.review(t, "--org", "acme")
	require.Equal(t, ExitOK, code, stderr)
	assert.Zero(t, w.contentWrites()-before, "an unchanged re-run writes nothing but its own token's mint and revoke")
	assert.Empty(t, w.sim.ValidTokens(), "the review revokes its token")
	assert.Contains(t, stdout, "issues: no change")
	assert.Contains(t, stdout, "SEVERITY")

	code, stdout, _ = w.review(t, "--org", "acme", "--format", "sarif")
	require.Equal(t, ExitOK, code)
	var sarif map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &sarif))
	assert.Equal(t, "2.1.0", sarif["version"])

	code, stdout, _ = w.review(t, "--org", "acme", "--format", "github", "--no-issues")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, stdout, "::error title=[jitkey] over-scoped deploy key")
}

func TestReviewDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	code, stdout, stderr := w.review(t, "--org", "acme", "--dry-run", "--format", "json")
	require.Equal(t, ExitOK, code, stderr)
	assert.Zero(t, w.contentWrites(), "only the token's mint and revoke write")
	o := decodeReview(t, stdout)
	require.NotEmpty(t, o.Issues.Actions)
	for _, a := range o.Issues.Actions {
		assert.True(t, a.DryRun)
		assert.Equal(t, issue.OpCreate, a.Op)
	}
}

func TestReviewShardsMergeToTheWhole(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	_, whole, _ := w.review(t, "--org", "acme", "--format", "json", "--no-issues")
	var files []string
	for i := 0; i < 3; i++ {
		code, out, stderr := w.review(t, "--org", "acme", "--format", "json", "--no-issues", "--shard", strconv.Itoa(i)+"/3")
		require.Equal(t, ExitOK, code, stderr)
		f := filepath.Join(w.dir, "shard"+strconv.Itoa(i)+".json")
		require.NoError(t, os.WriteFile(f, []byte(out), 0o600))
		files = append(files, filepath.Base(f))
	}
	code, merged, stderr := w.review(t, append([]string{"merge", "--format", "json"}, files...)...)
	require.Equal(t, ExitOK, code, stderr)
	a, b := decodeReview(t, whole), decodeReview(t, merged)
	assert.Equal(t, len(a.Inventory.Credentials), len(b.Inventory.Credentials))
	assert.Equal(t, a.Inventory.Coverage, b.Inventory.Coverage)
	var fa, fb []string
	for _, f := range a.Findings {
		fa = append(fa, f.Fingerprint)
	}
	for _, f := range b.Findings {
		fb = append(fb, f.Fingerprint)
	}
	assert.Equal(t, fa, fb)
}

func TestReviewCheckpointResumes(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	w.sim.Fault(ghsim.FaultSpec{Method: "GET", Path: "/repos/{owner}/{repo}/hooks", Kind: ghsim.FaultStatus500, Status: 500})
	code, stdout, _ := w.review(t, "--org", "acme", "--checkpoint", "scan.ckpt", "--no-issues")
	assert.Equal(t, ExitFindings, code, "partial")
	assert.Contains(t, stdout, "PARTIAL")
	data, err := os.ReadFile(filepath.Join(w.dir, "scan.ckpt"))
	require.NoError(t, err)
	assert.Contains(t, string(data), `"target":"org:acme"`, "the organisation was read in full and is recorded")
	assert.NotContains(t, string(data), `"target":"acme/api"`, "a repository read partially is read again")

	w.sim.ClearFaults()
	w.sim.ResetCalls()
	code, _, stderr := w.review(t, "--org", "acme", "--checkpoint", "scan.ckpt", "--no-issues")
	require.Equal(t, ExitOK, code, stderr)
	assert.Contains(t, stderr, "resuming from scan.ckpt: 1 targets already scanned")
	assert.Zero(t, w.sim.Calls()["GET /orgs/{org}/personal-access-tokens"], "org-level kinds not read again")
	_, err = os.Stat(filepath.Join(w.dir, "scan.ckpt"))
	assert.True(t, os.IsNotExist(err), "a complete review removes its checkpoint")
}

func TestReviewWithPolicyFile(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	pol := `apiVersion: "jitkey.dev/v1"
review: {
	owners: ["@acme/security"]
	kinds: deploy_key: allow_write: true
	kinds: app_installation: enabled: false
	exemptions: [{
		kind:       "fine_grained_pat"
		credential: "acme:fine_grained_pat:` + "%d" + `"
		finding:    "stale"
		reason:     "build bot, rotated by hand"
		approver:   "octocat"
		expires:    "2999-01-01"
	}]
}
`
	_, whole, _ := w.review(t, "--org", "acme", "--format", "json", "--no-issues")
	var patID int64
	for _, c := range decodeReview(t, whole).Inventory.Credentials {
		if c.Kind == "fine_grained_pat" {
			patID = c.RemoteID
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "policy.cue"), []byte(strings.Replace(pol, "%d", strconv.FormatInt(patID, 10), 1)), 0o600))
	code, stdout, stderr := w.review(t, "--org", "acme", "--policy", "policy.cue", "--format", "json")
	require.Equal(t, ExitOK, code, stderr)
	o := decodeReview(t, stdout)
	var got []string
	for _, f := range o.Findings {
		got = append(got, string(f.Kind)+"/"+string(f.Type))
	}
	assert.ElementsMatch(t, []string{"deploy_key/dormant", "actions_secret/stale", "webhook/insecure"}, got)
	_, sarif, _ := w.review(t, "--org", "acme", "--policy", "policy.cue", "--format", "sarif", "--no-issues")
	assert.Contains(t, sarif, `"uri": "policy.cue"`, "uploadable to code scanning: every result points at the policy")
	require.Len(t, o.Suppressed, 1)
	for _, is := range w.sim.Issues("acme", "api") {
		assert.Contains(t, is.Body, "Owners: @acme/security")
	}
}

func TestReviewUsageErrors(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	for _, args := range [][]string{{}, {"--org", "acme", "--format", "xml"}, {"--org", "acme", "--shard", "3/3"}, {"--org", "acme", "extra"}, {"merge"}} {
		code, _, stderr := w.review(t, args...)
		assert.Equal(t, ExitUsage, code, "%v: %s", args, stderr)
		assert.NotEmpty(t, stderr)
	}
	w.vars["JITKEY_APP_ID"] = ""
	code, _, stderr := w.review(t, "--org", "acme")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "no credentials")
}

func TestReviewSurvivesFaults(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	code, _, stderr := w.review(t, "--org", "acme")
	require.Equal(t, ExitOK, code, stderr)
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultStatus500, Probability: 0.2})
	w.sim.Fault(ghsim.FaultSpec{Method: "GET", Kind: ghsim.FaultRateLimitSecondary, Probability: 0.05, RetryAfter: time.Second, Count: 2})
	code, stdout, _ := w.review(t, "--org", "acme", "--format", "json")
	assert.Contains(t, []int{ExitOK, ExitFindings}, code, "finishes, complete or partial")
	if code == ExitOK || strings.HasPrefix(strings.TrimSpace(stdout), "{") {
		o := decodeReview(t, stdout)
		assert.Equal(t, code == ExitFindings, o.Partial)
		for _, a := range o.Issues.Actions {
			assert.NotEqual(t, issue.OpClose, a.Op, "nothing changed: nothing may close")
		}
	}
	for _, repo := range []string{"api", "web", "docs", ".github"} {
		for _, is := range w.sim.Issues("acme", repo) {
			assert.Equal(t, "open", is.State, is.Title)
		}
	}
}

func TestReviewSelectedRepositories(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	code, stdout, stderr := w.review(t, "--repo", "acme/api", "--repo", "acme/attic", "--format", "json", "--no-issues")
	require.Equal(t, ExitOK, code, stderr)
	o := decodeReview(t, stdout)
	var targets []string
	for _, c := range o.Inventory.Coverage {
		targets = append(targets, c.Target)
	}
	assert.NotContains(t, targets, "org:acme", "organisation level only with --org")
	assert.Contains(t, targets, "acme/attic", "a repository named explicitly is reviewed even when archived")
	var names []string
	for _, f := range o.Findings {
		names = append(names, f.Credential.Name)
	}
	assert.ElementsMatch(t, []string{"old-deploy", "archived", "https://hooks.example.com"}, names)
}

func TestReviewBoundsConcurrency(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	for i := 0; i < 30; i++ {
		w.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "svc-" + strconv.Itoa(i)})
	}
	code, _, stderr := w.review(t, "--org", "acme", "--concurrency", "3", "--no-issues")
	require.Equal(t, ExitOK, code, stderr)
	assert.LessOrEqual(t, w.sim.MaxInFlight(), 3)
}

// TestReviewFromActionInputs is `command: review` in a workflow: the App
// comes from the action's app-id and private-key inputs, and the key is
// masked before anything else is printed.
func TestReviewFromActionInputs(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	w.vars["INPUT_APP-ID"], w.vars["INPUT_PRIVATE-KEY"] = w.vars["JITKEY_APP_ID"], w.vars["JITKEY_APP_PRIVATE_KEY"]
	w.vars["JITKEY_APP_ID"], w.vars["JITKEY_APP_PRIVATE_KEY"] = "", ""
	w.vars["GITHUB_ACTIONS"] = "true"
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return w.vars[k] }, Now: time.Now, Dir: w.dir}
	code := Run(context.Background(), []string{"review", "--org", "acme"}, env)
	require.Contains(t, []int{ExitOK, ExitFindings}, code, errb.String())
	assert.True(t, strings.HasPrefix(out.String(), "::add-mask::"), "the key is masked first: %.200s", out.String())
	assert.NotEmpty(t, w.sim.Issues("acme", "api"), "the review ran with the App from the inputs")
	assert.Empty(t, w.sim.ValidTokens(), "the review token is revoked")
}
