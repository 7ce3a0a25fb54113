package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/secretscan"
)

func TestServeExchangesAndRevokes(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	ans, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{Permissions: map[string]string{"contents": "read"}})
	require.NoError(t, err)
	assert.Equal(t, "ci", ans.Rule)
	assert.Equal(t, []string{"acme/api"}, ans.Repositories)
	assert.Equal(t, map[string]string{"contents": "read"}, ans.Permissions)
	assert.Equal(t, "jitkey", ans.AppSlug)
	assert.Equal(t, ghsim.StateValid, w.tokenState(ans.Token))

	gh, err := github.NewTokenClient(github.Options{BaseURL: w.sim.URL()}, ans.Token)
	require.NoError(t, err)
	data, _, err := gh.FileContents(ctx, "acme", "api", mintPolicyPath, "")
	require.NoError(t, err, "the token reads what it was granted")
	assert.Contains(t, string(data), "jitkey.dev/v1")

	e, err := w.srv.Ledger.Get(ctx, ans.TokenSHA256)
	require.NoError(t, err)
	assert.Equal(t, "live", string(e.State))
	assert.Equal(t, "ci", e.Intent.Rule)

	c, err := brokerclient.New(w.url, nil)
	require.NoError(t, err)
	rv, err := c.Revoke(ctx, github.Secret(ans.Token))
	require.NoError(t, err)
	assert.Equal(t, "revoked", rv.Outcome)
	assert.True(t, rv.Recorded)
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(ans.Token))
	e, err = w.srv.Ledger.Get(ctx, ans.TokenSHA256)
	require.NoError(t, err)
	assert.Equal(t, "revoked", string(e.State))
	assert.Equal(t, "job", e.Revoked.By)

	logs := w.logText()
	assert.Contains(t, logs, `"msg":"audit"`)
	assert.Contains(t, logs, `"outcome":"minted"`)
	secretscan.AssertClean(t, "broker log", logs, ans.Token, string(w.secret))
}

// TestServeRefusesAttacks is each way an attacker would try to get a token
// from the broker, or to make it revoke or forget one: each is refused with
// its status and class, and nothing is minted.
func TestServeRefusesAttacks(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{limits: "limits: max_body_bytes: 2048"})
	other := ghsim.New(ghsim.Options{})
	_, err := other.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	other.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api"})

	claims, _ := w.pushClaims()
	used := w.oidc(claims)
	_, err = w.exchange(context.Background(), used, brokerclient.TokenRequest{})
	require.NoError(t, err, "the first exchange of a token works")
	minted := len(w.jobTokens())

	expired := map[string]any{}
	for k, v := range claims {
		expired[k] = v
	}
	expired["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	expired["iat"] = time.Now().Add(-20 * time.Minute).Unix()
	// A real token of acme/web with its claims rewritten to acme/api's: the
	// signature no longer matches.
	forged := func() string {
		parts := strings.Split(w.oidc(w.sim.JobClaims("acme/web")), ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		payload = []byte(strings.ReplaceAll(string(payload), "acme/web", "acme/api"))
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	}()
	hook := []byte(`{"action":"completed","workflow_run":{"id":1,"run_attempt":1},"repository":{"full_name":"acme/api"}}`)
	big := []byte(`{"repositories":["` + strings.Repeat("a", 4096) + `"]}`)

	cases := []struct {
		name   string
		path   string
		bearer string
		body   []byte
		header []string
		status int
		class  string
	}{
		{"no credential", "/v1/token", "", nil, nil, 401, "missing_token"},
		{"not a JWT", "/v1/token", "ghs_notajwtatall", nil, nil, 401, "invalid_oidc_token"},
		{"replayed OIDC token", "/v1/token", used, nil, nil, 409, "oidc_token_replayed"},
		{"wrong audience", "/v1/token", w.sim.IssueOIDC(claims, "jitkey"), nil, nil, 401, "invalid_oidc_token"},
		{"issuer not on the allowlist", "/v1/token", other.IssueOIDC(other.JobClaims("acme/api"), "http://broker.test"), nil, nil, 401, "issuer_not_allowed"},
		{"forged signature, allowed issuer", "/v1/token", forged, nil, nil, 401, "invalid_oidc_token"},
		{"expired", "/v1/token", w.sim.IssueOIDC(expired, "http://broker.test"), nil, nil, 401, "invalid_oidc_token"},
		{"oversized body", "/v1/token", w.oidc(claims), big, nil, 413, "body_too_large"},
		{"unknown field", "/v1/token", w.oidc(claims), []byte(`{"repositories":[],"installation_id":1}`), nil, 400, "bad_request"},
		{"forged webhook signature", "/v1/webhook", "", hook, []string{"X-GitHub-Event", "workflow_run", "X-Hub-Signature-256", ghsim.SignWebhook([]byte("guessed-secret-guessed"), hook)}, 401, "bad_signature"},
		{"unsigned webhook", "/v1/webhook", "", hook, []string{"X-GitHub-Event", "workflow_run"}, 401, "bad_signature"},
		{"oversized webhook", "/v1/webhook", "", make([]byte, 2<<20), []string{"X-GitHub-Event", "push"}, 413, "body_too_large"},
		{"revoke someone else's token by SHA", "/v1/revoke", w.oidc(w.sim.JobClaims("acme/web")), []byte(`{"token_sha256":"` + strings.Repeat("ab", 32) + `"}`), nil, 404, "not_your_token"},
	}
	for _, tc := range cases {
		status, body := w.post(tc.path, tc.bearer, tc.body, tc.header...)
		assert.Equal(t, tc.status, status, "%s: %s", tc.name, body)
		p := problemOf(t, body)
		assert.Equal(t, tc.class, p.Class, tc.name)
		assert.NotEmpty(t, p.Fix, "%s: every refusal says what to do", tc.name)
		secretscan.AssertClean(t, tc.name, string(body), tc.bearer, string(w.secret))
	}
	assert.Len(t, w.jobTokens(), minted, "nothing was minted by any refused request")
	secretscan.AssertClean(t, "broker log", w.logText(), used, string(w.secret))
}

func TestServeDenialExplains(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	claims, _ := w.pushClaims()
	claims["ref"], claims["event_name"] = "refs/pull/7/merge", "pull_request"
	delete(claims, "sub")
	status, body := w.post("/v1/token", w.oidc(claims), nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	p := problemOf(t, body)
	assert.Equal(t, "denied", p.Class)
	require.NotNil(t, p.Denial)
	require.Len(t, p.Denial.NearMisses, 1)
	assert.Equal(t, "ci", p.Denial.NearMisses[0].Rule)
	assert.Contains(t, strings.Join(p.Denial.NearMisses[0].Failed, "\n"), "refs/pull/7/merge")
	assert.Empty(t, w.jobTokens())
}

// TestServeRefusesIssuersTheOrganisationDidNotList: the broker's
// allowlist admits the simulator's issuer, but acme's organisation policy
// accepts another one only; a job token from the simulator gets nothing.
func TestServeRefusesIssuersTheOrganisationDidNotList(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	w.sim.PutFile("acme", ".github", "main", ".github/jitkey/issuers.cue",
		[]byte("apiVersion: \"jitkey.dev/v1\"\norganization: issuers: [\"https://ghes.acme.example/_services/token\"]\n"))
	claims, _ := w.pushClaims()
	status, body := w.post("/v1/token", w.oidc(claims), nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	p := problemOf(t, body)
	assert.Equal(t, "denied", p.Class)
	assert.Contains(t, p.Message, `has issuer "`+w.sim.OIDCIssuer()+`", which the organisation policy (acme/.github) does not accept`)
	assert.Empty(t, w.jobTokens(), "nothing minted for the job")
	for _, r := range w.policyReadTokens() {
		assert.Equal(t, ghsim.StateRevoked, r.State(), "the policy-read token is revoked")
	}
}

// TestServeRevokesWhenJobsEnd runs jobs whose runner dies before the post
// step: the workflow_job webhook revokes each job's token; tokens without a
// check run ID go with workflow_run; a re-run's tokens survive the first
// attempt's end.
func TestServeRevokesWhenJobsEnd(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api", Jobs: []string{"a", "b"}})
	tokA, err := w.exchange(ctx, w.oidc(w.sim.RunClaims(run, run.Jobs[0])), brokerclient.TokenRequest{})
	require.NoError(t, err)
	claimsB := w.sim.RunClaims(run, run.Jobs[1])
	delete(claimsB, "check_run_id") // an older GHES: the run is all the broker knows
	tokB, err := w.exchange(ctx, w.oidc(claimsB), brokerclient.TokenRequest{})
	require.NoError(t, err)

	ds, err := w.sim.CompleteJob(run.Jobs[0].ID, "failure")
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, http.StatusOK, ds[0].Status)
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tokA.Token), "job a ended: its token is revoked")
	assert.Equal(t, ghsim.StateValid, w.tokenState(tokB.Token), "job b runs on")

	ds, err = w.sim.CompleteJob(run.Jobs[1].ID, "success")
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tokB.Token), "the run ended: the token without a check run ID is revoked")
	e, err := w.srv.Ledger.Get(ctx, tokB.TokenSHA256)
	require.NoError(t, err)
	assert.Equal(t, "webhook:workflow_run", e.Revoked.By)
	e, err = w.srv.Ledger.Get(ctx, tokA.TokenSHA256)
	require.NoError(t, err)
	assert.Equal(t, "webhook:workflow_job", e.Revoked.By)
}

// TestServeRevokesHundredKilledJobs is 100 jobs whose runner is killed
// before the post step: every token is revoked by the webhook path within
// 2 s of its job's completed event; with webhooks dropped, the sweeper
// revokes them all.
func TestServeRevokesHundredKilledJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("100 jobs: skipped with -short")
	}
	t.Parallel()
	for _, drop := range []bool{false, true} {
		name := map[bool]string{false: "webhook", true: "sweeper"}[drop]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newBrokerWorld(t, brokerOpt{limits: "limits: repository_rate: 100000"})
			ctx := context.Background()
			type job struct {
				run ghsim.Run
				tok *brokerclient.TokenAnswer
			}
			jobs := make([]job, 100)
			for i := range jobs {
				run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
				tok, err := w.exchange(ctx, w.oidc(w.sim.RunClaims(run, run.Jobs[0])), brokerclient.TokenRequest{})
				require.NoError(t, err)
				jobs[i] = job{run: run, tok: tok}
			}
			w.sim.DropWebhooks(drop)
			var worst time.Duration
			for _, j := range jobs {
				start := time.Now()
				_, err := w.sim.CompleteJob(j.run.Jobs[0].ID, "cancelled")
				require.NoError(t, err)
				if !drop {
					assert.Equal(t, ghsim.StateRevoked, w.tokenState(j.tok.Token))
					worst = max(worst, time.Since(start))
				}
			}
			if drop {
				for _, j := range jobs {
					assert.Equal(t, ghsim.StateValid, w.tokenState(j.tok.Token), "webhooks were dropped")
				}
				rep, err := w.srv.Sweeper.Once(ctx)
				require.NoError(t, err)
				assert.True(t, rep.Ran)
				assert.Equal(t, 100, rep.Revoked, "%+v", rep)
				assert.Equal(t, 100, rep.GitHubCalls, "one call per job")
				for _, j := range jobs {
					assert.Equal(t, ghsim.StateRevoked, w.tokenState(j.tok.Token))
				}
				rep, err = w.srv.Sweeper.Once(ctx)
				require.NoError(t, err)
				assert.Zero(t, rep.GitHubCalls, "nothing left to ask about")
				return
			}
			t.Logf("webhook path: slowest completed event to revoked token: %s", worst)
			assert.Less(t, worst, 2*time.Second)
			for _, r := range w.jobTokens() {
				assert.Equal(t, ghsim.StateRevoked, r.State())
			}
		})
	}
}

func TestServePushInvalidatesPolicies(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	_, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err)
	tighter := strings.Replace(brokerPolicy, `"refs/heads/main"`, `"refs/heads/release"`, 1)
	w.sim.PutFile("acme", "api", "main", mintPolicyPath, []byte(tighter))
	claims, _ = w.pushClaims()
	_, err = w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err, "without a push webhook the cached policy still decides")
	d, ok := w.sim.Push("acme/api", "main", map[string][]byte{mintPolicyPath: []byte(tighter)})
	require.True(t, ok)
	require.Equal(t, http.StatusOK, d.Status)
	claims, _ = w.pushClaims()
	_, err = w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	var p *brokerclient.Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, "denied", p.Class, "the push invalidated the cache: the new policy decides")
}

// TestServeSteadyStateCalls: once the policy and the installation are
// cached, an exchange is one GitHub call, the mint.
func TestServeSteadyStateCalls(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	ctx := context.Background()
	claims, _ := w.pushClaims()
	_, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err)
	// The first exchange read the policies with a read token on exactly
	// their repositories, and revoked it at once: there is no post step.
	reads := w.policyReadTokens()
	require.Len(t, reads, 1)
	assert.ElementsMatch(t, []string{".github", "api"}, reads[0].Repositories)
	assert.Equal(t, "selected", reads[0].RepositorySelection)
	assert.Equal(t, ghsim.StateRevoked, reads[0].State(), "the broker revokes its policy-read token once read")
	before := total(w.sim.Calls())
	for range 10 {
		claims, _ := w.pushClaims()
		_, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
		require.NoError(t, err)
	}
	assert.Equal(t, 10, total(w.sim.Calls())-before, "one GitHub call per exchange: %v", w.sim.Calls())
	assert.Len(t, w.policyReadTokens(), 1, "the cached policies need no new read token")
}

func total(calls map[string]int) int {
	n := 0
	for route, c := range calls {
		if !strings.Contains(route, "/_services/token") {
			n += c
		}
	}
	return n
}

func TestServeMetricsAndHealth(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{})
	claims, _ := w.pushClaims()
	_, err := w.exchange(context.Background(), w.oidc(claims), brokerclient.TokenRequest{})
	require.NoError(t, err)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := w.hc.Get(w.url + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	resp, err := w.hc.Get(w.url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = ioCopy(&b, resp)
	text := b.String()
	for _, want := range []string{
		`jitkey_broker_exchanges_total{outcome="minted"} 1`,
		`jitkey_broker_github_requests_total{method="POST",code="201"}`,
		`jitkey_broker_github_ratelimit_remaining{resource="core"}`,
		`jitkey_broker_ledger_entries{state="live"} 1`,
		`jitkey_broker_sweep_lag_seconds`,
		`jitkey_broker_http_request_duration_seconds_bucket{route="token",le="+Inf"} 1`,
	} {
		assert.Contains(t, text, want)
	}
}

func ioCopy(b *strings.Builder, resp *http.Response) (int64, error) {
	var buf [4096]byte
	var n int64
	for {
		k, err := resp.Body.Read(buf[:])
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

var _ = json.Marshal

// TestServeWebhookSecretRotation rotates the webhook secret as an operator
// would: the broker holds the new secret and the previous one while GitHub
// switches; deliveries signed with either revoke, a delivery signed with
// neither is refused; once the previous secret is removed from the
// configuration, a delivery signed with it is refused too.
func TestServeWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	old := []byte("the-previous-webhook-secret-0123")
	w := newBrokerWorld(t, brokerOpt{limits: `webhook_secret_previous: env: "HOOK_SECRET_OLD"`,
		envExtra: map[string]string{"HOOK_SECRET_OLD": string(old)}})
	ctx := context.Background()
	deliver := func(runID int64, secret []byte) int {
		hook := fmt.Appendf(nil, `{"action":"completed","workflow_run":{"id":%d,"run_attempt":1},"repository":{"full_name":"acme/api"}}`, runID)
		status, body := w.post("/v1/webhook", "", hook, "X-GitHub-Event", "workflow_run", "X-Hub-Signature-256", ghsim.SignWebhook(secret, hook))
		if status != http.StatusOK {
			assert.Equal(t, "bad_signature", problemOf(t, body).Class)
		}
		return status
	}
	mintFor := func() (ghsim.Run, string) {
		claims, run := w.pushClaims()
		tok, err := w.exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{})
		require.NoError(t, err)
		return run, tok.Token
	}

	runOld, tokOld := mintFor()
	runNew, tokNew := mintFor()
	runForged, tokForged := mintFor()
	assert.Equal(t, http.StatusUnauthorized, deliver(runForged.ID, []byte("guessed-secret-guessed-guessed")), "signed with neither secret")
	assert.Equal(t, http.StatusUnauthorized, deliver(runForged.ID, append(old, 'x')), "signed with a near miss of the previous secret")
	assert.Equal(t, ghsim.StateValid, w.tokenState(tokForged), "a forged delivery revokes nothing")
	assert.Equal(t, http.StatusOK, deliver(runOld.ID, old), "GitHub still signs with the previous secret")
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tokOld))
	assert.Equal(t, http.StatusOK, deliver(runNew.ID, w.secret), "GitHub signs with the new secret")
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tokNew))
	assert.Equal(t, 1.0, w.srv.Server.Metrics().Value("jitkey_broker_webhooks_total", "workflow_run", "previous_secret"))

	// The rotation is over: the previous secret leaves the configuration.
	w.shutdown()
	cfg, err := os.ReadFile(w.cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(w.cfg, bytes.ReplaceAll(cfg, []byte(`webhook_secret_previous: env: "HOOK_SECRET_OLD"`), nil), 0o600))
	w.start(w.env)
	runAfter, tokAfter := mintFor()
	assert.Equal(t, http.StatusUnauthorized, deliver(runAfter.ID, old), "the removed secret no longer verifies")
	assert.Equal(t, ghsim.StateValid, w.tokenState(tokAfter))
	assert.Equal(t, http.StatusOK, deliver(runAfter.ID, w.secret))
	assert.Equal(t, ghsim.StateRevoked, w.tokenState(tokAfter))
	assert.Equal(t, ghsim.StateValid, w.tokenState(tokForged), "the forged run's token was never revoked by the forgery")
	secretscan.AssertClean(t, "broker log", w.logText(), string(old), string(w.secret))
}

// An exchange says how long it spent in the broker and at GitHub
// (Server-Timing), and the broker's own time is a metric; a replay, refused
// after the decision, spends neither a token nor its repository's rate.
func TestServeTimingAndReplayRate(t *testing.T) {
	t.Parallel()
	w := newBrokerWorld(t, brokerOpt{limits: "limits: repository_rate: 60"}) // a burst of 10, one a second
	claims, _ := w.pushClaims()
	oidc := w.oidc(claims)
	req, err := http.NewRequest(http.MethodPost, w.url+"/v1/token", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+oidc)
	resp, err := w.hc.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	timing := resp.Header.Get("Server-Timing")
	assert.Regexp(t, `^broker;dur=[0-9]+\.[0-9]{3}, github;dur=[0-9]+\.[0-9]{3}$`, timing)
	var m strings.Builder
	_, err = w.srv.Server.Metrics().WriteTo(&m)
	require.NoError(t, err)
	assert.Contains(t, m.String(), "jitkey_broker_exchange_added_seconds_count 1\n")

	// 9 of the burst are left: 12 replays would spend them if replays
	// spent the rate, and the next job would be refused (429).
	for range 12 {
		status, body := w.post("/v1/token", oidc, nil)
		assert.Equal(t, http.StatusConflict, status, "a replay: %s", body)
	}
	c2, _ := w.pushClaims()
	status, body := w.post("/v1/token", w.oidc(c2), nil)
	assert.Equal(t, http.StatusOK, status, "replays spent the repository's rate: %s", body)
	assert.Len(t, w.jobTokens(), 2, "no replay was minted")
}
