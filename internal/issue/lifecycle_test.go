package issue_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

var org = inventory.Options{Org: "acme"}

func allIssues(w *world) []ghsim.Issue {
	var out []ghsim.Issue
	for _, r := range []string{"api", "web", ".github"} {
		out = append(out, w.issues("acme", r)...)
	}
	return out
}

// openByFingerprint counts open review issues per fingerprint.
func openByFingerprint(w *world) map[string]int {
	m := map[string]int{}
	for _, is := range allIssues(w) {
		if is.State == "open" {
			mk, _ := issue.ParseMarker(is.Body)
			m[mk.Fingerprint]++
		}
	}
	return m
}

func findIssue(t *testing.T, w *world, repo, titlePart string) ghsim.Issue {
	t.Helper()
	for _, is := range w.issues("acme", repo) {
		if strings.Contains(is.Title, titlePart) {
			return is
		}
	}
	t.Fatalf("no review issue in acme/%s with %q in its title", repo, titlePart)
	return ghsim.Issue{}
}

func TestThreeRunsAreIdempotent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	_, rep, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	require.Equal(t, len(want), res.Created)
	for i := 2; i <= 3; i++ {
		before := w.sim.WriteCalls()
		_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
		assert.Zero(t, w.sim.WriteCalls()-before, "run %d made write calls: %+v", i, res.Actions)
		assert.Empty(t, res.Actions, "run %d", i)
	}
	byFP := openByFingerprint(w)
	for _, f := range rep.Findings {
		assert.Equal(t, 1, byFP[f.Fingerprint], f.Title)
	}
	assert.Len(t, allIssues(w), len(want), "each issue created once")
}

func TestEvidenceChangeEditsInPlace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	stricter := policy.Review{Kinds: map[policy.CredentialKind]policy.KindRule{policy.KindDeployKey: {Enabled: true, DormantDays: 60, NeverUsedDays: 30}}}
	_, _, res := w.run(ctx, org, stricter, issue.Config{})
	ops := map[issue.Op]int{}
	for _, a := range res.Actions {
		ops[a.Op]++
	}
	// the rule text is part of the evidence: all three deploy key issues are rewritten
	assert.Equal(t, 3, ops[issue.OpUpdate], "%+v", res.Actions)
	assert.Zero(t, ops[issue.OpCreate])
	assert.Len(t, allIssues(w), len(want), "edited in place, nothing new")
	assert.Contains(t, findIssue(t, w, "api", "old-deploy").Body, "dormant_days: 60")
}

func TestFindingGoneClosesWithReason(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	ids := seed(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})

	_, err := w.gh.Repositories.DeleteKey(ctx, "acme", "api", ids.dormantKey)
	require.NoError(t, err)
	hook := findIssue(t, w, "web", "ci.example.com")
	rv := policy.Review{Exemptions: []policy.Exemption{
		{Kind: policy.KindWebhook, Credential: credID(hook.Body), Finding: "insecure", Reason: "vendor fixes TLS in Q1", Approver: "lead", Expires: w.now.AddDate(0, 1, 0)},
		{Kind: policy.KindDeployKey, Credential: "acme/web:deploy_key:" + itoa(ids.writeKey), Finding: "over_scoped", Reason: "migration", Approver: "lead", Expires: w.now.AddDate(0, 0, -1)},
	}}
	_, _, res := w.run(ctx, org, rv, issue.Config{})

	gone := findIssue(t, w, "api", "old-deploy")
	assert.Equal(t, "closed", gone.State)
	require.NotEmpty(t, gone.Comments)
	assert.Contains(t, gone.Comments[len(gone.Comments)-1].Body, "no longer exists")

	exempted := findIssue(t, w, "web", "ci.example.com")
	assert.Equal(t, "closed", exempted.State)
	assert.Contains(t, exempted.Comments[len(exempted.Comments)-1].Body, "exempted by the review policy until")

	expired := findIssue(t, w, "web", "pusher")
	assert.Equal(t, "open", expired.State)
	assert.Contains(t, expired.Title, "exemption expired")
	assert.Contains(t, expired.Body, "Exemption expired")
	assert.False(t, res.Partial)
}

// TestPartialScanClosesNothing: deploy keys that could not be listed in
// full (a 502, or a listing whose rel="next" loops back) prove nothing gone.
func TestPartialScanClosesNothing(t *testing.T) {
	t.Parallel()
	for _, kind := range []ghsim.FaultKind{ghsim.FaultStatus500, ghsim.FaultPageLoop} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			ids := seed(w)
			ctx := context.Background()
			w.run(ctx, org, policy.Review{}, issue.Config{})
			_, err := w.gh.Repositories.DeleteKey(ctx, "acme", "api", ids.dormantKey)
			require.NoError(t, err)
			w.sim.Fault(ghsim.FaultSpec{Method: "GET", Path: "/repos/{owner}/{repo}/keys", Kind: kind, Status: 502})
			before := w.sim.WriteCalls()
			inv, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
			assert.True(t, inv.Partial())
			assert.False(t, inv.Complete("acme/api", policy.KindDeployKey))
			assert.Equal(t, "open", findIssue(t, w, "api", "old-deploy").State, "a key not seen in a partial scan is not proof it is gone")
			assert.Zero(t, w.sim.WriteCalls()-before, "%+v", res.Actions)
		})
	}
}

func TestKindWithoutPermissionIsNotReviewed(t *testing.T) {
	t.Parallel()
	perms := map[string]string{}
	for k, v := range reviewPerms {
		if k != "administration" && k != "organization_personal_access_tokens" {
			perms[k] = v
		}
	}
	w := newWorld(t, ghsim.Options{}, perms)
	seed(w)
	inv, rep, _ := w.run(context.Background(), org, policy.Review{}, issue.Config{DryRun: true})
	var gaps []string
	for _, g := range inv.Gaps() {
		assert.Equal(t, inventory.StatusNotReviewed, g.Status)
		gaps = append(gaps, g.Target+" "+string(g.Kind)+" "+g.Permission)
	}
	assert.ElementsMatch(t, []string{
		"acme/.github deploy_key administration: read", "acme/api deploy_key administration: read", "acme/web deploy_key administration: read",
		"org:acme fine_grained_pat organization_personal_access_tokens: read"}, gaps)
	for _, f := range rep.Findings {
		assert.NotEqual(t, policy.KindDeployKey, f.Kind)
	}
}

func TestClosedByHandIsReopened(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	is := findIssue(t, w, "api", "OLD_TOKEN")
	_, _, err := w.gh.Issues.Edit(ctx, "acme", "api", is.Number, &ghIssueReq{State: str("closed")})
	require.NoError(t, err)
	w.run(ctx, org, policy.Review{}, issue.Config{})
	is = findIssue(t, w, "api", "OLD_TOKEN")
	assert.Equal(t, "open", is.State)
	assert.Contains(t, is.Comments[len(is.Comments)-1].Body, "add an exemption")
	before := w.sim.WriteCalls()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Zero(t, w.sim.WriteCalls()-before)
}

func TestReviewerCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	ids := seed(w)
	w.sim.AddMember("acme", "octocat", "admin")
	ctx := context.Background()
	// Scan once without issues, then seed the issues as reviewers would see
	// them, each with "/jitkey revoke" commented by octocat (write on
	// acme/api, an owner of acme, nothing on acme/web).
	inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), org)
	require.NoError(t, err)
	rep := review.Evaluate(inv, policy.Review{}, w.now)
	seedWithCommand := func(repo, name string) {
		for _, f := range rep.Findings {
			if f.Credential.Name == name && f.IssueRepo == "acme/"+repo {
				w.sim.AddIssue("acme", repo, ghsim.IssueSpec{User: identity, Title: f.Title, Body: issue.Body(f, nil, 0), Labels: []string{issue.Label}, Comments: []string{"/jitkey revoke"}})
				return
			}
		}
		t.Fatalf("no finding %s in %s", name, repo)
	}
	seedWithCommand("api", "old-deploy") // allowed: write on acme/api
	seedWithCommand("web", "pusher")     // refused: no access to acme/web
	seedWithCommand(".github", "no-expiry")

	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	var revoked []string
	for _, r := range res.Remediations {
		assert.Empty(t, r.Error)
		assert.Equal(t, "octocat", r.By)
		revoked = append(revoked, r.Credential)
	}
	assert.ElementsMatch(t, []string{"acme/api:deploy_key:" + itoa(ids.dormantKey), "acme:fine_grained_pat:" + itoa(ids.patNoExpiry)}, revoked)
	keys, _, err := w.gh.Repositories.ListKeys(ctx, "acme", "api", nil)
	require.NoError(t, err)
	for _, k := range keys {
		assert.NotEqual(t, ids.dormantKey, k.GetID(), "the key was deleted")
	}
	assert.True(t, w.sim.PATRevoked("acme", ids.patNoExpiry))
	done := findIssue(t, w, "api", "old-deploy")
	assert.Equal(t, "closed", done.State)
	assert.Contains(t, done.Comments[len(done.Comments)-1].Body, "as asked by @octocat")

	refused := findIssue(t, w, "web", "pusher")
	assert.Equal(t, "open", refused.State)
	require.Len(t, refused.Comments, 2)
	assert.Contains(t, refused.Comments[1].Body, "needs write access to acme/web")
	webKeys, _, err := w.gh.Repositories.ListKeys(ctx, "acme", "web", nil)
	require.NoError(t, err)
	assert.Len(t, webKeys, 2, "nothing removed on a refused command")

	before := w.sim.WriteCalls()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Zero(t, w.sim.WriteCalls()-before, "a refusal is answered once")
	assert.Len(t, findIssue(t, w, "web", "pusher").Comments, 2)
}

func TestConcurrentRunsLeaveNoDuplicate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), org)
	require.NoError(t, err)
	rep := review.Evaluate(inv, policy.Review{}, w.now)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := issue.New(w.gh.Issues, w.gh.Repositories, w.gh.Organizations, nil, issue.Config{Identity: identity, Now: func() time.Time { return w.now }})
			_, err := tr.Sync(ctx, inv, rep)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for _, f := range rep.Findings {
		assert.Equal(t, 1, openByFingerprint(w)[f.Fingerprint], f.Title)
	}
	// and the next run finds nothing to do
	before := w.sim.WriteCalls()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Zero(t, w.sim.WriteCalls()-before)
}

func TestCapDefersTheRest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{MaxIssues: 5})
	assert.Equal(t, 5, res.Created)
	assert.Equal(t, len(want)-5, res.Deferred)
	_, _, res = w.run(ctx, org, policy.Review{MaxIssuesPerRun: 10}, issue.Config{})
	assert.Equal(t, 10, res.Created)
	assert.Equal(t, len(want)-15, res.Deferred)
}

func TestRenotifyBacksOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	rv := policy.Review{Renotify: policy.Renotify{Enabled: true, AfterDays: 7, MaxReminds: 2}}
	keys := policy.Review{Renotify: rv.Renotify, Kinds: onlyKind(policy.KindDeployKey)}
	start := w.now
	w.run(ctx, org, keys, issue.Config{})
	reminders := func(at time.Duration) int {
		w.now = start.Add(at)
		_, _, res := w.run(ctx, org, keys, issue.Config{})
		n := 0
		for _, a := range res.Actions {
			if a.Op == issue.OpRemind {
				n++
			}
		}
		return n
	}
	day := 24 * time.Hour
	assert.Zero(t, reminders(6*day))
	assert.Equal(t, 3, reminders(8*day), "first reminder after 7 days, one per open issue")
	assert.Zero(t, reminders(9*day))
	assert.Equal(t, 3, reminders(22*day), "second after 7+14 days")
	assert.Zero(t, reminders(200*day), "at most 2")
}

func onlyKind(k policy.CredentialKind) map[policy.CredentialKind]policy.KindRule {
	m := map[policy.CredentialKind]policy.KindRule{}
	for kind, r := range review.DefaultRules() {
		r.Enabled = kind == k
		m[kind] = r
	}
	return m
}

func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	inv, rep, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	tok, err := w.itr.Token(ctx)
	require.NoError(t, err)
	out, err := json.Marshal([]any{inv, rep, res})
	require.NoError(t, err)
	texts := []string{string(out)}
	for _, is := range allIssues(w) {
		texts = append(texts, is.Title, is.Body)
		for _, c := range is.Comments {
			texts = append(texts, c.Body)
		}
	}
	for _, s := range texts {
		assert.NotContains(t, s, tok, "installation token leaked")
		assert.NotContains(t, s, "XXXXSECRETPATH", "webhook URL path leaked")
		assert.NotContains(t, s, "PRIVATE KEY")
		assert.NotContains(t, s, "ssh-ed25519", "public key material is not needed either")
	}
}

func TestFaultsAndRateLimitsNeverCloseWrongly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	w.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultStatus500, Probability: 0.2})
	w.sim.Fault(ghsim.FaultSpec{Method: "GET", Kind: ghsim.FaultRateLimitSecondary, Probability: 0.05, RetryAfter: time.Second, Count: 3})
	for i := 0; i < 3; i++ {
		inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), inventory.Options{Org: "acme", Now: func() time.Time { return w.now }})
		if err != nil {
			continue // the repository list itself failed: nothing is touched
		}
		rep := review.Evaluate(inv, policy.Review{}, w.now)
		tr := issue.New(w.gh.Issues, w.gh.Repositories, w.gh.Organizations, nil, issue.Config{Identity: identity, Now: func() time.Time { return w.now }})
		res, err := tr.Sync(ctx, inv, rep)
		require.NoError(t, err)
		for _, a := range res.Actions {
			assert.NotEqual(t, issue.OpClose, a.Op, "nothing is gone, nothing may close: %+v", a)
		}
	}
	w.sim.ClearFaults()
	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.False(t, res.Partial)
	byFP := openByFingerprint(w)
	assert.Len(t, byFP, len(want))
	for fp, n := range byFP {
		assert.Equal(t, 1, n, fp)
	}
}

func TestAutoRemediateAfterOneRunOfNotice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	rv := policy.Review{AutoRemediate: true, Kinds: onlyKind(policy.KindDeployKey)}
	_, rep, res := w.run(ctx, org, rv, issue.Config{})
	assert.Equal(t, 3, res.Created)
	assert.Empty(t, res.Remediations, "nothing is removed before its issue gave notice")
	require.Len(t, rep.Findings, 3)

	_, _, res = w.run(ctx, org, rv, issue.Config{})
	require.Len(t, res.Remediations, 3)
	for _, r := range res.Remediations {
		assert.Equal(t, "policy auto_remediate", r.By)
		assert.Empty(t, r.Error)
	}
	for _, repo := range []string{"api", "web"} {
		keys, _, err := w.gh.Repositories.ListKeys(ctx, "acme", repo, nil)
		require.NoError(t, err)
		for _, k := range keys {
			assert.NotContains(t, []string{"old-deploy", "never-used", "pusher"}, k.GetTitle())
		}
	}
	assert.Contains(t, findIssue(t, w, "web", "pusher").Comments[0].Body, "`auto_remediate: true`")
	assert.Equal(t, "closed", findIssue(t, w, "web", "pusher").State)

	before := w.sim.WriteCalls()
	_, rep, _ = w.run(ctx, org, rv, issue.Config{})
	assert.Empty(t, rep.Findings)
	assert.Zero(t, w.sim.WriteCalls()-before)
}

func TestUnfiledFindingsAreSaidOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	w.sim.AddOrg("acme")
	w.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"}) // no acme/.github
	w.sim.AddWebhook(ghsim.WebhookSpec{Owner: "acme", URL: "https://a.example.com/hook"})
	w.sim.AddWebhook(ghsim.WebhookSpec{Owner: "acme", URL: "https://b.example.com/hook"})
	w.install("acme")
	_, rep, res := w.run(context.Background(), org, policy.Review{}, issue.Config{})
	require.Len(t, rep.Findings, 3, "two org webhooks and the App on all repositories")
	var unfiled []issue.Action
	for _, a := range res.Actions {
		if a.Op == issue.OpUnfiled {
			unfiled = append(unfiled, a)
		}
	}
	require.Len(t, unfiled, 1)
	assert.Contains(t, unfiled[0].Reason, "central_repository")
	assert.False(t, res.Partial, "a finding that cannot be filed is reported, not a failed review")
}

// TestArchivedRepositoryFindingsAreUnfiled: GitHub refuses issues, labels
// and edits in an archived repository (403 "Repository was archived so is
// read-only"). With --include-archived, its findings are reported as
// unfiled, once, with the fix, not as a failed review; and an open issue
// filed before the repository was archived is left as it is.
func TestArchivedRepositoryFindingsAreUnfiled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w) // acme/old is archived, with a dormant deploy key
	scan := inventory.Options{Org: "acme", IncludeArchived: true}
	_, rep, res := w.run(context.Background(), scan, policy.Review{}, issue.Config{})
	var archived int
	for _, f := range rep.Findings {
		if f.IssueRepo == "acme/old" {
			archived++
		}
	}
	require.NotZero(t, archived, "a finding in the archived repository")
	var unfiled []issue.Action
	for _, a := range res.Actions {
		assert.NotEqual(t, issue.OpFailed, a.Op, "%+v", a)
		if a.Repo == "acme/old" {
			assert.Equal(t, issue.OpUnfiled, a.Op, "%+v", a)
			unfiled = append(unfiled, a)
		}
	}
	require.Len(t, unfiled, 1, "said once")
	assert.Contains(t, unfiled[0].Reason, "archived")
	assert.Contains(t, unfiled[0].Reason, "central_repository")
	assert.False(t, res.Partial)
	assert.Empty(t, w.sim.Issues("acme", "old"))

	// GitHub itself refuses: a write that gets through is answered 403.
	_, resp, err := w.gh.Issues.Create(context.Background(), "acme", "old", &ghIssueReq{Title: str("x")})
	require.Error(t, err)
	assert.Equal(t, 403, resp.StatusCode)
	assert.Contains(t, err.Error(), "Repository was archived so is read-only")
}
