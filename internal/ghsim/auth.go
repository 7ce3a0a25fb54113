package ghsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

type identityKind int

const (
	idNone identityKind = iota
	idBad
	idApp
	idToken
)

// identity is who a request authenticated as, decided once per request.
type identity struct {
	kind   identityKind
	app    *appState
	tok    *token
	reason string // why a credential was refused (idBad)
	bucket string // rate-limit bucket
	limit  int
}

// identify reads the Authorization header. A credential with a GitHub token
// prefix (ghs_, ghp_, github_pat_, ...) is looked up as a token, whatever it
// holds (a stateless installation token holds a JWT); otherwise a JWT-shaped
// one is checked as an App JWT, and anything else is a bad credential.
func (s *Sim) identify(r *http.Request) identity {
	cred := credential(r.Header.Get("Authorization"))
	if cred == "" {
		return identity{kind: idNone, bucket: "ip:" + hostOnly(r.RemoteAddr), limit: 60}
	}
	if !isToken(cred) && strings.Count(cred, ".") == 2 {
		app, reason := s.verifyAppJWT(cred)
		if app == nil {
			return identity{kind: idBad, reason: reason, bucket: "bad", limit: 60}
		}
		return identity{kind: idApp, app: app, bucket: "app:" + strconv.FormatInt(app.ID, 10), limit: 5000}
	}
	s.mu.Lock()
	tok := s.tokens[hashToken(cred)]
	s.mu.Unlock()
	if tok == nil {
		return identity{kind: idBad, reason: "Bad credentials", bucket: "bad", limit: 60}
	}
	id := identity{kind: idToken, tok: tok, bucket: "token:" + tok.hash, limit: 5000}
	if tok.kind == TokenJob {
		id.limit = 1000
	} else {
		id.bucket = "inst:" + strconv.FormatInt(tok.inst.ID, 10)
	}
	return id
}

func credential(h string) string {
	f := strings.Fields(h)
	if len(f) != 2 {
		return ""
	}
	switch strings.ToLower(f[0]) {
	case "bearer", "token":
		return f[1]
	}
	return ""
}

func hostOnly(addr string) string {
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return addr[:i]
	}
	return addr
}

// HashToken is the hex SHA-256 of a token, the only form the ledger keeps.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func hashToken(tok string) string { return HashToken(tok) }

const (
	msgJWTDecode = "A JSON web token could not be decoded"
	msgJWTExp    = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTIat    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgJWTFar    = "'Expiration time' claim ('exp') is too far in the future"
	msgJWTIss    = "Integration not found"
)

// verifyAppJWT checks an App JWT as GitHub does: RS256 signed by a registered App's
// key, iss the App ID or client ID, iat not more than 60 s ahead, exp in the future
// and at most 10 minutes after iat. It returns the App or GitHub's refusal message.
func (s *Sim) verifyAppJWT(raw string) (*appState, string) {
	parts := strings.Split(raw, ".")
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat *json.Number    `json:"iat"`
		Exp *json.Number    `json:"exp"`
	}
	if !decodeSegment(parts[0], &hdr) || !decodeSegment(parts[1], &claims) || hdr.Alg != "RS256" {
		return nil, msgJWTDecode
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, msgJWTDecode
	}
	iss := strings.Trim(string(claims.Iss), `"`)
	s.mu.Lock()
	app := s.appByIssuer(iss)
	s.mu.Unlock()
	if app == nil {
		return nil, msgJWTIss
	}
	if !s.jwts.verified(raw, app.key) {
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if rsa.VerifyPKCS1v15(app.key, crypto.SHA256, digest[:], sig) != nil {
			return nil, msgJWTDecode
		}
		s.jwts.remember(raw, app.key)
	}
	now := s.Now().Unix()
	exp, expOK := numericDate(claims.Exp)
	if !expOK || exp <= now {
		return nil, msgJWTExp
	}
	iat, iatOK := numericDate(claims.Iat)
	if !iatOK || iat > now+60 {
		return nil, msgJWTIat
	}
	if exp-iat > 600 || exp > now+660 {
		return nil, msgJWTFar
	}
	return app, ""
}

func numericDate(n *json.Number) (int64, bool) {
	if n == nil {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	f, err := n.Float64()
	return int64(f), err == nil
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v) == nil
}

// appByIssuer finds an App by numeric ID or client ID. Callers hold s.mu.
func (s *Sim) appByIssuer(iss string) *appState {
	if id, err := strconv.ParseInt(iss, 10, 64); err == nil {
		return s.apps[id]
	}
	for _, a := range s.apps {
		if a.ClientID == iss {
			return a
		}
	}
	return nil
}

// SignAppJWT signs an App JWT for app with the given iat and exp, for tests that
// need JWTs ghinstallation would not make (expired, far future, client-ID issuer).
func SignAppJWT(key *rsa.PrivateKey, iss string, iat, exp time.Time) (string, error) {
	return signJWT(key, "", map[string]any{"iss": iss, "iat": iat.Unix(), "exp": exp.Unix()})
}

func signJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	hdr := map[string]any{"alg": "RS256", "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
		hdr["x5t"] = kid
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

var levels = map[string]int{"read": 1, "write": 2, "admin": 3}

func allows(perms map[string]string, name, level string) bool {
	return levels[perms[name]] >= levels[level]
}

// authToken answers 401 unless the request carries a valid installation or job token.
func (c *call) authToken() (*token, bool) {
	switch c.id.kind {
	case idNone:
		c.error(http.StatusUnauthorized, "Requires authentication")
		return nil, false
	case idBad:
		c.error(http.StatusUnauthorized, "Bad credentials")
		return nil, false
	case idApp:
		c.error(http.StatusForbidden, "Resource not accessible by integration")
		return nil, false
	}
	c.s.mu.Lock()
	valid := c.id.tok.validAt(c.s.Now())
	c.s.mu.Unlock()
	if !valid {
		c.error(http.StatusUnauthorized, "Bad credentials")
		return nil, false
	}
	return c.id.tok, true
}

// authApp answers 401 unless the request carries a valid App JWT.
func (c *call) authApp() (*appState, bool) {
	switch c.id.kind {
	case idApp:
		return c.id.app, true
	case idBad:
		c.error(http.StatusUnauthorized, c.id.reason)
	default:
		c.error(http.StatusUnauthorized, msgJWTDecode)
	}
	return nil, false
}

// repoFor finds owner/name for the calling token and checks perm at level. It
// answers 404 when the repository does not exist or the token cannot see it, 403
// when the token sees it without the permission. Callers must not hold s.mu.
func (c *call) repoFor(perm, level string) (*repo, bool) {
	c.header.Set("X-Accepted-GitHub-Permissions", perm+"="+level)
	tok, ok := c.authToken()
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	var r *repo
	if id, ok := c.pathInt("repository_id"); ok {
		r = c.s.repoByID[id]
	} else {
		r = c.s.repoByName(c.path("owner"), c.path("repo"))
	}
	c.s.mu.Unlock()
	if r == nil || !tok.covers(r) {
		c.notFound()
		return nil, false
	}
	if !allows(tok.perms, perm, level) {
		c.forbidden()
		return nil, false
	}
	if r.Archived && level != "read" {
		// GitHub keeps an archived repository read-only: every write there
		// (issues, comments, labels and their edits, deploy keys, secrets,
		// webhooks) is refused, whatever the token may do.
		c.error(http.StatusForbidden, msgArchived)
		return nil, false
	}
	return r, true
}

const msgArchived = "Repository was archived so is read-only."

// orgFor finds the organisation {org} for the calling installation token and checks
// an organisation permission.
func (c *call) orgFor(perm, level string) (*account, bool) {
	c.header.Set("X-Accepted-GitHub-Permissions", perm+"="+level)
	tok, ok := c.authToken()
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	a := c.s.accounts[lower(c.path("org"))]
	c.s.mu.Unlock()
	if a == nil || a.Type != "Organization" {
		c.notFound()
		return nil, false
	}
	if tok.kind != TokenInstallation || tok.inst.Account != a || !allows(tok.perms, perm, level) {
		c.forbidden()
		return nil, false
	}
	return a, true
}

// repoByName looks a repository up case-insensitively. Callers hold s.mu.
func (s *Sim) repoByName(owner, name string) *repo {
	if a := s.accounts[lower(owner)]; a != nil {
		return a.byName[lower(name)]
	}
	return nil
}

// verifiedJWTs remembers the App JWTs whose signature verified, with the
// key that verified it: a client sends the same JWT for minutes, and the
// same bytes verify under the same key every time (the times in it are
// checked at each call). It keeps at most maxVerifiedJWTs.
type verifiedJWTs struct {
	mu   sync.Mutex
	seen map[string]*rsa.PublicKey
}

const maxVerifiedJWTs = 1024

func (v *verifiedJWTs) verified(raw string, key *rsa.PublicKey) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen[raw] == key
}

func (v *verifiedJWTs) remember(raw string, key *rsa.PublicKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil || len(v.seen) >= maxVerifiedJWTs {
		v.seen = map[string]*rsa.PublicKey{}
	}
	v.seen[raw] = key
}
