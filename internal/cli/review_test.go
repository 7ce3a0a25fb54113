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
	"github.com/jitkey/jitkey/internal/review"
	"github.com/jitkey/jitkey/internal/secretscan"
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
	return newReviewWorldWith(t, ghsim.Options{})
}

// newReviewWorldWith is newReviewWorld on a simulator with opts (its
// prefix is always /api/v3).
func newReviewWorldWith(t *testing.T, opts ghsim.Options) *reviewWorld {
	t.Helper()
	opts.Prefix = "/api/v3"
	sim := ghsim.New(opts)
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
		"organization_personal_access_tokens": "write", "organization_administration": "read", "organization_hooks": "read",
		"members": "read",
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

// reviewLeakKnown is the webhook URL's secret part: webhook URLs keep only
// scheme and host in every output.
const reviewLeakKnown = "/services/T0/B0/LEAKYPATH"

// assertNoLeak scans stdout, stderr, the job summary and every issue and
// comment for the App's private key (whole, by line or JSON-escaped), the
// webhook URL's path, and the shapes of tokens, keys and JWTs: the minted
// tokens themselves cannot be read back from the simulator's ledger, which
// keeps hashes, so a token can only be caught by its shape.
func (w *reviewWorld) assertNoLeak(t *testing.T, stdout, stderr string) {
	t.Helper()
	texts := map[string]string{"stdout": stdout, "stderr": stderr}
	summary, _ := os.ReadFile(w.vars["GITHUB_STEP_SUMMARY"])
	texts["job summary"] = string(summary)
	for _, repo := range []string{"api", "web", "docs", ".github"} {
		for _, is := range w.sim.Issues("acme", repo) {
			src := "acme/" + repo + "#" + strconv.Itoa(is.Number)
			texts[src+" body"] = is.Body
			for i, c := range is.Comments {
				texts[src+" comment "+strconv.Itoa(i+1)] = c.Body
			}
		}
	}
	known := []string{string(w.key), reviewLeakKnown}
	for _, rec := range w.sim.Ledger() {
		known = append(known, rec.SHA256[:16]) // a token hash is harmless, but never printed either
	}
	sc := secretscan.New(known...)
	for src, s := range texts {
		for _, f := range sc.Scan(s) {
			t.Errorf("secret leaked in %s: %s", src, f)
		}
	}
}

// findingOf returns the finding of kind about the credential named name.
func findingOf(t *testing.T, o reviewOutput, kind, name string) review.Finding {
	t.Helper()
	for _, f := range o.Findings {
		if string(f.Kind) == kind && f.Credential.Name == name {
			return f
		}
	}
	t.Fatalf("no %s finding about %q", kind, name)
	return review.Finding{}
}

// goneCopy is f about a credential that no longer exists: same kind, target
// and issue repository, another ID and fingerprint.
func goneCopy(f review.Finding) review.Finding {
	f.Credential.ID += "404"
	f.Credential.Name = "gone-" + f.Credential.Name
	f.Fingerprint = review.Fingerprint(f.Credential.ID, f.Type)
	f.Title = "[jitkey] " + string(f.Type) + " " + f.Credential.Name
	f.Evidence = append([]review.Fact{{Name: "Credential", Value: f.Credential.ID}}, f.Evidence[1:]...)
	return f
}

// seedIssue opens the review issue of f as a review would have, with
// comments by octocat, and returns its number.
func (w *reviewWorld) seedIssue(t *testing.T, f review.Finding, comments ...string) int {
	t.Helper()
	owner, repo, _ := strings.Cut(f.IssueRepo, "/")
	return w.sim.AddIssue(owner, repo, ghsim.IssueSpec{User: "jitkey[bot]", Title: f.Title, Body: issue.Body(f, nil, 0), Labels: []string{issue.Label}, Comments: comments})
}

// issue returns issue number of acme/repo.
func (w *reviewWorld) issue(t *testing.T, repo string, number int) ghsim.Issue {
	t.Helper()
	for _, is := range w.sim.Issues("acme", repo) {
		if is.Number == number {
			return is
		}
	}
	t.Fatalf("no issue acme/%s#%d", repo, number)
	return ghsim.Issue{}
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

// TestReviewSurvivesFaults runs an unchanged review through about 20% of
// faulty answers: 5xx, connections reset, answers that never come (cut at
// 200 ms), bodies cut in half, and a few secondary rate limits. The review
// must finish, complete or partial, say which, and close only what it read
// in full: here, a seeded issue whose credential is gone, and only when
// that repository's deploy keys were read in full.
func TestReviewSurvivesFaults(t *testing.T) {
	t.Parallel()
	w := newReviewWorldWith(t, ghsim.Options{TimeoutCap: 200 * time.Millisecond, Seed: 1})
	code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json")
	require.Equal(t, ExitOK, code, stderr)
	gone := w.seedIssue(t, goneCopy(findingOf(t, decodeReview(t, stdout), "deploy_key", "old-deploy")))
	// The set-up (installation lookup and the review token's mint) is
	// shielded: failing there is a set-up error (exit 2), not a partial review.
	for _, p := range []string{"/orgs/{org}/installation", "/app/installations/{installation_id}/access_tokens"} {
		w.sim.Fault(ghsim.FaultSpec{Path: p, Kind: ghsim.FaultSlow})
	}
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultStatus500, Probability: 0.06})
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultReset, Probability: 0.05})
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultTimeout, Probability: 0.04})
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultTruncated, Probability: 0.05})
	w.sim.Fault(ghsim.FaultSpec{Method: "GET", Kind: ghsim.FaultRateLimitSecondary, Probability: 0.05, RetryAfter: time.Second, Count: 2})
	code, stdout, stderr = w.review(t, "--org", "acme", "--format", "json")
	require.Contains(t, []int{ExitOK, ExitFindings}, code, "finishes, complete or partial: %s", stderr)
	o := decodeReview(t, stdout)
	assert.Equal(t, code == ExitFindings, o.Partial, "the exit code says whether the review is partial")
	summary, err := os.ReadFile(w.vars["GITHUB_STEP_SUMMARY"])
	require.NoError(t, err)
	lastRun := string(summary[strings.LastIndex(string(summary), "## jitkey review"):])
	if o.Partial {
		assert.True(t, len(o.Inventory.Gaps()) > 0 || o.Issues == nil || o.Issues.Partial, "a partial review says what was not done")
		assert.Contains(t, lastRun, "## jitkey review: PARTIAL")
	} else {
		assert.Contains(t, lastRun, "## jitkey review: complete")
	}
	for _, repo := range []string{"api", "web", "docs", ".github"} {
		for _, is := range w.sim.Issues("acme", repo) {
			if repo == "api" && is.Number == gone {
				continue
			}
			assert.Equal(t, "open", is.State, "a finding still there keeps its issue: %s", is.Title)
		}
	}
	if o.Issues != nil {
		for _, a := range o.Issues.Actions {
			if a.Op == issue.OpClose || a.Op == issue.OpDedupe {
				assert.Equal(t, "acme/api", a.Repo, "only the gone credential's issue may close: %+v", a)
				assert.Equal(t, gone, a.Number, "only the gone credential's issue may close: %+v", a)
				assert.True(t, o.Inventory.Complete("acme/api", "deploy_key"), "closed only after a full read of what it is about")
			}
		}
	}
	t.Logf("faulty run: exit %d, %d coverage gaps, issues partial %t, gone credential's issue %s",
		code, len(o.Inventory.Gaps()), o.Issues != nil && o.Issues.Partial, w.issue(t, "api", gone).State)
	if w.issue(t, "api", gone).State == "closed" {
		assert.True(t, o.Inventory.Complete("acme/api", "deploy_key"), "closed only after a full read of what it is about")
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

// TestReviewScenarioFindings runs the whole review, issues included, for
// findings the rules' unit tests cover on hand-made inventories: here the
// credentials come from the simulator's API, as the scan reads them.
func TestReviewScenarioFindings(t *testing.T) {
	t.Parallel()
	type finding struct{ kind, typ, name, summary, fact, value string }
	for _, tc := range []struct {
		name   string
		add    func(w *reviewWorld, days func(int) *time.Time)
		policy string
		want   finding
	}{
		{
			name: "expired fine-grained PAT still granted",
			add: func(w *reviewWorld, days func(int) *time.Time) {
				w.sim.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "hubot", TokenName: "expired-ci", ExpiresAt: days(5), LastUsedAt: days(6), AccessGrantedAt: *days(40),
					Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
			},
			want: finding{"fine_grained_pat", "stale", "expired-ci", "has expired but still holds an access grant", "Expired", "{day 5}"},
		},
		{
			name: "fine-grained PAT never used",
			add: func(w *reviewWorld, days func(int) *time.Time) {
				w.sim.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "hubot", TokenName: "never-used", ExpiresAt: days(-60), AccessGrantedAt: *days(45),
					Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
			},
			want: finding{"fine_grained_pat", "dormant", "never-used", "was never used since it was created on {day 45}, more than 30 days ago", "Last used", "never"},
		},
		{
			name: "SSO authorization never accessed",
			add: func(w *reviewWorld, days func(int) *time.Time) {
				w.sim.AddSSOAuthorization(ghsim.SSOSpec{Org: "acme", Login: "hubot", AuthorizedAt: *days(45), Scopes: []string{"repo"}})
			},
			want: finding{"sso_authorization", "dormant", "personal access token", "was never accessed since it was created on {day 45}", "Last accessed", "never"},
		},
		{
			name: "App installation beyond max_permissions",
			add: func(w *reviewWorld, _ func(int) *time.Time) {
				app := w.sim.AddApp(ghsim.AppSpec{Slug: "ci-bot"})
				w.sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"contents": "write", "checks": "write"}, Repositories: []string{"api"}})
			},
			policy: `apiVersion: "jitkey.dev/v1"
review: kinds: app_installation: max_permissions: {contents: "read", checks: "write", metadata: "read"}
`,
			want: finding{"app_installation", "over_scoped", "ci-bot", "can reach more than the review policy allows", "Beyond the allowed permissions", "contents: write"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newReviewWorld(t)
			now := w.sim.Now()
			days := func(n int) *time.Time { d := now.AddDate(0, 0, -n); return &d }
			day := strings.NewReplacer("{day 5}", days(5).Format("2006-01-02"), "{day 45}", days(45).Format("2006-01-02"))
			tc.add(w, days)
			args := []string{"--org", "acme", "--format", "json"}
			if tc.policy != "" {
				require.NoError(t, os.WriteFile(filepath.Join(w.dir, "policy.cue"), []byte(tc.policy), 0o600))
				args = append(args, "--policy", "policy.cue")
			}
			code, stdout, stderr := w.review(t, args...)
			require.Equal(t, ExitOK, code, stderr)
			o := decodeReview(t, stdout)
			var got []review.Finding
			for _, f := range o.Findings {
				if string(f.Kind) == tc.want.kind && f.Credential.Name == tc.want.name {
					got = append(got, f)
				}
			}
			require.Len(t, got, 1, "exactly one finding about %s %q", tc.want.kind, tc.want.name)
			f := got[0]
			assert.Equal(t, tc.want.typ, string(f.Type))
			assert.Contains(t, f.Summary, day.Replace(tc.want.summary))
			assert.Contains(t, f.Evidence, review.Fact{Name: tc.want.fact, Value: day.Replace(tc.want.value)})
			assert.Equal(t, "acme/.github", f.IssueRepo, "an organisation-level finding is filed in ORG/.github")
			var filed []ghsim.Issue
			for _, is := range w.sim.Issues("acme", ".github") {
				if m, ok := issue.ParseMarker(is.Body); ok && m.Fingerprint == f.Fingerprint {
					filed = append(filed, is)
				}
			}
			require.Len(t, filed, 1, "one issue for the finding")
			assert.Equal(t, f.Title, filed[0].Title)
			assert.Contains(t, filed[0].Body, "kind="+tc.want.kind+" target=org:acme")
		})
	}
}
