package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/policy"
)

var t0 = time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)

var (
	keysOnce sync.Once
	keyA     *rsa.PrivateKey
	keyB     *rsa.PrivateKey
)

func testKeys() (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

// issuer is a test OIDC issuer publishing key A as kid "a".
type issuer struct {
	srv            *httptest.Server
	jwksCalls      atomic.Int32
	discoveryCalls atomic.Int32
	failDiscovery  atomic.Int32  // answer this many discovery requests 404
	hold           chan struct{} // when set, discovery answers once it is closed
	jwksURI        string        // override of the discovery document's jwks_uri
	discIss        string        // override of the discovery document's issuer
}

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	a, _ := testKeys()
	is := &issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_services/token/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		is.discoveryCalls.Add(1)
		if is.hold != nil {
			<-is.hold
		}
		if is.failDiscovery.Add(-1) >= 0 {
			http.NotFound(w, nil)
			return
		}
		iss, jwks := is.url(), is.url()+"/.well-known/jwks"
		if is.discIss != "" {
			iss = is.discIss
		}
		if is.jwksURI != "" {
			jwks = is.jwksURI
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": jwks})
	})
	mux.HandleFunc("GET /_services/token/.well-known/jwks", func(w http.ResponseWriter, _ *http.Request) {
		is.jwksCalls.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &a.PublicKey, KeyID: "a", Algorithm: "RS256", Use: "sig"},
		}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) url() string { return is.srv.URL + "/_services/token" }

func (is *issuer) verifier(t testing.TB, now time.Time) *Verifier {
	t.Helper()
	iss, err := IssuerFor(is.srv.URL)
	require.NoError(t, err)
	require.Equal(t, is.url(), iss)
	v, err := NewVerifier(iss, Options{HTTPClient: is.srv.Client(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	return v
}

func jobClaims(iss string) map[string]any {
	return map[string]any{
		"iss": iss, "aud": "jitkey", "iat": t0.Unix(), "nbf": t0.Add(-5 * time.Second).Unix(), "exp": t0.Add(5 * time.Minute).Unix(),
		"jti": "j1", "sub": "repo:acme/api:ref:refs/heads/main", "repository": "acme/api", "repository_id": "42",
		"repository_owner": "acme", "repository_owner_id": "7", "ref": "refs/heads/main", "ref_type": "branch",
		"ref_protected": "true", "event_name": "push", "actor": "octocat", "runner_environment": "github-hosted",
		"workflow_ref":     "acme/api/.github/workflows/ci.yml@refs/heads/main",
		"job_workflow_ref": "acme/api/.github/workflows/ci.yml@refs/heads/main",
		"job_workflow_sha": "0123456789abcdef0123456789abcdef01234567", "repository_visibility": "private",
		"enterprise": "acme-corp", "enterprise_id": "3", "repo_property_team": "platform",
	}
}

func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	return signRaw(t, key, alg, kid, payload)
}

// signRaw signs payload as it is.
func signRaw(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	require.NoError(t, err)
	jws, err := s.Sign(payload)
	require.NoError(t, err)
	out, err := jws.CompactSerialize()
	require.NoError(t, err)
	return out
}

func TestVerifyAccepts(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, _ := testKeys()
	v := is.verifier(t, t0.Add(30*time.Second))
	id, err := v.Verify(context.Background(), sign(t, a, jose.RS256, "a", jobClaims(is.url())), "jitkey")
	require.NoError(t, err)
	assert.Equal(t, policy.Claims{
		Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main", RefType: "branch", RefProtected: true,
		EventName: "push", Actor: "octocat", RunnerEnvironment: "github-hosted", Subject: "repo:acme/api:ref:refs/heads/main",
		WorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main", JobWorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main",
		RepositoryID: "42", RepositoryOwnerID: "7", RepositoryVisibility: "private", Enterprise: "acme-corp", EnterpriseID: "3",
		JobWorkflowSHA: "0123456789abcdef0123456789abcdef01234567", Properties: map[string]string{"team": "platform"},
		Verified: true,
	}, id.Claims)
	assert.Equal(t, "42", id.RepositoryID)
	assert.Equal(t, "7", id.RepositoryOwnerID)
	assert.Equal(t, "j1", id.TokenID)
	assert.Equal(t, t0.Add(5*time.Minute), id.Expiry)

	// Keys are cached: a second token costs no fetch.
	c := jobClaims(is.url())
	c["sub"], c["environment"] = "repo:acme@7/api@42:environment:prod", "prod"
	id, err = v.Verify(context.Background(), sign(t, a, jose.RS256, "a", c), "jitkey")
	require.NoError(t, err)
	assert.Equal(t, "prod", id.Claims.Environment)
	assert.Equal(t, int32(1), is.jwksCalls.Load())
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, b := testKeys()
	tests := []struct {
		name   string
		key    any
		alg    jose.SignatureAlgorithm
		kid    string
		change func(map[string]any)
		now    time.Time
		want   string
	}{
		{name: "wrong key", key: b, want: "signature does not verify"},
		{name: "unknown kid", key: b, kid: "b", want: `no RS256 key "b"`},
		{name: "wrong issuer", change: func(c map[string]any) { c["iss"] = "https://evil.example/_services/token" }, want: "issuer"},
		{name: "custom slug only on github.com", change: func(c map[string]any) { c["iss"] = is.url() + "/acme" }, want: "issuer"},
		{name: "wrong audience", change: func(c map[string]any) { c["aud"] = "other" }, want: "audience"},
		{name: "no audience", change: func(c map[string]any) { delete(c, "aud") }, want: "audience"},
		{name: "expired", now: t0.Add(7 * time.Minute), want: "expired"},
		{name: "not yet valid", now: t0.Add(-3 * time.Minute), want: "not valid yet"},
		{name: "no exp", change: func(c map[string]any) { delete(c, "exp") }, want: "exp and iat are required"},
		{name: "HS256", key: []byte("0123456789abcdef0123456789abcdef"), alg: jose.HS256, want: "not an RS256-signed JWT"},
		{name: "subject repository", change: func(c map[string]any) { c["sub"] = "repo:acme/other:ref:refs/heads/main" }, want: "subject names acme/other"},
		{name: "subject owner", change: func(c map[string]any) { c["repository_owner"] = "evil" }, want: "not owned by"},
		{name: "immutable subject ids", change: func(c map[string]any) { c["sub"] = "repo:acme@7/api@43:ref:refs/heads/main" }, want: "subject IDs"},
		{name: "subject ref", change: func(c map[string]any) { c["sub"] = "repo:acme/api:ref:refs/heads/dev" }, want: "subject ref"},
		{name: "subject environment", change: func(c map[string]any) { c["sub"] = "repo:acme/api:environment:prod" }, want: "subject environment"},
		{name: "subject pull request", change: func(c map[string]any) { c["sub"] = "repo:acme/api:pull_request" }, want: "pull_request"},
		{name: "no subject", change: func(c map[string]any) { delete(c, "sub") }, want: "no subject"},
		{name: "repository shape", change: func(c map[string]any) { c["repository"] = "api" }, want: "not owner/name"},
		{name: "ref_protected type", change: func(c map[string]any) { c["ref_protected"] = "yes" }, want: "ref_protected"},
		{name: "repository_id not an ID", change: func(c map[string]any) { c["repository_id"] = "42 " }, want: "repository_id"},
		{name: "enterprise_id not an ID", change: func(c map[string]any) { c["enterprise_id"] = "-3" }, want: "enterprise_id"},
		{name: "custom property not a value", change: func(c map[string]any) { c["repo_property_team"] = map[string]any{"a": 1} }, want: "repo_property_team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := jobClaims(is.url())
			if tt.change != nil {
				tt.change(c)
			}
			key, alg, kid, now := tt.key, tt.alg, tt.kid, tt.now
			if key == nil {
				key = a
			}
			if alg == "" {
				alg = jose.RS256
			}
			if kid == "" {
				kid = "a"
			}
			if now.IsZero() {
				now = t0
			}
			raw := sign(t, key, alg, kid, c)
			_, err := is.verifier(t, now).Verify(context.Background(), raw, "jitkey")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidToken)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), raw)
			assert.NotContains(t, err.Error(), strings.Split(raw, ".")[2])
		})
	}
}

// A claim named twice is refused, whatever its spelling: encoding/json keeps
// the last of two names it matches to one field (and it matches names
// case-insensitively, with Unicode folding), another reader of the same
// token may keep the first, so the job would be one repository to jitkey and
// another to an auditor. Each token here is signed by the issuer and
// consistent when read last-wins; each must be refused all the same.
func TestVerifyRefusesDuplicateClaims(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, _ := testKeys()
	v := is.verifier(t, t0)
	for _, tt := range []struct {
		name, extra, dup string
	}{
		{name: "repository, owner and subject again", dup: "repository",
			extra: `"repository":"evil/x","repository_owner":"evil","sub":"repo:evil/x:ref:refs/heads/main","repository_owner_id":"8","repository_id":"9"`},
		{name: "subject again", dup: "sub", extra: `"sub":"repo:acme/api:ref:refs/heads/main"`},
		{name: "in capitals", dup: "repository", extra: `"REPOSITORY":"evil/x","Repository_Owner":"evil","SUB":"repo:evil/x:ref:refs/heads/main"`},
		{name: "escaped", dup: "repository", extra: `"repo\u0073itory":"evil/x","repository_owner":"evil","sub":"repo:evil/x:ref:refs/heads/main"`},
		{name: "Kelvin sign folds to k", dup: "job_workflow_ref", extra: `"job_wor\u212aflow_ref":"evil/x/.github/workflows/w.yml@refs/heads/main"`},
		{name: "long s folds to s", dup: "sub", extra: `"\u017fub":"repo:acme/api:ref:refs/heads/main"`},
		{name: "issuer again", dup: "iss", extra: `"iss":` + strconv.Quote(is.url())},
		{name: "audience again", dup: "aud", extra: `"aud":"jitkey"`},
		{name: "expiry again", dup: "exp", extra: fmt.Sprintf(`"exp":%d`, t0.Add(time.Hour).Unix())},
		{name: "jti again", dup: "jti", extra: `"jti":"j2"`},
		{name: "run_id again", dup: "run_id", extra: `"run_id":"1","run_id":"2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			payload, err := json.Marshal(jobClaims(is.url()))
			require.NoError(t, err)
			payload = append(append(payload[:len(payload)-1], ','), tt.extra+"}"...)
			require.True(t, json.Valid(payload), "%s", payload)
			_, err = v.Verify(context.Background(), signRaw(t, a, jose.RS256, "a", payload), "jitkey")
			require.ErrorIs(t, err, ErrInvalidToken)
			assert.Contains(t, err.Error(), "claim "+strconv.Quote(tt.dup)+" appears twice")
		})
	}
}

// A signed payload that is not one well-formed JSON object is refused,
// though its claims split.
func TestVerifyRefusesMalformedClaims(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	a, _ := testKeys()
	v := is.verifier(t, t0)
	good, err := json.Marshal(jobClaims(is.url()))
	require.NoError(t, err)
	body := string(good[1 : len(good)-1])
	for name, payload := range map[string]string{
		"a bad literal":     "{" + body + `,"x":tru}`,
		"a bad number":      "{" + body + `,"x":1.2.3}`,
		"trailing bytes":    "{" + body + "}]",
		"an array":          "[{" + body + "}]",
		"an unended string": "{" + body + `,"x":"a}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(context.Background(), signRaw(t, a, jose.RS256, "a", []byte(payload)), "jitkey")
			require.ErrorIs(t, err, ErrInvalidToken)
		})
	}
}

func TestVerifyRejectsAlgNone(t *testing.T) {
	t.Parallel()
	is := newIssuer(t)
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(jobClaims(is.url()))
	raw := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
	_, err := is.verifier(t, t0).Verify(context.Background(), raw, "jitkey")
	require.ErrorIs(t, err, ErrInvalidToken)
	assert.Equal(t, int32(0), is.jwksCalls.Load(), "no keys fetched for an unsigned token")
}

func TestVerifyRefusesBadDiscovery(t *testing.T) {
	t.Parallel()
	a, _ := testKeys()
	for name, set := range map[string]func(*issuer){
		"jwks on another host": func(is *issuer) { is.jwksURI = "http://evil.example/jwks" },
		"other issuer":         func(is *issuer) { is.discIss = "https://evil.example" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := newIssuer(t)
			set(is)
			_, err := is.verifier(t, t0).Verify(context.Background(), sign(t, a, jose.RS256, "a", jobClaims(is.url())), "jitkey")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "refusing it")
		})
	}
}

func TestIssuerFor(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                          GitHubIssuer,
		"https://github.com":        GitHubIssuer,
		"https://GitHub.com/":       GitHubIssuer,
		"https://octocorp.ghe.com":  "https://token.actions.octocorp.ghe.com",
		"https://ghes.example.com":  "https://ghes.example.com/_services/token",
		"http://127.0.0.1:8080/":    "http://127.0.0.1:8080/_services/token",
		"https://h.example/prefix/": "https://h.example/prefix/_services/token",
	} {
		got, err := IssuerFor(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := IssuerFor("ftp://x")
	assert.Error(t, err)
	assert.True(t, issuerAllowed(GitHubIssuer, GitHubIssuer+"/octocorp"), "GHEC custom issuer")
	assert.False(t, issuerAllowed(GitHubIssuer, GitHubIssuer+"/octo/corp"))
	assert.False(t, issuerAllowed(GitHubIssuer, GitHubIssuer+"x"))
}

func TestVerifySimulatorToken(t *testing.T) {
	t.Parallel()
	clk := ghsim.NewClock(t0)
	sim := ghsim.New(ghsim.Options{Clock: clk})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddOrg("acme")
	entID := sim.SetEnterprise("acme", "acme-corp")
	repo := sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", DefaultBranch: "main", Visibility: "internal",
		Properties: map[string]string{"team": "platform"}})
	iss, err := IssuerFor(sim.ServerURL())
	require.NoError(t, err)
	assert.Equal(t, sim.OIDCIssuer(), iss)
	v, err := NewVerifier(iss, Options{Now: clk.Now})
	require.NoError(t, err)

	claims := sim.JobClaims("acme/api")
	id, err := v.Verify(context.Background(), sim.IssueOIDC(claims, "jitkey"), "jitkey")
	require.NoError(t, err)
	assert.True(t, id.Claims.Verified)
	assert.Equal(t, "acme/api", id.Claims.Repository)
	assert.True(t, id.Claims.RefProtected)
	c := id.Claims
	assert.Equal(t, strconv.FormatInt(repo.ID, 10), c.RepositoryID)
	assert.Equal(t, strconv.FormatInt(repo.OwnerID, 10), c.RepositoryOwnerID)
	assert.Equal(t, "internal", c.RepositoryVisibility)
	assert.Equal(t, "acme-corp", c.Enterprise)
	assert.Equal(t, strconv.FormatInt(entID, 10), c.EnterpriseID)
	assert.Len(t, c.JobWorkflowSHA, 40)
	assert.Equal(t, map[string]string{"team": "platform"}, c.Properties)

	claims["sub"] = ghsim.SubjectImmutable(claims)
	idForm, err := v.Verify(context.Background(), sim.IssueOIDC(claims, "jitkey"), "jitkey")
	require.NoError(t, err, "immutable subject form")

	// A rule pinned to IDs and a custom property matches the simulator's
	// token in either subject form.
	set, err := policy.LoadBytes("ids.cue", []byte(fmt.Sprintf(`apiVersion: "jitkey.dev/v1"
rules: [{
	name: "by-id"
	match: {repository_id: %q, repository_owner_id: %q, enterprise_id: %q, repo_property_team: "platform",
		sub: "repo:acme@%[2]s/api@%[1]s:ref:refs/heads/main"}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}]
`, c.RepositoryID, c.RepositoryOwnerID, c.EnterpriseID)))
	require.NoError(t, err)
	for _, who := range []Identity{id, idForm} {
		d := policy.Decide(set, who.Claims, policy.Request{})
		assert.True(t, d.Allowed, "%s: %s", who.Claims.Subject, d.Reason)
	}

	_, err = v.Verify(context.Background(), sim.IssueOIDC(claims, "other"), "jitkey")
	assert.ErrorContains(t, err, "audience")
	raw := sim.IssueOIDC(claims, "jitkey")
	clk.Advance(10 * time.Minute)
	_, err = v.Verify(context.Background(), raw, "jitkey")
	assert.ErrorContains(t, err, "expired")
}

func TestFromEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"GITHUB_REPOSITORY": "acme/api", "GITHUB_REPOSITORY_OWNER": "acme", "GITHUB_WORKFLOW_REF": "acme/api/.github/workflows/ci.yml@refs/heads/main",
		"GITHUB_REF": "refs/heads/main", "GITHUB_REF_TYPE": "branch", "GITHUB_REF_PROTECTED": "true", "GITHUB_EVENT_NAME": "push",
		"GITHUB_ACTOR": "octocat", "RUNNER_ENVIRONMENT": "self-hosted", "GITHUB_REPOSITORY_ID": "42", "GITHUB_REPOSITORY_OWNER_ID": "7",
	}
	got := FromEnvironment(func(k string) string { return env[k] })
	assert.Equal(t, policy.Claims{
		Repository: "acme/api", RepositoryOwner: "acme", WorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main",
		Ref: "refs/heads/main", RefType: "branch", RefProtected: true, EventName: "push", Actor: "octocat",
		RunnerEnvironment: "self-hosted", RepositoryID: "42", RepositoryOwnerID: "7",
	}, got)
	assert.False(t, got.Verified)
}

func TestParseSubject(t *testing.T) {
	t.Parallel()
	s, ok, err := ParseSubject("repo:acme@7/api@42:environment:prod")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, Subject{Owner: "acme", OwnerID: "7", Repo: "api", RepoID: "42", Context: "environment:prod"}, s)
	_, ok, err = ParseSubject("repository_owner_id:7:context:prod")
	assert.False(t, ok)
	assert.NoError(t, err)
	for _, bad := range []string{"repo:acme", "repo:acme/api", "repo:acme@x/api@1:ref:r", "repo:/api:ref:x", "repo:acme@7/api:ref:x"} {
		_, _, err := ParseSubject(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseClaims(f *testing.F) {
	seed, _ := json.Marshal(jobClaims(GitHubIssuer))
	f.Add(seed)
	f.Add([]byte(`{"repository":"a/b","repository_owner":"a","sub":"repo:a@1/b@2:pull_request","repository_id":2,"repository_owner_id":"1","event_name":"pull_request"}`))
	f.Add([]byte(`{"ref_protected":null,"sub":"custom"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		cs, err := readClaims(payload)
		if err != nil {
			return
		}
		id, err := parseClaims(payload, cs)
		if err != nil {
			return
		}
		owner, _, ok := strings.Cut(id.Claims.Repository, "/")
		require.True(t, ok)
		require.True(t, strings.EqualFold(owner, id.Claims.RepositoryOwner))
		require.NotEmpty(t, id.Claims.Subject)
		require.False(t, id.Claims.Verified, "parsing alone never verifies")
		if s, isRepo, _ := ParseSubject(id.Claims.Subject); isRepo {
			require.True(t, strings.EqualFold(s.Owner+"/"+s.Repo, id.Claims.Repository))
		}
	})
}

// readClaims agrees with encoding/json on every JSON object: the same
// members with the same values, and it refuses exactly those with two names
// encoding/json would fold together (bytes.EqualFold is its matching).
func FuzzReadClaims(f *testing.F) {
	seed, _ := json.Marshal(jobClaims(GitHubIssuer))
	f.Add(seed)
	for _, s := range []string{`{}`, ` { "a" : [1, {"b": "}"}], "A": 2 } `, `{"a\u0041":1,"aa":2}`, `{"\u212a":1,"k":2}`,
		`{"x":"\"}\\","y":null,"z":-1.5e3,"w":true}`, `[1]`, `{"a":1}x`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, "{\"\xff\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		cs, err := readClaims(p)
		var m map[string]json.RawMessage
		if !json.Valid(p) || json.Unmarshal(p, &m) != nil || m == nil {
			return // not an object: refused here or by the decoding that follows
		}
		dec := json.NewDecoder(bytes.NewReader(p))
		_, _ = dec.Token()
		var names []string
		for dec.More() {
			k, err := dec.Token()
			require.NoError(t, err)
			names = append(names, k.(string))
			var skip json.RawMessage
			require.NoError(t, dec.Decode(&skip))
		}
		dup := false
		for i := range names {
			for j := range i {
				dup = dup || bytes.EqualFold([]byte(names[i]), []byte(names[j]))
			}
		}
		if dup {
			require.ErrorContains(t, err, "appears twice", "%q", p)
			return
		}
		require.NoError(t, err, "%q", p)
		require.Len(t, cs, len(m))
		for _, c := range cs {
			require.Equal(t, string(m[c.name]), string(c.raw), "claim %q", c.name)
		}
	})
}

func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"repo:acme/api:ref:refs/heads/main", "repo:acme@7/api@42:environment:prod", "repo:a@/b@1:x", "custom:x", "repo::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sub string) {
		s, isRepo, err := ParseSubject(sub)
		if !isRepo {
			require.NoError(t, err)
			require.False(t, strings.HasPrefix(sub, "repo:"))
			return
		}
		if err != nil {
			return
		}
		require.NotEmpty(t, s.Owner)
		require.NotEmpty(t, s.Repo)
		require.NotEmpty(t, s.Context)
		require.Equal(t, s.OwnerID == "", s.RepoID == "", "both IDs or neither")
	})
}

// TestPrefetch: the keys fetched ahead are the ones Verify uses (one
// discovery and one key fetch in all, however the two interleave); a
// prefetch that failed is forgotten, and Verify fetches and reports on its
// own; a token signed by a key the prefetched set lacks (the issuer rotated)
// makes Verify fetch again, as without a prefetch.
func TestPrefetch(t *testing.T) {
	t.Parallel()
	a, b := testKeys()
	ctx := context.Background()

	t.Run("verify waits for the prefetch in flight", func(t *testing.T) {
		t.Parallel()
		is := newIssuer(t)
		release := make(chan struct{})
		is.hold = release
		v := is.verifier(t, t0.Add(30*time.Second))
		v.Prefetch(ctx)
		v.Prefetch(ctx) // a second call starts nothing
		errc := make(chan error, 1)
		go func() {
			_, err := v.Verify(ctx, sign(t, a, jose.RS256, "a", jobClaims(is.url())), "jitkey")
			errc <- err
		}()
		close(release)
		require.NoError(t, <-errc)
		assert.Equal(t, int32(1), is.discoveryCalls.Load())
		assert.Equal(t, int32(1), is.jwksCalls.Load())
	})

	t.Run("a failed prefetch is forgotten", func(t *testing.T) {
		t.Parallel()
		is := newIssuer(t)
		is.failDiscovery.Store(1)
		v := is.verifier(t, t0.Add(30*time.Second))
		v.Prefetch(ctx)
		_, err := v.Verify(ctx, sign(t, a, jose.RS256, "a", jobClaims(is.url())), "jitkey")
		require.NoError(t, err)
		assert.Equal(t, int32(2), is.discoveryCalls.Load(), "the prefetch's failed fetch, then Verify's own")
		assert.Equal(t, int32(1), is.jwksCalls.Load())
	})

	t.Run("an unknown key is fetched again", func(t *testing.T) {
		t.Parallel()
		is := newIssuer(t)
		v := is.verifier(t, t0.Add(30*time.Second))
		v.Prefetch(ctx)
		_, err := v.Verify(ctx, sign(t, b, jose.RS256, "b", jobClaims(is.url())), "jitkey")
		require.ErrorIs(t, err, ErrInvalidToken)
		assert.Contains(t, err.Error(), `publishes no RS256 key "b"`)
		assert.Equal(t, int32(2), is.jwksCalls.Load(), "the prefetched set lacked the key: fetched once more")
	})
}
