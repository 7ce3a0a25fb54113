package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/github"
)

func TestRepoInstallation(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			in, err := f.appClient(t).RepoInstallation(context.Background(), "acme", "api")
			require.NoError(t, err)
			assert.Equal(t, f.inst.ID, in.ID)
			assert.Equal(t, "jitkey", in.AppSlug)
			assert.Equal(t, "write", in.Permissions["contents"])
		})
	}
}

func TestClientIDAsIssuer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: f.app.ClientID, PrivateKey: f.app.PrivateKeyPEM})
	require.NoError(t, err)
	in, err := c.RepoInstallation(context.Background(), "acme", "api")
	require.NoError(t, err)
	assert.Equal(t, f.inst.ID, in.ID)
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048) // a key GitHub does not know for this App
	require.NoError(t, err)
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey)})
	tests := []struct {
		name  string
		call  func(f *fixture) error
		class github.Class
		fix   string
	}{
		{"not installed on repo", func(f *fixture) error {
			_, err := f.appClient(t).RepoInstallation(context.Background(), "other", "lib")
			return err
		}, github.ClassNotInstalled, "install the App on other"},
		{"unknown repo", func(f *fixture) error {
			_, err := f.appClient(t).RepoInstallation(context.Background(), "acme", "nope")
			return err
		}, github.ClassNotInstalled, "install"},
		{"key of another app", func(f *fixture) error {
			c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: otherPEM})
			require.NoError(t, err)
			_, err = c.RepoInstallation(context.Background(), "acme", "api")
			return err
		}, github.ClassBadKey, "same GitHub App"},
		{"unknown app id", func(f *fixture) error {
			c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: "999999", PrivateKey: f.app.PrivateKeyPEM})
			require.NoError(t, err)
			_, err = c.RepoInstallation(context.Background(), "acme", "api")
			return err
		}, github.ClassBadKey, "app-id"},
		{"clock behind", func(f *fixture) error {
			o := f.opts()
			o.Now = func() time.Time { return f.clk.Now().Add(-20 * time.Minute) }
			c, err := github.NewAppClient(o, github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
			require.NoError(t, err)
			_, err = c.RepoInstallation(context.Background(), "acme", "api")
			return err
		}, github.ClassClockSkew, "clock"},
		{"clock ahead", func(f *fixture) error {
			o := f.opts()
			o.Now = func() time.Time { return f.clk.Now().Add(5 * time.Minute) }
			c, err := github.NewAppClient(o, github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
			require.NoError(t, err)
			_, err = c.RepoInstallation(context.Background(), "acme", "api")
			return err
		}, github.ClassClockSkew, "NTP"},
		{"permission not granted", func(f *fixture) error {
			_, err := f.appClient(t).CreateInstallationToken(context.Background(), f.inst.ID,
				github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"deployments": "write"}})
			return err
		}, github.ClassPermissionNotGranted, "deployments:write"},
		{"level not granted", func(f *fixture) error {
			_, err := f.appClient(t).CreateInstallationToken(context.Background(), f.inst.ID,
				github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "admin"}})
			return err
		}, github.ClassPermissionNotGranted, "contents:admin"},
		{"repository not covered", func(f *fixture) error {
			_, err := f.appClient(t).CreateInstallationToken(context.Background(), f.inst.ID,
				github.TokenRequest{Repositories: []string{"lib"}, Permissions: map[string]string{"contents": "read"}})
			return err
		}, github.ClassRepositoryNotAccessible, "add lib"},
		{"wrong installation id", func(f *fixture) error {
			_, err := f.appClient(t).CreateInstallationToken(context.Background(), 4242,
				github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "read"}})
			return err
		}, github.ClassNotInstalled, "installation-id"},
		{"empty permissions refused locally", func(f *fixture) error {
			_, err := f.appClient(t).CreateInstallationToken(context.Background(), f.inst.ID,
				github.TokenRequest{Repositories: []string{"api"}})
			return err
		}, github.ClassValidation, "explicit"},
		{"policy file missing", func(f *fixture) error {
			_, _, err := f.tokenClient(t, f.sim.JobToken("acme/api")).FileContents(context.Background(), "acme", "api", "nope.cue", "")
			return err
		}, github.ClassNotFound, "commit nope.cue"},
		{"revoked token", func(f *fixture) error {
			tok := f.mint(t)
			c := f.tokenClient(t, tok.Token.Reveal())
			require.NoError(t, c.RevokeInstallationToken(context.Background()))
			return c.RevokeInstallationToken(context.Background())
		}, github.ClassBadCredentials, "expired or revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "")
			err := tt.call(f)
			require.Error(t, err)
			assert.Equal(t, tt.class, github.ClassOf(err), "%v", err)
			assert.Contains(t, err.Error(), tt.fix)
			assert.Equal(t, strings.ToLower(err.Error()[:1]), err.Error()[:1], "errors start lowercase")
		})
	}
}

func TestBadPrivateKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "not a key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"} {
		_, err := github.NewAppClient(github.Options{}, github.AppCredentials{ID: "1", PrivateKey: []byte(key)})
		require.Error(t, err)
		assert.Equal(t, github.ClassBadKey, github.ClassOf(err))
		if key != "" {
			assert.NotContains(t, err.Error(), key)
		}
	}
	_, err := github.NewAppClient(github.Options{}, github.AppCredentials{ID: " ", PrivateKey: []byte("x")})
	assert.Equal(t, github.ClassBadKey, github.ClassOf(err))
}

func TestEscapedNewlinesInKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	oneLine := strings.ReplaceAll(strings.TrimSpace(string(f.app.PrivateKeyPEM)), "\n", `\n`)
	c, err := github.NewAppClient(f.opts(), github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: []byte(oneLine)})
	require.NoError(t, err)
	_, err = c.RepoInstallation(context.Background(), "acme", "api")
	require.NoError(t, err)
}

func TestMintUseRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "/api/v3")
	tok := f.mint(t)
	assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, tok.Permissions)
	require.Len(t, tok.Repositories, 1)
	assert.Equal(t, "api", tok.Repositories[0].Name)
	assert.WithinDuration(t, f.clk.Now().Add(time.Hour), tok.ExpiresAt, 2*time.Second)

	c := f.tokenClient(t, tok.Token.Reveal())
	data, sha, err := c.FileContents(context.Background(), "acme", "api", ".github/jitkey/policy.cue", "main")
	require.NoError(t, err)
	assert.Equal(t, "apiVersion: \"jitkey.dev/v1\"\n", string(data))
	assert.NotEmpty(t, sha)

	require.NoError(t, c.RevokeInstallationToken(context.Background()))
	rec, ok := f.sim.TokenByValue(tok.Token.Reveal())
	require.True(t, ok)
	assert.Equal(t, ghsim.StateRevoked, rec.State())
	_, _, err = c.FileContents(context.Background(), "acme", "api", ".github/jitkey/policy.cue", "")
	assert.Equal(t, github.ClassBadCredentials, github.ClassOf(err))
}

// TestSecretNeverPrints holds for both installation-token formats: the
// classic ghs_ and 36 characters, and the stateless ghs_APPID_JWT, whose
// dots, "-" and "_" a classic pattern stops at.
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	for _, format := range []ghsim.TokenFormat{ghsim.TokenClassic, ghsim.TokenStateless} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			f := newFixtureFormat(t, "", format)
			tok := f.mint(t)
			v := tok.Token.Reveal()
			require.True(t, strings.HasPrefix(v, "ghs_"))
			for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", *tok), fmt.Sprintf("%v", tok.Token), fmt.Sprintf("%s", tok.Token)} { //nolint:staticcheck // S1025: the point is to go through fmt
				assert.NotContains(t, s, v)
			}
			assert.Equal(t, "x *** y", github.Redact("x "+v+" y"))
			assert.Equal(t, "cut ***", github.Redact("cut "+v[:len(v)/2]), "a token cut short")
			assert.Equal(t, "(***)", github.Redact("("+v+")"))
		})
	}
	assert.Equal(t, "jwt ***", github.Redact("jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2ln"))
	assert.Equal(t, "ghs_ is the prefix", github.Redact("ghs_ is the prefix"))
	assert.Equal(t, "*** -x", github.Redact("ghs_1001_eyJhbGci-OiJ9.eyJzdWIiOiIxIn0.c2ln-_x -x"))
}

func TestRetryOn5xxAndNetwork(t *testing.T) {
	t.Parallel()
	for _, kind := range []ghsim.FaultKind{ghsim.FaultStatus500, ghsim.FaultReset, ghsim.FaultTruncated, ghsim.FaultTimeout} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "")
			f.sim.Fault(ghsim.FaultSpec{Method: "GET", Path: "/repos/{owner}/{repo}/installation", Kind: kind, Count: 2, Status: 502})
			o := f.opts()
			o.AttemptTimeout = 150 * time.Millisecond
			c, err := github.NewAppClient(o, github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
			require.NoError(t, err)
			in, err := c.RepoInstallation(context.Background(), "acme", "api")
			require.NoError(t, err)
			assert.Equal(t, f.inst.ID, in.ID)
			assert.Equal(t, 3, f.sim.Calls()["GET /repos/{owner}/{repo}/installation"])
			waits := f.sleeps.list()
			require.Len(t, waits, 2)
			assert.Less(t, waits[0], waits[1], "exponential back-off")
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultStatus500})
	_, err := f.appClient(t).RepoInstallation(context.Background(), "acme", "api")
	require.Error(t, err)
	assert.Equal(t, github.ClassServer, github.ClassOf(err))
	assert.Equal(t, 4, f.sim.Calls()["GET /repos/{owner}/{repo}/installation"])
}

func TestMintRetriedOn5xxNotOnLostAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.Fault(ghsim.FaultSpec{Method: "POST", Kind: ghsim.FaultStatus500, Count: 1})
	f.mint(t)
	assert.Equal(t, 2, f.sim.Calls()["POST /app/installations/{installation_id}/access_tokens"])

	g := newFixture(t, "")
	g.sim.Fault(ghsim.FaultSpec{Method: "POST", Kind: ghsim.FaultTruncated, Count: 1})
	_, err := g.appClient(t).CreateInstallationToken(context.Background(), g.inst.ID,
		github.TokenRequest{Repositories: []string{"api"}, Permissions: map[string]string{"contents": "read"}})
	require.Error(t, err)
	var lost *github.LostAnswerError
	require.True(t, errors.As(err, &lost), "%v", err)
	assert.NotEmpty(t, lost.Partial)
	assert.Equal(t, 1, g.sim.Calls()["POST /app/installations/{installation_id}/access_tokens"])
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("secondary with retry-after is waited out", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "")
		f.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultRateLimitSecondary, Count: 1, Status: 429, RetryAfter: 7 * time.Second})
		_, err := f.appClient(t).RepoInstallation(context.Background(), "acme", "api")
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{7 * time.Second}, f.sleeps.list())
	})
	t.Run("secondary 403 on a POST is waited out too", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "")
		f.sim.Fault(ghsim.FaultSpec{Method: "POST", Kind: ghsim.FaultRateLimitSecondary, Count: 1, Status: 403, RetryAfter: 3 * time.Second})
		f.mint(t)
		assert.Equal(t, []time.Duration{3 * time.Second}, f.sleeps.list())
	})
	t.Run("primary beyond the max wait fails at once", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "")
		f.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultRateLimitPrimary, Count: 1})
		_, err := f.appClient(t).RepoInstallation(context.Background(), "acme", "api")
		require.Error(t, err)
		e, ok := github.AsError(err)
		require.True(t, ok)
		assert.Equal(t, github.ClassRateLimited, e.Class)
		assert.False(t, e.RetryAt.IsZero())
		assert.Contains(t, e.Error(), "rate limit lifts at")
		assert.Empty(t, f.sleeps.list())
	})
	t.Run("primary within the max wait is waited out", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, "")
		f.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultRateLimitPrimary, Count: 1})
		o := f.opts()
		o.Retry.MaxWait = 2 * time.Hour
		c, err := github.NewAppClient(o, github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
		require.NoError(t, err)
		_, err = c.RepoInstallation(context.Background(), "acme", "api")
		require.NoError(t, err)
		waits := f.sleeps.list()
		require.Len(t, waits, 1)
		assert.InDelta(t, time.Hour.Seconds(), waits[0].Seconds(), 5)
	})
}

func TestContextBoundsRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.Fault(ghsim.FaultSpec{Kind: ghsim.FaultStatus500})
	o := f.opts()
	o.Sleep = nil // real sleeps
	o.Now = time.Now
	o.Retry = github.RetryPolicy{Attempts: 100, BaseDelay: 50 * time.Millisecond, MaxDelay: 100 * time.Millisecond}
	c, err := github.NewAppClient(o, github.AppCredentials{ID: itoa(f.app.ID), PrivateKey: f.app.PrivateKeyPEM})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.RepoInstallation(ctx, "acme", "api")
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Second)
}

// A GHES web server (not its /api/v3/) answers HTML, whatever the status.
func TestWrongAPIURLAnswersHTML(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusOK, http.StatusNotFound} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Sign in to GitHub</body></html>")
		}))
		t.Cleanup(srv.Close)
		c, err := github.NewTokenClient(github.Options{BaseURL: srv.URL}, "ghs_0123456789abcdef")
		require.NoError(t, err)
		_, _, err = c.FileContents(context.Background(), "acme", "api", "p.cue", "")
		require.Error(t, err)
		assert.Equal(t, github.ClassWrongAPIURL, github.ClassOf(err), "status %d: %v", status, err)
		assert.Contains(t, err.Error(), "/api/v3/")
	}
}

// TestIsToken tells GitHub's tokens, both installation-token formats
// included, from JWTs: a stateless token has a JWT's two dots.
func TestIsToken(t *testing.T) {
	t.Parallel()
	for cred, want := range map[string]bool{
		"ghs_" + strings.Repeat("a", 36):                            true,
		"ghs_1001_eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJnaXRodWIifQ.c2ln": true,
		"github_pat_11ABC_def":                                      true,
		"ghp_x":                                                     true,
		"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2ln":                 false,
		"":      false,
		"Ghs_x": false,
	} {
		assert.Equal(t, want, github.IsToken(cred), cred)
	}
}
