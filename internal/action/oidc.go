package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNoOIDC is returned when the job cannot request an OIDC token: the
// runner sets ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN only for jobs with
// permissions id-token: write.
var ErrNoOIDC = errors.New("no OIDC token available: add `permissions: id-token: write` to the job")

// OIDCAvailable reports whether the runner offers the job an OIDC token.
func (a *Action) OIDCAvailable() bool {
	return a.getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "" && a.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN") != ""
}

// oidcAttempts bounds the request: 4 tries, 0.5 s, 1 s, 2 s apart.
const oidcAttempts = 4

// IDToken requests the job's OIDC token for audience, retrying with back-off
// on network errors, 429 and 5xx. The token is masked before IDToken returns,
// before anything else can print it. Without the request variables it
// returns ErrNoOIDC.
func (a *Action) IDToken(ctx context.Context, audience string) (string, error) {
	reqURL, reqToken := a.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), a.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqToken == "" {
		return "", ErrNoOIDC
	}
	a.AddMask(reqToken)
	u, err := url.Parse(reqURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL; the runner sets it, do not override it")
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	wait := 500 * time.Millisecond
	var last error
	for attempt := 1; attempt <= oidcAttempts; attempt++ {
		jwt, retry, err := a.requestIDToken(ctx, u.String(), reqToken)
		if err == nil {
			return jwt, nil
		}
		last = err
		if !retry || attempt == oidcAttempts {
			break
		}
		a.Debugf("oidc token request failed (attempt %d of %d), retrying in %s: %v", attempt, oidcAttempts, wait, err)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("request oidc token: %w", ctx.Err())
		case <-a.after(wait):
		}
		wait *= 2
	}
	return "", fmt.Errorf("request oidc token: %w", last)
}

// requestIDToken makes one attempt. It never puts the response body in an
// error: it may hold the token.
func (a *Action) requestIDToken(ctx context.Context, u, bearer string) (jwt string, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return "", true, errors.New("network error talking to the token service")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", true, errors.New("reading the token service's answer failed")
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", true, fmt.Errorf("token service answered %s", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return "", false, fmt.Errorf("token service answered %s; check that the job has `permissions: id-token: write` and the audience is valid", resp.Status)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", true, errors.New("token service answered without a token")
	}
	a.AddMask(v.Value)
	if strings.Count(v.Value, ".") != 2 {
		return "", false, errors.New("token service answered with something that is not a JWT")
	}
	return v.Value, false, nil
}
