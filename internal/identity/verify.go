package identity

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
const DefaultLeeway = 60 * time.Second

// Options configure a Verifier.
type Options struct {
	HTTPClient *http.Client     // fetches discovery and keys; nil means a client with a 10 s timeout
	Now        func() time.Time // required: the clock tokens are checked against
	Leeway     time.Duration    // 0 means DefaultLeeway
}

// Verifier checks job tokens from one issuer.
type Verifier struct {
	issuer string
	client *http.Client
	now    func() time.Time
	leeway time.Duration

	mu       sync.Mutex
	keys     map[string]*jose.JSONWebKeySet // by issuer
	prefetch chan struct{}                  // closed when Prefetch ended; nil before it started
}

// ErrInvalidToken wraps every reason a token is refused.
var ErrInvalidToken = errors.New("invalid OIDC token")

// NewVerifier returns a Verifier for tokens issued by issuer (see IssuerFor).
func NewVerifier(issuer string, opts Options) (*Verifier, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an http(s) URL", issuer)
	}
	if opts.Now == nil {
		return nil, errors.New("identity: Options.Now is required")
	}
	v := &Verifier{issuer: issuer, client: opts.HTTPClient, now: opts.Now, leeway: opts.Leeway,
		keys: map[string]*jose.JSONWebKeySet{}}
	if v.client == nil {
		v.client = &http.Client{Timeout: 10 * time.Second}
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	return v, nil
}

// Issuer is the issuer the Verifier expects.
func (v *Verifier) Issuer() string { return v.issuer }

// Token is a job's OIDC token read but not verified: nothing of it is to be
// trusted before (*Verifier).VerifyToken checked it.
type Token struct {
	jws     *jose.JSONWebSignature
	payload []byte
	claims  claimSet
	iss     string
}

// Parse reads raw, a compact RS256-signed JWT, and its claims, in one pass
// over them: a claim named twice (in any spelling encoding/json would match
// to the same field) is refused. Its errors wrap ErrInvalidToken and never
// contain the token.
func Parse(raw string) (*Token, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("%w: not an RS256-signed JWT", ErrInvalidToken)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrInvalidToken)
	}
	payload := jws.UnsafePayloadWithoutVerification()
	claims, err := readClaims(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	iss, err := claims.str("iss")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return &Token{jws: jws, payload: payload, claims: claims, iss: iss}, nil
}

// Issuer is the token's iss claim, unverified: only to choose the Verifier,
// which checks it again.
func (t *Token) Issuer() string { return t.iss }

// Verify checks raw, a job's OIDC token, and returns its claims marked
// verified: RS256 signature by a key the issuer publishes, issuer, audience,
// exp/nbf/iat within the leeway, each claim named once, and a subject that
// agrees with the repository claims. Errors wrap ErrInvalidToken when the
// token is refused; they never contain the token.
func (v *Verifier) Verify(ctx context.Context, raw, audience string) (Identity, error) {
	t, err := Parse(raw)
	if err != nil {
		return Identity{}, err
	}
	return v.VerifyToken(ctx, t, audience)
}

// VerifyToken is Verify of a token already parsed.
func (v *Verifier) VerifyToken(ctx context.Context, t *Token, audience string) (Identity, error) {
	// The issuer is read before the signature is checked only to choose the
	// key; keys are only ever fetched from an allowed issuer.
	iss := t.iss
	if !issuerAllowed(v.issuer, iss) {
		return Identity{}, fmt.Errorf("%w: issuer %q, want %q", ErrInvalidToken, iss, v.issuer)
	}
	kid := t.jws.Signatures[0].Header.KeyID
	key, err := v.key(ctx, iss, kid)
	if err != nil {
		return Identity{}, err
	}
	verified, err := t.jws.Verify(key)
	if err != nil || !bytes.Equal(verified, t.payload) {
		return Identity{}, fmt.Errorf("%w: signature does not verify with the issuer's key %q", ErrInvalidToken, kid)
	}
	std, err := t.claims.standard()
	if err != nil {
		return Identity{}, fmt.Errorf("%w: unreadable claims: %w", ErrInvalidToken, err)
	}
	if err := v.checkStandard(std, iss, audience); err != nil {
		return Identity{}, err
	}
	id, err := parseClaims(t.payload, t.claims)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	id.Claims.Verified = true
	id.Issuer, id.Audience = iss, audience
	id.IssuedAt, id.Expiry = std.IssuedAt.Time().UTC(), std.Expiry.Time().UTC()
	return id, nil
}

func (v *Verifier) checkStandard(std jwt.Claims, iss, audience string) error {
	if audience == "" {
		return errors.New("identity: an audience is required")
	}
	if std.Expiry == nil || std.IssuedAt == nil {
		return fmt.Errorf("%w: exp and iat are required", ErrInvalidToken)
	}
	err := std.ValidateWithLeeway(jwt.Expected{Issuer: iss, AnyAudience: jwt.Audience{audience}, Time: v.now()}, v.leeway)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidAudience):
		return fmt.Errorf("%w: audience %q, want %q; request the token with the same audience input", ErrInvalidToken, []string(std.Audience), audience)
	case errors.Is(err, jwt.ErrExpired):
		return fmt.Errorf("%w: expired at %s (now %s); check the runner's clock", ErrInvalidToken, std.Expiry.Time().UTC().Format(time.RFC3339), v.now().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return fmt.Errorf("%w: not valid yet (now %s); check the runner's clock", ErrInvalidToken, v.now().UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("%w: %w", ErrInvalidToken, err)
}

// Prefetch starts fetching the expected issuer's key set for a Verify to
// come, and returns at once: a step calls it before it requests the job's
// token, so that the issuer's two round trips (discovery document, keys)
// overlap that request instead of following it. A Verify meanwhile waits for
// the fetch rather than starting another. A failed prefetch is forgotten:
// Verify fetches again and reports its own error. The keys come from where
// Verify would fetch them: the issuer the Verifier expects, nowhere else.
func (v *Verifier) Prefetch(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.prefetch != nil || v.keys[v.issuer] != nil {
		return
	}
	done := make(chan struct{})
	v.prefetch = done
	go func() {
		defer close(done)
		set, err := v.fetchKeys(ctx, v.issuer)
		if err != nil {
			return
		}
		v.mu.Lock()
		if v.keys[v.issuer] == nil {
			v.keys[v.issuer] = set
		}
		v.mu.Unlock()
	}()
}

// key finds the signing key kid of iss, fetching the issuer's key set once
// (or taking the one Prefetch is fetching) and again when kid is unknown
// (the issuer rotated its keys).
func (v *Verifier) key(ctx context.Context, iss, kid string) (*rsa.PublicKey, error) {
	v.mu.Lock()
	pending := v.prefetch
	v.mu.Unlock()
	if pending != nil && iss == v.issuer {
		select {
		case <-pending:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	v.mu.Lock()
	set := v.keys[iss]
	v.mu.Unlock()
	for fetched := false; ; fetched = true {
		if set != nil {
			if k, ok := pickKey(set, kid); ok {
				return k, nil
			}
		}
		if fetched {
			return nil, fmt.Errorf("%w: the issuer publishes no RS256 key %q", ErrInvalidToken, kid)
		}
		var err error
		if set, err = v.fetchKeys(ctx, iss); err != nil {
			return nil, err
		}
		v.mu.Lock()
		v.keys[iss] = set
		v.mu.Unlock()
	}
}

func pickKey(set *jose.JSONWebKeySet, kid string) (*rsa.PublicKey, bool) {
	for _, k := range set.Keys {
		if (kid != "" && k.KeyID != kid) || (k.Algorithm != "" && k.Algorithm != string(jose.RS256)) || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if pub, ok := k.Key.(*rsa.PublicKey); ok {
			return pub, true
		}
	}
	return nil, false
}

type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func (v *Verifier) fetchKeys(ctx context.Context, iss string) (*jose.JSONWebKeySet, error) {
	var d discovery
	if err := v.getJSON(ctx, iss+"/.well-known/openid-configuration", &d); err != nil {
		return nil, fmt.Errorf("read the issuer's discovery document: %w", err)
	}
	if d.Issuer != iss {
		return nil, fmt.Errorf("discovery document of %s names issuer %q; refusing it", iss, d.Issuer)
	}
	iu, _ := url.Parse(iss)
	ju, err := url.Parse(d.JWKSURI)
	if err != nil || ju.Scheme != iu.Scheme || !strings.EqualFold(ju.Host, iu.Host) {
		return nil, fmt.Errorf("discovery document of %s points its keys to %q, another host; refusing it", iss, d.JWKSURI)
	}
	var set jose.JSONWebKeySet
	if err := v.getJSON(ctx, d.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("read the issuer's keys: %w", err)
	}
	return &set, nil
}

func (v *Verifier) getJSON(ctx context.Context, u string, dst any) error {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 300 * time.Millisecond):
			}
		}
		retry, err := v.getJSONOnce(ctx, u, dst)
		if err == nil || !retry {
			return err
		}
		last = err
	}
	return last
}

func (v *Verifier) getJSONOnce(ctx context.Context, u string, dst any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return ctx.Err() == nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode >= 500 || resp.StatusCode == 429, fmt.Errorf("GET %s: %s; check GITHUB_SERVER_URL", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(dst); err != nil {
		return true, fmt.Errorf("GET %s: %w", u, err)
	}
	return false, nil
}
