package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/ghsim/contract"
)

// oidcPrefix is where the simulator's OIDC issuer lives: OpenID Connect
// discovery, not GitHub's REST API, so outside the description.
const oidcPrefix = "/_services/token/"

// env is one simulator, seeded, behind the contract middleware, with clients
// holding every kind of credential the probes need.
type env struct {
	t      *testing.T
	ctx    context.Context
	sim    *ghsim.Sim
	v      *contract.Validator
	api    string // API base URL, trailing slash
	server string // web root, trailing slash
	app    *ghsim.App
	inst   ghsim.Installation
	repo   ghsim.Repo

	appc      *github.Client // App JWT (ghinstallation.AppsTransport)
	full      *github.Client // installation token with every permission (ghinstallation.Transport)
	fullTok   string
	narrow    *github.Client // installation token with metadata:read only
	narrowTok string
	anon      *github.Client

	keyID, doomedKeyID, hookID, doomedHookID, orgHookID, doomedOrgHookID int64
	patID, doomedPatID, credID, doomedCredID                             int64
	issue                                                                int
}

var permissions = map[string]string{
	"contents": "write", "issues": "write", "administration": "write", "secrets": "write",
	"dependabot_secrets": "write", "codespaces_secrets": "write", "repository_hooks": "write",
	"environments": "write", "organization_administration": "write", "organization_secrets": "write",
	"organization_dependabot_secrets": "write", "organization_codespaces_secrets": "write",
	"organization_personal_access_tokens": "write", "organization_hooks": "write", "members": "read",
	"actions": "read",
}

func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	return newEnvWith(t, prefix, (*env).seed)
}

// newEnvWith starts a simulator seeded by seed (which must set e.app and
// e.inst) behind the contract middleware.
//
// A contract violation fails the test unless its text contains one of
// tolerate (known simulator gaps, logged instead).
func newEnvWith(t *testing.T, prefix string, seed func(*env), tolerate ...string) *env {
	t.Helper()
	v, err := contract.New(contract.WithPrefix(prefix), contract.WithOutside(oidcPrefix))
	require.NoError(t, err)
	sim := ghsim.New(ghsim.Options{Prefix: prefix, Clock: ghsim.NewClock(time.Now())})
	srv := httptest.NewServer(v.Wrap(sim.Handler(), func(err error) {
		for _, known := range tolerate {
			if strings.Contains(err.Error(), known) {
				t.Logf("contract, known ghsim gap: %v", err)
				return
			}
		}
		t.Errorf("contract: %v", err)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	e := &env{t: t, ctx: context.Background(), sim: sim, v: v, api: srv.URL + prefix + "/", server: srv.URL + "/"}
	seed(e)
	e.clients()
	return e
}

func (e *env) seed() {
	s := e.sim
	e.app = s.AddApp(ghsim.AppSpec{Slug: "jitkey"})
	s.AddUser("octocat")
	s.AddUser("hubot")
	e.repo = s.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", Private: true, Description: "the API"})
	s.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "web"})
	s.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "docs"})
	s.AddRepo(ghsim.RepoSpec{Owner: "octocat", Name: "dotfiles"})
	e.inst = s.Install(e.app.ID, "acme", ghsim.InstallSpec{Permissions: permissions})
	s.Install(e.app.ID, "octocat", ghsim.InstallSpec{Permissions: map[string]string{"contents": "read"}})
	s.PutFile("acme", "api", "main", ".github/jitkey/policy.cue", []byte("package jitkey\n"))
	s.PutFile("acme", "api", "main", ".github/jitkey/policy_test.cue", []byte("package jitkey\n"))
	used := s.Now().Add(-48 * time.Hour)
	e.keyID = s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "deploy", ReadOnly: true, Verified: true, AddedBy: "octocat", LastUsed: &used})
	e.doomedKeyID = s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "old"})
	for _, kind := range []ghsim.SecretKind{ghsim.SecretActions, ghsim.SecretDependabot, ghsim.SecretCodespaces} {
		for _, name := range []string{"TOKEN", "DOOMED"} {
			s.AddSecret(ghsim.SecretSpec{Kind: kind, Scope: ghsim.ScopeRepo, Owner: "acme", Repo: "api", Name: name})
			s.AddSecret(ghsim.SecretSpec{Kind: kind, Scope: ghsim.ScopeOrg, Owner: "acme", Name: name, Visibility: "selected", SelectedRepos: []string{"api", "web"}})
		}
		s.AddSecret(ghsim.SecretSpec{Kind: kind, Scope: ghsim.ScopeOrg, Owner: "acme", Name: "SHARED", Visibility: "all"})
	}
	s.AddEnvironment("acme", "api", "staging")
	for _, name := range []string{"DEPLOY", "DOOMED", "DOOMED2"} {
		s.AddSecret(ghsim.SecretSpec{Scope: ghsim.ScopeEnvironment, Owner: "acme", Repo: "api", Environment: "prod", Name: name})
	}
	expires := s.Now().Add(30 * 24 * time.Hour)
	e.patID = s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "octocat", TokenName: "laptop", ExpiresAt: &expires, LastUsedAt: &used,
		Repositories: []string{"api"}, Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
	e.doomedPatID = s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "hubot", TokenName: "ci"})
	e.credID = s.AddSSOAuthorization(ghsim.SSOSpec{Org: "acme", Login: "octocat", Scopes: []string{"repo"}, AccessedAt: &used})
	e.doomedCredID = s.AddSSOAuthorization(ghsim.SSOSpec{Org: "acme", Login: "hubot", CredentialType: "SSH key"})
	code := 200
	e.hookID = s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "api", URL: "https://ci.example.com/hook", Secret: true,
		LastResponse: &ghsim.HookResponse{Code: &code, Status: "active", Message: "OK"}})
	e.doomedHookID = s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "api", URL: "http://old.example.com/hook", InsecureSSL: true})
	e.orgHookID = s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", URL: "https://audit.example.com/hook", Events: []string{"repository"}})
	e.doomedOrgHookID = s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", URL: "https://old.example.com/org"})
	s.AddCollaborator("acme", "api", "octocat", "admin")
	s.AddCollaborator("acme", "api", "hubot", "read")
	s.AddMember("acme", "octocat", "admin")
	s.AddMember("acme", "hubot", "member")
}

func (e *env) clients() {
	t := e.t
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, e.app.ID, e.app.PrivateKeyPEM)
	require.NoError(t, err)
	atr.BaseURL = strings.TrimSuffix(e.api, "/")
	e.appc = e.client(&http.Client{Transport: atr, Timeout: 10 * time.Second})
	itr := ghinstallation.NewFromAppsTransport(atr, e.inst.ID)
	itr.BaseURL = atr.BaseURL
	e.full = e.client(&http.Client{Transport: itr, Timeout: 10 * time.Second})
	e.fullTok, err = itr.Token(e.ctx)
	require.NoError(t, err)
	e.narrowTok = e.mint(&github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Metadata: github.String("read")}})
	e.narrow = e.tokenClient(e.narrowTok)
	e.anon = e.tokenClient("")
}

func (e *env) client(hc *http.Client) *github.Client {
	c := github.NewClient(hc)
	u, err := c.BaseURL.Parse(e.api)
	require.NoError(e.t, err)
	c.BaseURL, c.UploadURL = u, u
	return c
}

func (e *env) tokenClient(tok string) *github.Client {
	c := e.client(&http.Client{Timeout: 10 * time.Second})
	if tok != "" {
		c = c.WithAuthToken(tok)
	}
	return c
}

func (e *env) mint(opts *github.InstallationTokenOptions) string {
	tok, resp, err := e.appc.Apps.CreateInstallationToken(e.ctx, e.inst.ID, opts)
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusCreated, resp.StatusCode)
	return tok.GetToken()
}

// want checks the status of a go-github call.
func (e *env) want(label string, status int, resp *github.Response, err error) {
	e.t.Helper()
	if resp == nil {
		e.t.Errorf("%s: no answer: %v", label, err)
		return
	}
	assert.Equal(e.t, status, resp.StatusCode, "%s: %v", label, err)
}

// wantOneOf checks that a go-github call answered one of the statuses.
func (e *env) wantOneOf(label string, resp *github.Response, err error, statuses ...int) {
	e.t.Helper()
	if resp == nil {
		e.t.Errorf("%s: no answer: %v", label, err)
		return
	}
	assert.Contains(e.t, statuses, resp.StatusCode, "%s: %v", label, err)
}

// raw sends one request without go-github and returns status, header and body.
func (e *env) raw(method, path, token string, body any, header ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.api+strings.TrimPrefix(path, "/"), rd)
	require.NoError(e.t, err)
	req.Header.Set("Accept", "application/vnd.github+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, resp.Header, b
}

// wantRaw checks the status of a raw request.
func (e *env) wantRaw(status int, method, path, token string, body any, header ...string) []byte {
	e.t.Helper()
	got, _, b := e.raw(method, path, token, body, header...)
	assert.Equal(e.t, status, got, "%s %s: %s", method, path, b)
	return b
}

// conditional fetches path twice, the second time with the first ETag, and
// expects 304.
func (e *env) conditional(path, token string) {
	e.t.Helper()
	status, hdr, _ := e.raw("GET", path, token, nil)
	require.Equal(e.t, http.StatusOK, status, path)
	etag := hdr.Get("ETag")
	require.NotEmpty(e.t, etag, "GET %s: no ETag", path)
	e.wantRaw(http.StatusNotModified, "GET", path, token, nil, "If-None-Match", etag)
}

// notREST: the OIDC issuer and the GraphQL endpoint are outside GitHub's
// REST description (GraphQL is checked against its schema by ghsim itself).
func notREST(route string) bool {
	return strings.Contains(route, oidcPrefix) || route == "POST /graphql"
}

// servedRoutes is the simulator's own list of routes ("METHOD /template").
func servedRoutes(t *testing.T, _ *contract.Validator) []string {
	t.Helper()
	return ghsim.New(ghsim.Options{}).Routes()
}

func TestSimulatorHonoursContract(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/api/v3"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, prefix)
			served := servedRoutes(t, e.v)
			require.NotEmpty(t, served)
			described := map[string]bool{}
			for _, op := range e.v.Operations() {
				described[op] = true
			}
			for _, route := range served {
				if notREST(route) {
					continue
				}
				assert.True(t, described[route], "ghsim serves %s, which GitHub's description lacks", route)
			}
			for _, route := range destructiveLast(served) {
				p, ok := probes[route]
				if !ok {
					if !notREST(route) {
						t.Errorf("ghsim serves %s but no probe exercises it: add one to probes", route)
					}
					continue
				}
				p(e)
			}
			e.oidc()
			for route := range e.sim.Calls() {
				assert.Contains(t, served, route, "ghsim counted a call on a route Routes() does not list")
			}
			seen := e.v.Seen()
			allStatuses := map[int]bool{}
			for _, route := range served {
				if notREST(route) {
					continue
				}
				ok := false
				for status := range seen[route] {
					allStatuses[status] = true
					ok = ok || status < 300
				}
				assert.True(t, ok, "%s was never answered with success (seen %v)", route, seen[route])
			}
			for _, status := range []int{401, 403, 404, 422, 304} {
				assert.True(t, allStatuses[status], "no exchange answered %d", status)
			}
			var missing []string
			for _, op := range e.v.Operations() {
				if !slicesContains(served, op) {
					missing = append(missing, op)
				}
			}
			statuses := map[int]int{}
			for _, x := range e.v.Exchanges() {
				statuses[x.Status]++
			}
			t.Logf("%d routes served (%d exchanges, by status %v) and held to the description; described but not served (%d): %s",
				len(served), len(e.v.Exchanges()), statuses, len(missing), strings.Join(missing, ", "))
		})
	}
}

// destructiveLast orders routes so that DELETEs run after everything that
// reads what they delete.
func destructiveLast(routes []string) []string {
	out := append([]string(nil), routes...)
	sort.SliceStable(out, func(i, j int) bool {
		return !strings.HasPrefix(out[i], "DELETE ") && strings.HasPrefix(out[j], "DELETE ")
	})
	return out
}

func slicesContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// oidc exercises the OIDC issuer: recorded by the middleware, held to OpenID
// Connect discovery by hand (it is not part of the REST description).
func (e *env) oidc() {
	resp, err := http.Get(e.server + strings.TrimPrefix(oidcPrefix, "/") + ".well-known/openid-configuration")
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.NotEmpty(e.t, doc.Issuer)
	jwks, err := http.Get(doc.JWKSURI)
	require.NoError(e.t, err)
	defer jwks.Body.Close()
	var keys struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(e.t, json.NewDecoder(jwks.Body).Decode(&keys))
	assert.NotEmpty(e.t, keys.Keys)
	reqURL, reqTok := e.sim.OIDCRequest(e.sim.JobClaims("acme/api"))
	u := strings.Replace(reqURL, strings.TrimSuffix(e.sim.ServerURL(), "/"), strings.TrimSuffix(e.server, "/"), 1)
	req, err := http.NewRequestWithContext(e.ctx, "GET", u+"&audience=jitkey", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+reqTok)
	tok, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer tok.Body.Close()
	var body struct {
		Value string `json:"value"`
	}
	require.NoError(e.t, json.NewDecoder(tok.Body).Decode(&body))
	assert.Equal(e.t, 2, strings.Count(body.Value, "."), "a JWT")
}

func sortStrings(s []string) { sort.Strings(s) }

func newValidatorT(t *testing.T) *contract.Validator {
	t.Helper()
	v, err := contract.New()
	require.NoError(t, err)
	return v
}
