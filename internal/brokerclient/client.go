// Package brokerclient is the job's side of `jitkey serve`: the wire types
// of the broker's API and a client that exchanges the job's OIDC token for
// an installation token and revokes it. It links no policy engine, so the
// action's small jitkey-post binary runs it.
package brokerclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/github"
)

// TokenRequest is the body of POST /v1/token. Both fields are optional:
// empty means what the matching rule grants.
type TokenRequest struct {
	Repositories []string          `json:"repositories,omitempty"`
	Permissions  map[string]string `json:"permissions,omitempty"`
}

// TokenAnswer is a successful exchange: the step's outputs.
type TokenAnswer struct {
	Token          string            `json:"token"`
	ExpiresAt      time.Time         `json:"expires_at"`
	InstallationID int64             `json:"installation_id"`
	AppSlug        string            `json:"app_slug"`
	Repositories   []string          `json:"repositories"`
	Permissions    map[string]string `json:"permissions"`
	Rule           string            `json:"rule"`
	TokenSHA256    string            `json:"token_sha256"`
	PolicySHA      string            `json:"policy_sha,omitempty"`
}

// RevokeRequest is the body of POST /v1/revoke when the bearer is the job's
// OIDC token: which of the job's tokens to revoke.
type RevokeRequest struct {
	TokenSHA256 string `json:"token_sha256"`
}

// RevokeAnswer says what became of a token.
type RevokeAnswer struct {
	Outcome     string `json:"outcome"` // revoked, already_revoked
	TokenSHA256 string `json:"token_sha256"`
	// Recorded is false when the broker's ledger did not know the token (it
	// was revoked at GitHub all the same).
	Recorded bool `json:"recorded"`
}

// Problem is every error answer: a class a program can branch on, a
// message, and the fix a person can apply. It never holds a secret.
type Problem struct {
	Status  int     `json:"-"`
	Class   string  `json:"class"`
	Message string  `json:"message"`
	Fix     string  `json:"fix,omitempty"`
	Denial  *Denial `json:"denial,omitempty"` // set when a policy denied the request
}

// Denial explains a policy denial: the reason, the closest rules and the
// conditions each failed.
type Denial struct {
	Reason     string     `json:"reason"`
	NearMisses []NearMiss `json:"near_misses,omitempty"`
}

// NearMiss is a rule that almost matched.
type NearMiss struct {
	Rule   string   `json:"rule"`
	Failed []string `json:"failed"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("broker answered %d %s: %s", p.Status, p.Class, p.Message)
	if p.Fix != "" {
		s += "; " + p.Fix
	}
	return s
}

// Retryable reports whether asking again (with a fresh OIDC token) may
// succeed: the broker was busy, shutting down or briefly without its ledger.
func (p *Problem) Retryable() bool {
	return p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable || p.Status == http.StatusBadGateway && p.Class != "scope_mismatch"
}

// UnreachableError is a broker that could not be reached or answered
// something that is not its API (a proxy's error page, a 5xx without body).
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return "the broker could not be reached: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// Client talks to one broker.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// New returns a client for the broker at baseURL; hc nil means a client with
// a 30 s timeout.
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("broker URL %q is not an http(s) URL such as https://jitkey.example.com", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, hc: hc}, nil
}

// Audience is the audience a job requests its OIDC token for: the broker's
// URL without a trailing slash.
func (c *Client) Audience() string { return strings.TrimSuffix(c.base.String(), "/") }

// Exchange trades the job's OIDC token for an installation token.
func (c *Client) Exchange(ctx context.Context, oidcToken string, req TokenRequest) (*TokenAnswer, error) {
	var ans TokenAnswer
	if err := c.post(ctx, "v1/token", oidcToken, req, &ans); err != nil {
		return nil, err
	}
	if ans.Token == "" || ans.ExpiresAt.IsZero() {
		return nil, &UnreachableError{Err: errors.New("the answer has no token or expiry")}
	}
	return &ans, nil
}

// Revoke revokes a token, authenticated with the token itself.
func (c *Client) Revoke(ctx context.Context, tok github.Secret) (*RevokeAnswer, error) {
	var ans RevokeAnswer
	if err := c.post(ctx, "v1/revoke", tok.Reveal(), nil, &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

func (c *Client) post(ctx context.Context, path, bearer string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := c.base.ResolveReference(&url.URL{Path: path})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return &UnreachableError{Err: scrub(err, bearer)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &UnreachableError{Err: scrub(err, bearer)}
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			return &UnreachableError{Err: fmt.Errorf("POST %s answered 200 with a body that is not the broker's: %w", u.Path, err)}
		}
		return nil
	}
	var wrapped struct {
		Error *Problem `json:"error"`
	}
	if json.Unmarshal(data, &wrapped) != nil || wrapped.Error == nil || wrapped.Error.Class == "" {
		return &UnreachableError{Err: fmt.Errorf("POST %s answered %s without the broker's error body", u.Path, resp.Status)}
	}
	wrapped.Error.Status = resp.StatusCode
	return wrapped.Error
}

// scrub keeps the bearer out of a transport error (url.Error quotes URLs,
// never headers; this is belt and braces).
func scrub(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "***"))
}
