package mintstep

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/runstep"
)

// TestIssuerKeysFetchedWhileTheTokenIsRequested: the step asks the issuer
// for its keys while it requests the job's token, not after: the token
// service here answers only once the issuer's discovery document was asked
// for (or after 10 s, and the test fails). The token is then verified with
// those keys, fetched once.
func TestIssuerKeysFetchedWhileTheTokenIsRequested(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	discovered := make(chan struct{})
	var discovery, jwks atomic.Int32
	var sequential atomic.Bool
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_services/token/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		if discovery.Add(1) == 1 {
			close(discovered)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL + "/_services/token", "jwks_uri": srv.URL + "/_services/token/.well-known/jwks"})
	})
	mux.HandleFunc("GET /_services/token/.well-known/jwks", func(w http.ResponseWriter, _ *http.Request) {
		jwks.Add(1)
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /idtoken", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-discovered:
		case <-time.After(10 * time.Second):
			sequential.Store(true)
		}
		now := time.Now()
		claims := map[string]any{"iss": srv.URL + "/_services/token", "aud": r.URL.Query().Get("audience"), "jti": "j1",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "sub": "repo:acme/api:ref:refs/heads/main",
			"repository": "acme/api", "repository_owner": "acme", "ref": "refs/heads/main", "event_name": "push"}
		payload, err := json.Marshal(claims)
		if !assert.NoError(t, err) {
			return
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k"))
		if !assert.NoError(t, err) {
			return
		}
		jws, err := signer.Sign(payload)
		if !assert.NoError(t, err) {
			return
		}
		raw, err := jws.CompactSerialize()
		if !assert.NoError(t, err) {
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": raw})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	vars := map[string]string{"GITHUB_SERVER_URL": srv.URL, "ACTIONS_ID_TOKEN_REQUEST_URL": srv.URL + "/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token", "GITHUB_REPOSITORY": "acme/api"}
	var out bytes.Buffer
	st := newStep(runstep.Env{Stdout: &out, Stderr: &out, Now: time.Now, Dir: t.TempDir(),
		Getenv: func(k string) string { return vars[k] }}, func(k string) string { return vars[k] })
	claims, issuer, err := st.whoAsks(context.Background(), action.Inputs{Audience: "jitkey"})
	require.NoError(t, err)
	assert.False(t, sequential.Load(), "the issuer's keys were asked for only after the job's token came back")
	assert.True(t, claims.Verified)
	assert.Equal(t, "acme/api", claims.Repository)
	assert.Equal(t, srv.URL+"/_services/token", issuer)
	assert.Equal(t, int32(1), discovery.Load())
	assert.Equal(t, int32(1), jwks.Load())
}
