package ghsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPagination(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		f := newFixture(t, prefix)
		for i := range 7 {
			f.sim.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "api", Title: fmt.Sprint("k", i)})
		}
		c := f.client(t, f.mint(t, nil))
		opts := &github.ListOptions{PerPage: 3}
		var titles []string
		pages := 0
		for {
			keys, resp, err := c.Repositories.ListKeys(context.Background(), "acme", "api", opts)
			require.NoError(t, err)
			pages++
			for _, k := range keys {
				titles = append(titles, k.GetTitle())
			}
			if pages == 1 {
				assert.Equal(t, 3, resp.LastPage)
				assert.Contains(t, resp.Header.Get("Link"), prefix+"/repos/acme/api/keys?")
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
		assert.Equal(t, 3, pages)
		assert.Len(t, titles, 7)
		keys, _, err := c.Repositories.ListKeys(context.Background(), "acme", "api", &github.ListOptions{PerPage: 500})
		require.NoError(t, err)
		assert.Len(t, keys, 7, "per_page is capped at 100, not refused")
	}
}

func TestPerPageCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	for i := range 120 {
		f.sim.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "api", Title: fmt.Sprint("k", i)})
	}
	keys, resp, err := f.client(t, f.mint(t, nil)).Repositories.ListKeys(context.Background(), "acme", "api", &github.ListOptions{PerPage: 500})
	require.NoError(t, err)
	assert.Len(t, keys, 100)
	assert.Equal(t, 2, resp.NextPage)
}

func TestETag(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	tok := f.mint(t, nil)
	get := func(etag string) *http.Response {
		req, err := http.NewRequest("GET", f.sim.URL()+"repos/acme/api", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := get("")
	etag := first.Header.Get("ETag")
	require.NotEmpty(t, etag)
	second := get(etag)
	assert.Equal(t, http.StatusNotModified, second.StatusCode)
	assert.Equal(t, first.Header.Get("X-RateLimit-Remaining"), second.Header.Get("X-RateLimit-Remaining"), "a 304 is free")
	f.sim.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "api", Title: "x"})
	f.sim.AddIssue("acme", "api", IssueSpec{Title: "changes open_issues"})
	assert.Equal(t, http.StatusOK, get(etag).StatusCode, "changed body, new ETag")
}

func TestFaults(t *testing.T) {
	t.Parallel()
	const route = "/repos/{owner}/{repo}"
	cases := []struct {
		spec  FaultSpec
		check func(t *testing.T, resp *github.Response, err error)
	}{
		{FaultSpec{Kind: FaultStatus500, Status: 502}, func(t *testing.T, resp *github.Response, err error) {
			require.Error(t, err)
			assert.Equal(t, 502, resp.StatusCode)
		}},
		{FaultSpec{Kind: FaultReset}, func(t *testing.T, resp *github.Response, err error) {
			require.Error(t, err)
		}},
		{FaultSpec{Kind: FaultTimeout}, func(t *testing.T, resp *github.Response, err error) {
			require.Error(t, err)
		}},
		{FaultSpec{Kind: FaultTruncated}, func(t *testing.T, resp *github.Response, err error) {
			require.Error(t, err)
			assert.True(t, errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF"), err.Error())
		}},
		{FaultSpec{Kind: FaultHostile}, func(t *testing.T, resp *github.Response, err error) {
			var se *json.SyntaxError
			require.ErrorAs(t, err, &se)
		}},
		{FaultSpec{Kind: FaultHostile, Size: 5 << 20}, func(t *testing.T, resp *github.Response, err error) {
			require.NoError(t, err)
			assert.Greater(t, resp.ContentLength, int64(5<<20))
		}},
		{FaultSpec{Kind: FaultSlow, Latency: 150 * time.Millisecond}, func(t *testing.T, resp *github.Response, err error) {
			require.NoError(t, err)
		}},
		{FaultSpec{Kind: FaultRateLimitPrimary}, func(t *testing.T, resp *github.Response, err error) {
			var rl *github.RateLimitError
			require.ErrorAs(t, err, &rl)
			assert.Equal(t, 0, rl.Rate.Remaining)
		}},
		{FaultSpec{Kind: FaultRateLimitSecondary, Status: 403, RetryAfter: 7 * time.Second}, func(t *testing.T, resp *github.Response, err error) {
			var ab *github.AbuseRateLimitError
			require.ErrorAs(t, err, &ab)
			assert.Equal(t, 7*time.Second, *ab.RetryAfter)
		}},
		{FaultSpec{Kind: FaultRateLimitSecondary, Status: 429}, func(t *testing.T, resp *github.Response, err error) {
			require.Error(t, err)
			assert.Equal(t, 429, resp.StatusCode)
			assert.Equal(t, "60", resp.Header.Get("Retry-After"))
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.spec.Kind), func(t *testing.T) {
			t.Parallel()
			clk := NewClock(time.Now())
			sim := New(Options{Clock: clk, TimeoutCap: 5 * time.Second})
			_, err := sim.Start()
			require.NoError(t, err)
			t.Cleanup(func() { _ = sim.Close() })
			sim.AddRepo(RepoSpec{Owner: "acme", Name: "api"})
			f := &fixture{sim: sim, clk: clk}
			tc.spec.Method, tc.spec.Path, tc.spec.Count = "GET", route, 1
			sim.Fault(tc.spec)
			c := f.client(t, sim.JobToken("acme/api"))
			wait := 10 * time.Second
			if tc.spec.Kind == FaultTimeout {
				wait = 500 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			start := time.Now()
			_, resp, err := c.Repositories.Get(ctx, "acme", "api")
			if tc.spec.Kind == FaultSlow {
				assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
			}
			if resp == nil {
				resp = &github.Response{Response: &http.Response{}}
			}
			tc.check(t, resp, err)
			c = f.client(t, sim.JobToken("acme/api")) // go-github remembers rate limits per client
			_, _, err = c.Repositories.Get(context.Background(), "acme", "api")
			assert.NoError(t, err, "Count 1: the second call is served")
			assert.Equal(t, 2, sim.Calls()["GET "+route])
		})
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	run := func() []int {
		sim := New(Options{Seed: 42})
		sim.AddRepo(RepoSpec{Owner: "acme", Name: "api"})
		_, err := sim.Start()
		require.NoError(t, err)
		defer sim.Close()
		sim.Fault(FaultSpec{Kind: FaultStatus500, Probability: 0.3})
		tok := sim.JobToken("acme/api")
		var codes []int
		for range 40 {
			req, _ := http.NewRequest("GET", sim.URL()+"repos/acme/api", nil)
			req.Header.Set("Authorization", "token "+tok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		return codes
	}
	a, b := run(), run()
	assert.Equal(t, a, b)
	assert.Contains(t, a, 500)
	assert.Contains(t, a, 200)
}

func TestPrimaryRateLimitOnClock(t *testing.T) {
	t.Parallel()
	clk := NewClock(time.Now())
	sim := New(Options{Clock: clk, RateLimit: 3})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddRepo(RepoSpec{Owner: "acme", Name: "api"})
	f := &fixture{sim: sim, clk: clk}
	c := f.client(t, sim.JobToken("acme/api"))
	ctx := context.Background()
	for i := range 3 {
		_, resp, err := c.Repositories.Get(ctx, "acme", "api")
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(2-i), resp.Header.Get("X-RateLimit-Remaining"))
	}
	_, _, err = c.Repositories.Get(ctx, "acme", "api")
	var rl *github.RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, clk.Now().Add(time.Hour).Truncate(time.Second).Unix(), rl.Rate.Reset.Unix())
	_, _, err = c.RateLimit.Get(ctx)
	require.NoError(t, err, "rate_limit is free")

	clk.Advance(time.Hour)
	c2 := f.client(t, sim.JobToken("acme/api")) // a fresh client: go-github remembers the reset in real time
	_, _, err = c2.Repositories.Get(ctx, "acme", "api")
	require.NoError(t, err)
}

func TestSecondaryLimits(t *testing.T) {
	t.Parallel()
	t.Run("points per minute", func(t *testing.T) {
		t.Parallel()
		clk := NewClock(time.Now())
		sim := New(Options{Clock: clk, PointsPerMinute: 6})
		_, err := sim.Start()
		require.NoError(t, err)
		t.Cleanup(func() { _ = sim.Close() })
		sim.AddRepo(RepoSpec{Owner: "acme", Name: "api"})
		c := (&fixture{sim: sim}).client(t, sim.JobToken("acme/api"))
		ctx := context.Background()
		_, _, err = c.Issues.Create(ctx, "acme", "api", &github.IssueRequest{Title: github.String("a")})
		require.NoError(t, err)
		_, _, err = c.Repositories.Get(ctx, "acme", "api")
		require.NoError(t, err)
		_, _, err = c.Repositories.Get(ctx, "acme", "api")
		var ab *github.AbuseRateLimitError
		require.ErrorAs(t, err, &ab)
		clk.Advance(time.Minute)
		c = (&fixture{sim: sim}).client(t, sim.JobToken("acme/api"))
		_, _, err = c.Repositories.Get(ctx, "acme", "api")
		require.NoError(t, err)
	})
	t.Run("concurrency cap", func(t *testing.T) {
		t.Parallel()
		sim := New(Options{MaxConcurrent: 2, TimeoutCap: 10 * time.Second})
		_, err := sim.Start()
		require.NoError(t, err)
		t.Cleanup(func() { _ = sim.Close() })
		sim.AddRepo(RepoSpec{Owner: "acme", Name: "api"})
		sim.Fault(FaultSpec{Path: "/repos/{owner}/{repo}", Kind: FaultTimeout, Count: 2})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 2 { // two requests hang, holding both slots
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequestWithContext(ctx, "GET", sim.URL()+"repos/acme/api", nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
		}
		require.Eventually(t, func() bool { return sim.acct.current() == 2 }, 10*time.Second, 5*time.Millisecond)
		resp, err := http.Get(sim.URL() + "rate_limit")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a third request is over the cap")
		assert.Equal(t, "60", resp.Header.Get("Retry-After"))
		cancel()
		wg.Wait()
		require.Eventually(t, func() bool { return sim.acct.current() == 0 }, 10*time.Second, 5*time.Millisecond)
		resp, err = http.Get(sim.URL() + "rate_limit")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 3, sim.MaxInFlight())
	})
}

func TestGlobalLatency(t *testing.T) {
	t.Parallel()
	sim := New(Options{Latency: 100 * time.Millisecond})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	start := time.Now()
	resp, err := http.Get(sim.URL() + "rate_limit")
	require.NoError(t, err)
	resp.Body.Close()
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestAccounting(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "/api/v3")
	c := f.client(t, f.mint(t, nil))
	ctx := context.Background()
	for range 3 {
		_, _, err := c.Repositories.ListKeys(ctx, "acme", "api", nil)
		require.NoError(t, err)
	}
	_, _, err := c.Issues.Create(ctx, "acme", "api", &github.IssueRequest{Title: github.String("x")})
	require.NoError(t, err)
	calls := f.sim.Calls()
	assert.Equal(t, 3, calls["GET /repos/{owner}/{repo}/keys"])
	assert.Equal(t, 1, calls["POST /repos/{owner}/{repo}/issues"])
	assert.Equal(t, 2, f.sim.WriteCalls(), "the token mint and the issue")
	assert.GreaterOrEqual(t, f.sim.MaxInFlight(), 1)
}

func TestLedgerNeverHoldsTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	tok := f.mint(t, nil)
	job := f.sim.JobToken("acme/api")
	dump := fmt.Sprintf("%+v %#v", f.sim.Ledger(), f.sim.ValidTokens())
	assert.NotContains(t, dump, tok)
	assert.NotContains(t, dump, job)
	rec, ok := f.sim.TokenByValue(job)
	require.True(t, ok)
	assert.Equal(t, TokenJob, rec.Kind)
	assert.NotContains(t, fmt.Sprintf("%#v", rec), job)
}

func TestOIDC(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		f := newFixture(t, prefix)
		claims := f.sim.JobClaims("acme/api")
		claims["environment"] = "prod"
		claims["sub"] = SubjectImmutable(claims)
		reqURL, reqTok := f.sim.OIDCRequest(claims)
		require.True(t, strings.HasSuffix(reqURL, "?api-version=2.0"))
		assert.True(t, strings.HasPrefix(reqURL, f.sim.ServerURL()+"_services/token/"))

		var disc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		getJSON(t, f.sim.OIDCIssuer()+"/.well-known/openid-configuration", "", &disc)
		assert.Equal(t, f.sim.OIDCIssuer(), disc.Issuer)
		var jwks jose.JSONWebKeySet
		getJSON(t, disc.JWKSURI, "", &jwks)

		var got struct {
			Value string `json:"value"`
		}
		getJSON(t, reqURL+"&audience=jitkey", reqTok, &got)
		tok, err := jwt.ParseSigned(got.Value, []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		var std jwt.Claims
		var all map[string]any
		require.NoError(t, tok.Claims(jwks.Keys[0].Key, &std, &all))
		require.NoError(t, std.ValidateWithLeeway(jwt.Expected{Issuer: disc.Issuer, AnyAudience: jwt.Audience{"jitkey"}, Time: f.clk.Now()}, 0))
		assert.Equal(t, fmt.Sprintf("repo:acme@%s/api@%s:environment:prod", claims["repository_owner_id"], claims["repository_id"]), std.Subject)
		assert.Equal(t, "acme/api", all["repository"])

		legacy := f.sim.IssueOIDC(f.sim.JobClaims("acme/api"), "aud2")
		tok, err = jwt.ParseSigned(legacy, []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		require.NoError(t, tok.Claims(jwks.Keys[0].Key, &std))
		assert.Equal(t, "repo:acme/api:ref:refs/heads/main", std.Subject)

		req, _ := http.NewRequest("GET", reqURL+"&audience=x", nil)
		req.Header.Set("Authorization", "Bearer wrong")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
}

func getJSON(t *testing.T, url, bearer string, v any) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func TestUnknownRouteIsGitHubNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "/api/v3")
	resp, err := http.Get(f.sim.URL() + "nope/nothing")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, "Not Found", body["message"])
}
