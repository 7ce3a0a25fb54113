package ghsim

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMintReadRevoke(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			ctx := context.Background()
			app := f.appClient(t)

			got, _, err := app.Apps.FindRepositoryInstallation(ctx, "acme", "api")
			require.NoError(t, err)
			assert.Equal(t, f.inst.ID, got.GetID())
			assert.Equal(t, "write", got.GetPermissions().GetContents())
			_, _, err = app.Apps.FindOrganizationInstallation(ctx, "acme")
			require.NoError(t, err)
			_, resp, err := app.Apps.FindUserInstallation(ctx, "nobody")
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, statusOf(t, resp))
			list, _, err := app.Apps.ListInstallations(ctx, nil)
			require.NoError(t, err)
			require.Len(t, list, 1)
			me, _, err := app.Apps.Get(ctx, "")
			require.NoError(t, err)
			assert.Equal(t, "jitkey", me.GetSlug())

			tok, _, err := app.Apps.CreateInstallationToken(ctx, f.inst.ID, &github.InstallationTokenOptions{
				Repositories: []string{"api"}, Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
			require.NoError(t, err)
			require.Len(t, tok.Repositories, 1)
			assert.Equal(t, "read", tok.GetPermissions().GetContents())
			assert.WithinDuration(t, f.clk.Now().Add(time.Hour), tok.GetExpiresAt().Time, time.Second)

			c := f.client(t, tok.GetToken())
			fc, _, _, err := c.Repositories.GetContents(ctx, "acme", "api", ".github/jitkey/policy.cue", nil)
			require.NoError(t, err)
			body, err := fc.GetContent()
			require.NoError(t, err)
			assert.Equal(t, "package jitkey\n", body)
			_, _, resp, err = c.Repositories.GetContents(ctx, "acme", "web", "README.md", nil)
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, statusOf(t, resp), "token scoped to api must not see web")

			ledger := f.sim.Ledger()
			require.Len(t, ledger, 1)
			assert.Equal(t, HashToken(tok.GetToken()), ledger[0].SHA256)
			assert.Equal(t, StateValid, ledger[0].State())
			assert.Equal(t, []string{"api"}, ledger[0].Repositories)
			assert.Equal(t, map[string]string{"contents": "read", "metadata": "read"}, ledger[0].Permissions)

			resp, err = c.Apps.RevokeInstallationToken(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			resp, err = c.Apps.RevokeInstallationToken(ctx)
			require.Error(t, err)
			assert.Equal(t, http.StatusUnauthorized, statusOf(t, resp))
			assert.Empty(t, f.sim.ValidTokens())
			assert.Equal(t, StateRevoked, f.sim.Ledger()[0].State())
		})
	}
}

func TestTokenExpiresOnClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	tok := f.mint(t, nil)
	c := f.client(t, tok)
	_, _, err := c.Repositories.Get(context.Background(), "acme", "api")
	require.NoError(t, err)
	f.clk.Advance(time.Hour)
	_, resp, err := c.Repositories.Get(context.Background(), "acme", "api")
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, statusOf(t, resp))
	assert.Equal(t, StateExpired, f.sim.Ledger()[0].State())
}

func TestAccessTokenRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	other := f.sim.AddApp(AppSpec{Slug: "other"})
	f.sim.AddRepo(RepoSpec{Owner: "globex", Name: "x"})
	otherInst := f.sim.Install(other.ID, "globex", InstallSpec{})
	app := f.appClient(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		id     int64
		opts   *github.InstallationTokenOptions
		status int
		msg    string
	}{
		{"permission not granted", f.inst.ID, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Workflows: github.String("write")}}, 422, msgPermsNotGranted},
		{"level above installation", f.inst.ID, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Administration: github.String("write")}}, 422, msgPermsNotGranted},
		{"repository outside installation", f.inst.ID, &github.InstallationTokenOptions{Repositories: []string{"nope"}}, 422, msgRepoNotAccess},
		{"repository id of another org", f.inst.ID, &github.InstallationTokenOptions{RepositoryIDs: []int64{f.sim.AddRepo(RepoSpec{Owner: "globex", Name: "y"}).ID}}, 422, msgRepoNotAccess},
		{"installation of another app", otherInst.ID, nil, 404, "Not Found"},
		{"unknown installation", 1, nil, 404, "Not Found"},
	}
	for _, tc := range cases {
		_, resp, err := app.Apps.CreateInstallationToken(ctx, tc.id, tc.opts)
		require.Error(t, err, tc.name)
		assert.Equal(t, tc.status, statusOf(t, resp), tc.name)
		var ge *github.ErrorResponse
		require.ErrorAs(t, err, &ge, tc.name)
		assert.Equal(t, tc.msg, ge.Message, tc.name)
		assert.Equal(t, docsURL, ge.DocumentationURL, tc.name)
	}
	assert.Empty(t, f.sim.Ledger())
}

func TestNoPermissionsMapInheritsAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.mint(t, &github.InstallationTokenOptions{})
	rec := f.sim.Ledger()[0]
	assert.Equal(t, "write", rec.Permissions["contents"])
	assert.Equal(t, "all", rec.RepositorySelection)
	assert.Len(t, rec.Permissions, 16)
}

func TestAppJWTRejections(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	now := f.clk.Now()
	stranger := cachedKey(5)
	iss := strconv.FormatInt(f.app.ID, 10)
	sign := func(key any, iss string, iat, exp time.Time) string {
		k := f.app.PrivateKey
		if key != nil {
			k = stranger
		}
		j, err := SignAppJWT(k, iss, iat, exp)
		require.NoError(t, err)
		return j
	}
	cases := []struct {
		name, jwt, msg string
		status         int
	}{
		{"valid by app id", sign(nil, iss, now.Add(-30*time.Second), now.Add(5*time.Minute)), "", 200},
		{"valid by client id", sign(nil, f.app.ClientID, now.Add(-60*time.Second), now.Add(9*time.Minute)), "", 200},
		{"expired", sign(nil, iss, now.Add(-10*time.Minute), now.Add(-time.Second)), msgJWTExp, 401},
		{"iat in the future", sign(nil, iss, now.Add(2*time.Minute), now.Add(5*time.Minute)), msgJWTIat, 401},
		{"longer than ten minutes", sign(nil, iss, now.Add(-time.Minute), now.Add(10*time.Minute)), msgJWTFar, 401},
		{"unknown issuer", sign(nil, "999999", now, now.Add(time.Minute)), msgJWTIss, 401},
		{"wrong key", sign(stranger, iss, now, now.Add(time.Minute)), msgJWTDecode, 401},
		{"not a jwt", "a.b.c", msgJWTDecode, 401},
		{"installation token", "ghs_notajwt", msgJWTDecode, 401},
	}
	for _, tc := range cases {
		_, resp, err := f.client(t, tc.jwt).Apps.ListInstallations(context.Background(), nil)
		assert.Equal(t, tc.status, statusOf(t, resp), tc.name)
		if tc.status == 200 {
			assert.NoError(t, err, tc.name)
			continue
		}
		var ge *github.ErrorResponse
		require.ErrorAs(t, err, &ge, tc.name)
		if tc.name != "installation token" {
			assert.Equal(t, tc.msg, ge.Message, tc.name)
		}
	}
}

// An App JWT accepted once is checked again at each call: its signature
// is not verified twice, but its expiry is, on the simulator's clock.
func TestAppJWTReusedUntilItExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	now := f.clk.Now()
	jwt, err := SignAppJWT(f.app.PrivateKey, strconv.FormatInt(f.app.ID, 10), now.Add(-30*time.Second), now.Add(5*time.Minute))
	require.NoError(t, err)
	for range 3 {
		_, _, err := f.client(t, jwt).Apps.ListInstallations(context.Background(), nil)
		require.NoError(t, err)
	}
	f.clk.Advance(6 * time.Minute)
	_, resp, err := f.client(t, jwt).Apps.ListInstallations(context.Background(), nil)
	var ge *github.ErrorResponse
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, http.StatusUnauthorized, statusOf(t, resp))
	assert.Equal(t, msgJWTExp, ge.Message)
	// The same claims signed by a stranger's key are refused, the
	// accepted JWT's signature notwithstanding.
	parts := strings.Split(jwt, ".")
	forged, err := SignAppJWT(cachedKey(5), strconv.FormatInt(f.app.ID, 10), now.Add(-30*time.Second), now.Add(5*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, parts[1], strings.Split(forged, ".")[1], "the same claims")
	app, reason := f.sim.verifyAppJWT(forged)
	assert.Nil(t, app)
	assert.Equal(t, msgJWTDecode, reason)
}

func TestJobToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	c := f.client(t, f.sim.JobToken("acme/api"))
	ctx := context.Background()
	fc, _, _, err := c.Repositories.GetContents(ctx, "acme", "api", ".github/jitkey/policy.cue", &github.RepositoryContentGetOptions{Ref: "main"})
	require.NoError(t, err)
	body, err := fc.GetContent()
	require.NoError(t, err)
	assert.Equal(t, "package jitkey\n", body)
	_, resp, err := c.Repositories.Get(ctx, "acme", "web")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, statusOf(t, resp))
	assert.Empty(t, f.sim.Ledger(), "job tokens are not installation tokens")
}

func TestGHInstallationTransport(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		f := newFixture(t, prefix)
		c := f.installClient(t)
		r, _, err := c.Repositories.Get(context.Background(), "acme", "api")
		require.NoError(t, err)
		assert.Equal(t, "acme/api", r.GetFullName())
		require.Len(t, f.sim.Ledger(), 1)
		assert.Equal(t, 1, f.sim.Calls()["POST /app/installations/{installation_id}/access_tokens"])
	}
}

func TestUserInstallationWithSelectedRepos(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.AddUser("octocat")
	f.sim.AddRepo(RepoSpec{Owner: "octocat", Name: "dotfiles"})
	f.sim.AddRepo(RepoSpec{Owner: "octocat", Name: "private", Private: true})
	in := f.sim.Install(f.app.ID, "octocat", InstallSpec{Permissions: map[string]string{"contents": "read"}, Repositories: []string{"dotfiles"}})
	ctx := context.Background()
	app := f.appClient(t)
	got, _, err := app.Apps.FindUserInstallation(ctx, "octocat")
	require.NoError(t, err)
	assert.Equal(t, in.ID, got.GetID())
	assert.Equal(t, "User", got.GetTargetType())
	assert.Equal(t, "selected", got.GetRepositorySelection())
	_, resp, err := app.Apps.FindRepositoryInstallation(ctx, "octocat", "private")
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "repository outside the selection")

	tok, _, err := app.Apps.CreateInstallationToken(ctx, in.ID, nil)
	require.NoError(t, err)
	require.Len(t, tok.Repositories, 1, "a selected installation's token lists its repositories")
	_, _, err = app.Apps.CreateInstallationToken(ctx, in.ID, &github.InstallationTokenOptions{Repositories: []string{"private"}})
	require.Error(t, err)
	rec, ok := f.sim.TokenByValue(tok.GetToken())
	require.True(t, ok)
	assert.Equal(t, []string{"dotfiles"}, rec.Repositories)
	assert.Equal(t, "selected", rec.RepositorySelection)
}

func TestSuspendedInstallation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.AddRepo(RepoSpec{Owner: "globex", Name: "x"})
	in := f.sim.Install(f.app.ID, "globex", InstallSpec{Suspended: true})
	_, resp, err := f.appClient(t).Apps.CreateInstallationToken(context.Background(), in.ID, nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// TestAppJWTAlgorithmsRefused: an App JWT must be RS256 signed by the App's
// key. A JWT with alg "none" (no signature) or HS256 (an HMAC keyed with the
// App's public key, the algorithm-confusion attack) carries valid claims
// but is refused with GitHub's 401 body.
func TestAppJWTAlgorithmsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	now := f.clk.Now()
	claims, err := json.Marshal(map[string]any{"iss": strconv.FormatInt(f.app.ID, 10), "iat": now.Add(-30 * time.Second).Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	require.NoError(t, err)
	seg := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	unsigned := func(alg string) string { return seg([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + seg(claims) }
	pub, err := x509.MarshalPKIXPublicKey(&f.app.PrivateKey.PublicKey)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	mac.Write([]byte(unsigned("HS256")))
	valid, err := SignAppJWT(f.app.PrivateKey, strconv.FormatInt(f.app.ID, 10), now.Add(-30*time.Second), now.Add(5*time.Minute))
	require.NoError(t, err)
	rsSig := valid[strings.LastIndexByte(valid, '.')+1:]
	// rsSigned signs the header and claims with the App's key whatever alg the
	// header names, so that only the alg check can refuse it.
	rsSigned := func(alg string) string {
		digest := sha256.Sum256([]byte(unsigned(alg)))
		sig, err := rsa.SignPKCS1v15(rand.Reader, f.app.PrivateKey, crypto.SHA256, digest[:])
		require.NoError(t, err)
		return unsigned(alg) + "." + seg(sig)
	}

	cases := []struct {
		name, jwt string
		status    int
	}{
		{"RS256 signed by the App's key", valid, http.StatusOK},
		{"alg none, no signature", unsigned("none") + ".", http.StatusUnauthorized},
		{"alg None, no signature", unsigned("None") + ".", http.StatusUnauthorized},
		{"alg none with the RS256 signature of the same claims", unsigned("none") + "." + rsSig, http.StatusUnauthorized},
		{"HS256 keyed with the App's public key", unsigned("HS256") + "." + seg(mac.Sum(nil)), http.StatusUnauthorized},
		{"alg none over an RS256 signature of its own header", rsSigned("none"), http.StatusUnauthorized},
		{"alg HS256 over an RS256 signature of its own header", rsSigned("HS256"), http.StatusUnauthorized},
		{"alg RS256 over an RS256 signature of its own header", rsSigned("RS256"), http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", f.sim.URL()+"app/installations", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tc.jwt)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == http.StatusOK {
				return
			}
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, map[string]any{"message": "A JSON web token could not be decoded", "documentation_url": docsURL, "status": "401"}, body)
			assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		})
	}
	assert.Empty(t, f.sim.Ledger())
}
