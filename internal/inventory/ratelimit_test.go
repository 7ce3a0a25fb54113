package inventory_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// rlWorld is an organisation on a simulator whose clock the test moves.
//
// The clock runs two hours behind real time: go-github remembers an
// exhausted rate limit and refuses requests by itself until its reset has
// passed on the real clock. With the simulator's resets in the real past,
// it never does, and every wait is the scanner's, on the simulator's clock.
type rlWorld struct {
	sim   *ghsim.Sim
	clock *ghsim.ManualClock
	app   *ghsim.App
	inst  ghsim.Installation
}

func newRLWorld(t *testing.T) *rlWorld {
	t.Helper()
	clock := ghsim.NewClock(time.Now().Add(-2 * time.Hour))
	sim := ghsim.New(ghsim.Options{Clock: clock})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	sim.AddOrg("acme")
	for _, name := range []string{"api", "web"} {
		sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: name})
		sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: name, Title: name + "-deploy", ReadOnly: true})
	}
	app := sim.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	inst := sim.Install(app.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"administration": "read", "repository_hooks": "read", "organization_hooks": "read"}})
	return &rlWorld{sim: sim, clock: clock, app: app, inst: inst}
}

// client mints an installation token at the simulator's time and returns
// a scan client using it.
func (w *rlWorld) client(t *testing.T) inventory.Client {
	t.Helper()
	now := w.sim.Now()
	jwt, err := ghsim.SignAppJWT(w.app.PrivateKey, strconv.FormatInt(w.app.ID, 10), now.Add(-30*time.Second), now.Add(5*time.Minute))
	require.NoError(t, err)
	appClient := newGH(t, w.sim, jwt)
	var tok struct {
		Token string `json:"token"`
	}
	req, err := appClient.NewRequest("POST", "app/installations/"+strconv.FormatInt(w.inst.ID, 10)+"/access_tokens", nil)
	require.NoError(t, err)
	_, err = appClient.Do(context.Background(), req, &tok)
	require.NoError(t, err)
	return inventory.NewClient(newGH(t, w.sim, tok.Token))
}

func newGH(t *testing.T, sim *ghsim.Sim, bearer string) *github.Client {
	t.Helper()
	gh := github.NewClient(&http.Client{Transport: bearerTransport(bearer), Timeout: 10 * time.Second})
	u, err := gh.BaseURL.Parse(sim.URL())
	require.NoError(t, err)
	gh.BaseURL = u
	return gh
}

type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// sleeper records the scanner's waits and moves the simulator's clock by them.
type sleeper struct {
	clock *ghsim.ManualClock
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.clock.Advance(d)
	return nil
}

// exhaustIn uses up the installation's primary rate limit so that it resets
// in d, and returns a client with a fresh token (minted before, so that it
// outlives the wait).
func (w *rlWorld) exhaustIn(t *testing.T, d time.Duration) inventory.Client {
	t.Helper()
	// The installation's rate-limit hour starts with its first request.
	_, err := inventory.Scan(context.Background(), w.client(t), inventory.Options{Repos: []string{"acme/api"}, Kinds: []policy.CredentialKind{policy.KindDeployKey}, Now: w.sim.Now})
	require.NoError(t, err)
	w.clock.Advance(time.Hour - d)
	c := w.client(t)
	w.sim.ExhaustRateLimit()
	return c
}

// TestScanWaitsOutRateLimits: a primary rate limit whose reset is within
// the cap (MaxRateLimitWait, 15 minutes by default) is waited out and the
// scan completes; one beyond it is not waited for, and the kinds it hit are
// reported as not reviewed, saying until when, while the others complete.
func TestScanWaitsOutRateLimits(t *testing.T) {
	t.Parallel()
	all := []string{"acme/api deploy_key", "acme/api webhook", "acme/web deploy_key", "acme/web webhook", "org:acme webhook"}
	for _, tc := range []struct {
		name    string
		arrange func(t *testing.T, w *rlWorld) inventory.Client
		maxWait time.Duration
		waited  time.Duration // the expected wait, to the second; 0: none
		gaps    []string      // "target kind" not reviewed
	}{
		{
			name:    "exhausted, reset in 10 s: waited out",
			arrange: func(t *testing.T, w *rlWorld) inventory.Client { return w.exhaustIn(t, 10*time.Second) },
			waited:  11 * time.Second, // the reset, and a second for clock skew
		},
		{
			name:    "exhausted, reset in 20 min, beyond the cap: every kind partial",
			arrange: func(t *testing.T, w *rlWorld) inventory.Client { return w.exhaustIn(t, 20*time.Minute) },
			gaps:    all,
		},
		{
			name:    "exhausted, reset in 20 min, within a 30 min cap: waited out",
			arrange: func(t *testing.T, w *rlWorld) inventory.Client { return w.exhaustIn(t, 20*time.Minute) },
			maxWait: 30 * time.Minute, waited: 20*time.Minute + time.Second,
		},
		{
			name: "one answer with a reset in an hour: that kind partial",
			arrange: func(t *testing.T, w *rlWorld) inventory.Client {
				w.sim.Fault(ghsim.FaultSpec{Path: "/repos/{owner}/{repo}/keys", Kind: ghsim.FaultRateLimitPrimary, Count: 1})
				return w.client(t)
			},
			gaps: []string{"acme/api deploy_key"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRLWorld(t)
			c := tc.arrange(t, w)
			sl := &sleeper{clock: w.clock}
			// Concurrency 1: the first request meets the limit, then waits alone.
			inv, err := inventory.Scan(context.Background(), c, inventory.Options{
				Org: "acme", Repos: []string{"acme/api", "acme/web"}, Kinds: []policy.CredentialKind{policy.KindDeployKey, policy.KindWebhook},
				Concurrency: 1, Now: w.sim.Now, Sleep: sl.sleep, MaxRateLimitWait: tc.maxWait,
			})
			require.NoError(t, err)
			if tc.waited > 0 {
				require.Len(t, sl.waits, 1)
				assert.InDelta(t, tc.waited.Seconds(), sl.waits[0].Seconds(), 1)
			} else {
				assert.Empty(t, sl.waits, "a reset beyond the cap is not waited for")
			}
			assert.Equal(t, len(tc.gaps) > 0, inv.Partial())
			var gaps []string
			for _, g := range inv.Gaps() {
				gaps = append(gaps, g.Target+" "+string(g.Kind))
				assert.Equal(t, inventory.StatusNotReviewed, g.Status)
				assert.Contains(t, g.Reason, ": rate limited until ")
				assert.Contains(t, g.Reason, "rerun to complete the scan")
				assert.Empty(t, g.Permission, "a rate limit is not a missing permission")
			}
			assert.ElementsMatch(t, tc.gaps, gaps)
			var names []string
			for _, cr := range inv.Credentials {
				names = append(names, cr.Name)
			}
			want := []string{"api-deploy", "web-deploy"}
			switch len(tc.gaps) {
			case len(all):
				want = nil
			case 1:
				want = []string{"web-deploy"}
			}
			assert.ElementsMatch(t, want, names)
		})
	}
}

// TestRateLimitWait reads the waits GitHub's answers ask for.
func TestRateLimitWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	sec := func(d time.Duration) *time.Duration { return &d }
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code, Request: &http.Request{}} }
	for _, tc := range []struct {
		name    string
		err     error
		wait    time.Duration
		limited bool
	}{
		{"primary, reset ahead", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(90 * time.Second)}}}, 91 * time.Second, true},
		{"primary, reset passed", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(-time.Minute)}}}, time.Second, true},
		{"secondary with retry-after", &github.AbuseRateLimitError{RetryAfter: sec(30 * time.Second)}, 30 * time.Second, true},
		{"secondary without retry-after", &github.AbuseRateLimitError{}, time.Minute, true},
		{"429", &github.ErrorResponse{Response: resp(429)}, time.Minute, true},
		{"500", &github.ErrorResponse{Response: resp(500)}, 0, false},
		{"network", context.DeadlineExceeded, 0, false},
	} {
		wait, limited := inventory.RateLimitWait(tc.err, now)
		assert.Equal(t, tc.limited, limited, tc.name)
		assert.Equal(t, tc.wait, wait, tc.name)
	}
}
