package ghsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

const oidcPath = "/_services/token"

// OIDCIssuer is the issuer URL of the simulator's job tokens: ServerURL()+"_services/token".
func (s *Sim) OIDCIssuer() string { return s.root() + oidcPath }

func (s *Sim) oidcKID() string {
	k := cachedKey(oidcKeyIndex)
	sum := HashToken(k.N.String())
	return sum[:40]
}

func (s *Sim) oidcRoutes() {
	s.handleRaw("GET", oidcPath+"/.well-known/openid-configuration", s.oidcDiscovery)
	s.handleRaw("GET", oidcPath+"/.well-known/jwks", s.oidcJWKS)
	s.handleRaw("GET", oidcPath+"/idtoken", s.oidcRequest)
}

// handleRaw registers a route outside the API prefix; it is counted and can be
// faulted, but has no rate limit or ETag.
func (s *Sim) handleRaw(method, path string, h handlerFunc) {
	route := method + " " + path
	s.routeList = append(s.routeList, route)
	s.mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
		s.acct.count(route, r.Method)
		c := &call{s: s, r: r, route: route, header: http.Header{}, status: http.StatusOK, id: s.identify(r)}
		f := s.flt.pick(r.Method, route)
		if f != nil && f.before(s, w, r, c) {
			return
		}
		h(c)
		if f != nil && f.after(s, w, c) {
			return
		}
		c.flush(w)
	})
}

func (s *Sim) oidcDiscovery(c *call) {
	iss := c.webURL(oidcPath)
	c.json(http.StatusOK, obj{
		"issuer": iss, "jwks_uri": iss + "/.well-known/jwks",
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
		"claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
			"repository_id", "repository_owner", "repository_owner_id", "enterprise", "enterprise_id", "run_id",
			"run_number", "run_attempt", "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref",
			"base_ref", "event_name", "ref_type", "ref_protected", "environment", "environment_node_id",
			"job_workflow_ref", "job_workflow_sha", "repository_visibility", "runner_environment", "check_run_id"},
	})
}

func (s *Sim) oidcJWKS(c *call) {
	k := cachedKey(oidcKeyIndex)
	e := big.NewInt(int64(k.E)).Bytes()
	c.json(http.StatusOK, obj{"keys": []obj{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.oidcKID(),
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(e),
	}}})
}

func (s *Sim) oidcRequest(c *call) {
	cred := credential(c.r.Header.Get("Authorization"))
	s.mu.Lock()
	claims, ok := s.oidcReqs[HashToken(cred)]
	s.mu.Unlock()
	if cred == "" || !ok {
		c.error(http.StatusUnauthorized, "Unauthorized")
		return
	}
	aud := c.r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + fmt.Sprint(claims["repository_owner"])
	}
	jwt, err := s.issueOIDC(c.webURL(oidcPath), claims, aud)
	if err != nil {
		c.error(http.StatusInternalServerError, "sign token")
		return
	}
	c.json(http.StatusOK, obj{"count": 1, "value": jwt})
}

// OIDCRequest registers a job whose OIDC tokens carry claims and returns the values
// of ACTIONS_ID_TOKEN_REQUEST_URL (ending in "?api-version=2.0", so clients append
// "&audience=...") and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (s *Sim) OIDCRequest(claims map[string]any) (requestURL, requestToken string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	requestToken = "oidcreq_" + hex.EncodeToString(b)
	cp := map[string]any{}
	for k, v := range claims {
		cp[k] = v
	}
	s.mu.Lock()
	s.oidcReqs[HashToken(requestToken)] = cp
	s.mu.Unlock()
	return s.OIDCIssuer() + "/idtoken?api-version=2.0", requestToken
}

// IssueOIDC signs a GitHub-shaped job token for audience. Claims missing from
// claims are filled in: iss, aud, iat, nbf, exp (5 minutes), jti, and sub (the
// legacy form, from repository, environment, event_name and ref).
func (s *Sim) IssueOIDC(claims map[string]any, audience string) string {
	jwt, err := s.issueOIDC(s.OIDCIssuer(), claims, audience)
	if err != nil {
		panic("ghsim: sign oidc token: " + err.Error())
	}
	return jwt
}

func (s *Sim) issueOIDC(issuer string, claims map[string]any, audience string) (string, error) {
	now := s.Now()
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	defaults := map[string]any{
		"iss": issuer, "aud": audience, "iat": now.Unix(), "nbf": now.Add(-5 * time.Minute).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "jti": hex.EncodeToString(b),
	}
	for k, v := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	if _, ok := out["sub"]; !ok {
		out["sub"] = SubjectLegacy(out)
	}
	return signJWT(cachedKey(oidcKeyIndex), s.oidcKID(), out)
}

func str(m map[string]any, k string) string {
	if v, ok := m[k]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

func subjectSuffix(c map[string]any) string {
	switch {
	case str(c, "environment") != "":
		return "environment:" + str(c, "environment")
	case str(c, "event_name") == "pull_request" || str(c, "event_name") == "pull_request_target":
		return "pull_request"
	default:
		return "ref:" + str(c, "ref")
	}
}

// SubjectLegacy is the sub claim "repo:OWNER/REPO:..." for claims.
func SubjectLegacy(c map[string]any) string {
	return "repo:" + str(c, "repository") + ":" + subjectSuffix(c)
}

// SubjectImmutable is the sub claim "repo:OWNER@OWNER_ID/REPO@REPO_ID:..." for claims.
func SubjectImmutable(c map[string]any) string {
	owner, name, _ := strings.Cut(str(c, "repository"), "/")
	return "repo:" + owner + "@" + str(c, "repository_owner_id") + "/" + name + "@" + str(c, "repository_id") + ":" + subjectSuffix(c)
}

// JobClaims returns a complete claim set of a push job on the default branch of
// repository "owner/repo" (which must exist), for callers to adjust.
func (s *Sim) JobClaims(fullName string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, name, _ := strings.Cut(fullName, "/")
	r := s.mustRepo(owner, name)
	full := r.FullName()
	ref := "refs/heads/" + r.DefaultBranch
	wf := full + "/.github/workflows/ci.yml@" + ref
	sha := gitBlobSHA([]byte(full))
	c := map[string]any{
		"repository": full, "repository_id": itoa(r.ID), "repository_owner": r.Owner.Login,
		"repository_owner_id": itoa(r.Owner.ID), "repository_visibility": r.Visibility,
		"ref": ref, "ref_type": "branch", "ref_protected": "true", "sha": sha,
		"event_name": "push", "actor": "octocat", "actor_id": "583231", "base_ref": "", "head_ref": "",
		"workflow": "ci", "workflow_ref": wf, "workflow_sha": sha, "job_workflow_ref": wf, "job_workflow_sha": sha,
		"run_id": "7000000001", "run_number": "1", "run_attempt": "1", "runner_environment": "github-hosted",
	}
	if r.Owner.Enterprise != "" {
		c["enterprise"], c["enterprise_id"] = r.Owner.Enterprise, itoa(r.Owner.EnterpriseID)
	}
	for name, v := range r.Properties {
		c["repo_property_"+name] = v
	}
	c["sub"] = SubjectLegacy(c)
	return c
}
