package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// Secret is a credential. It prints, formats, logs and marshals as "***";
// Reveal is the only way to its value.
type Secret string

// Reveal returns the credential itself.
func (s Secret) Reveal() string { return string(s) }

func (Secret) String() string               { return "***" }
func (Secret) GoString() string             { return "***" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("***") }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"***"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte("***"), nil }

// AppCredentials identify a GitHub App.
type AppCredentials struct {
	// ID is the App ID (digits) or the App's client ID ("Iv1.…", "Iv23…"); it
	// becomes the JWT's issuer.
	ID string
	// PrivateKey is the App's private key in PEM form. A key pasted with literal
	// "\n" sequences instead of line breaks is accepted.
	PrivateKey []byte
	// Signer, when set, signs the App JWTs instead of PrivateKey: a key the
	// process never holds (internal/signer's KMS).
	Signer DigestSigner
}

// DigestSigner signs a SHA-256 digest with RSASSA-PKCS1-v1_5: an App JWT's
// RS256 signature.
type DigestSigner interface {
	Sign(ctx context.Context, digest []byte) ([]byte, error)
}

// ParsePrivateKey reads an App private key. Its errors never quote the key.
func ParsePrivateKey(pemData []byte) (*rsa.PrivateKey, error) {
	s := strings.TrimSpace(string(pemData))
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	if s == "" {
		return nil, &Error{Class: ClassBadKey, Op: "read the App private key", Message: "private-key is empty",
			Fix: "pass the App's private key (the .pem file from the App settings page), e.g. private-key: ${{ secrets.APP_PRIVATE_KEY }}"}
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(s))
	if err != nil {
		return nil, &Error{Class: ClassBadKey, Op: "read the App private key", Message: "private-key is not a PEM-encoded RSA private key",
			Fix: "paste the whole .pem file generated on the App settings page, BEGIN and END lines included"}
	}
	return key, nil
}

func checkAppID(id string) error {
	id = strings.TrimSpace(id)
	if id == "" {
		return &Error{Class: ClassBadKey, Op: "read the App ID", Message: "neither app-id nor client-id is set",
			Fix: "pass app-id (digits) or client-id from the App settings page"}
	}
	if len(id) > 64 || strings.ContainsAny(id, " \t\r\n\"\\") {
		return &Error{Class: ClassBadKey, Op: "read the App ID", Message: "the App ID or client ID has an impossible shape",
			Fix: "pass app-id (digits) or client-id (e.g. Iv23li...) exactly as the App settings page shows it"}
	}
	return nil
}

// keySigner signs with a private key the process holds.
type keySigner struct{ key *rsa.PrivateKey }

func (k keySigner) Sign(_ context.Context, digest []byte) ([]byte, error) {
	return rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, digest)
}

// appJWT makes the App's JWTs with the injected clock: iat 60 s in the past
// against clock skew, exp 9 minutes later (GitHub allows 10), iss the App or
// client ID. One JWT serves every request until 2 minutes before it expires:
// a KMS signature is a network call, an RSA one a millisecond of CPU.
type appJWT struct {
	iss    string
	signer DigestSigner
	now    func() time.Time

	mu       sync.Mutex
	jwt      string
	iat, exp time.Time
}

// jwtHeader is the JOSE header of every App JWT: {"alg":"RS256","typ":"JWT"}.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))

func (a *appJWT) token(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.jwt != "" && !now.Before(a.iat) && now.Before(a.exp.Add(-2*time.Minute)) {
		return a.jwt, nil
	}
	now = now.Truncate(time.Second)
	iat, exp := now.Add(-60*time.Second), now.Add(8*time.Minute)
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{a.iss, iat.Unix(), exp.Unix()})
	if err != nil {
		return "", err
	}
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := a.signer.Sign(ctx, digest[:])
	if err != nil {
		return "", &Error{Class: ClassBadKey, Op: "sign the App JWT", Message: Redact(err.Error()),
			Fix: "check the App key source: the key file or variable, or the KMS key ID, region and this process's permission to kms:Sign"}
	}
	a.jwt, a.iat, a.exp = signing+"."+base64.RawURLEncoding.EncodeToString(sig), iat, exp
	return a.jwt, nil
}

// appTransport authenticates every request as the App.
type appTransport struct {
	base http.RoundTripper
	jwt  *appJWT
}

func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.jwt.token(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}

// newAppTransport wraps base with App JWT authentication, signed by the
// App's Signer or else its private key.
func newAppTransport(base http.RoundTripper, app AppCredentials, now func() time.Time) (http.RoundTripper, error) {
	if err := checkAppID(app.ID); err != nil {
		return nil, err
	}
	s := app.Signer
	if s == nil {
		key, err := ParsePrivateKey(app.PrivateKey)
		if err != nil {
			return nil, err
		}
		s = keySigner{key: key}
	}
	return &appTransport{base: base, jwt: &appJWT{iss: strings.TrimSpace(app.ID), signer: s, now: now}}, nil
}

// tokenTransport authenticates every request with a token.
type tokenTransport struct {
	base  http.RoundTripper
	token string
}

func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// tokenFuncTransport authenticates every request with the token its source
// gives at that moment: a token that is replaced before it expires.
type tokenFuncTransport struct {
	base  http.RoundTripper
	token func(context.Context) (string, error)
}

func (t *tokenFuncTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.token(req.Context())
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}
