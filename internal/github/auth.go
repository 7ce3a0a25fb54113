package github

import (
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
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

// jwtSigner signs App JWTs with the injected clock: iat 60 s in the past against
// clock skew, exp 9 minutes later (GitHub allows 10), iss the App or client ID.
// It ignores the claims ghinstallation proposes, which use the wall clock and
// only a numeric App ID.
type jwtSigner struct {
	key *rsa.PrivateKey
	iss string
	now func() time.Time
}

func (s jwtSigner) Sign(jwt.Claims) (string, error) {
	now := s.now().Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Issuer:    s.iss,
		IssuedAt:  jwt.NewNumericDate(now.Add(-60 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(8 * time.Minute)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
}

// appTransport wraps base with App JWT authentication through ghinstallation's
// AppsTransport and our signer.
func appTransport(base http.RoundTripper, app AppCredentials, now func() time.Time) (http.RoundTripper, error) {
	if err := checkAppID(app.ID); err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(app.PrivateKey)
	if err != nil {
		return nil, err
	}
	iss := strings.TrimSpace(app.ID)
	numeric, _ := strconv.ParseInt(iss, 10, 64)
	atr, err := ghinstallation.NewAppsTransportWithOptions(base, numeric, ghinstallation.WithSigner(jwtSigner{key: key, iss: iss, now: now}))
	if err != nil {
		return nil, errors.New("github: build the App transport")
	}
	return atr, nil
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
