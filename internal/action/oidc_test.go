package action

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
)

const fakeJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

func noWait(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func oidcStep(t *testing.T, h http.HandlerFunc) (*step, *Action) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := newStep(t)
	s.env["ACTIONS_ID_TOKEN_REQUEST_URL"] = srv.URL + "/idtoken?api-version=2.0"
	s.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "reqtoken-secret"
	return s, New(Options{Getenv: s.getenv, Stdout: s.out, Open: AppendFile, HTTPClient: srv.Client(), Sleep: noWait})
}

func TestIDTokenRetriesAndMasks(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s, a := oidcStep(t, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		assert.Equal(t, "Bearer reqtoken-secret", r.Header.Get("Authorization"))
		assert.Equal(t, "2.0", r.URL.Query().Get("api-version"))
		assert.Equal(t, "jitkey", r.URL.Query().Get("audience"))
		if n < 3 {
			http.Error(w, `{"value":"`+fakeJWT+`"}`, http.StatusBadGateway) // a body with a token must not leak into errors
			return
		}
		_, _ = w.Write([]byte(`{"count":1,"value":"` + fakeJWT + `"}`))
	})
	a.Debugf("start")
	jwt, err := a.IDToken(context.Background(), "jitkey")
	require.NoError(t, err)
	assert.Equal(t, fakeJWT, jwt)
	assert.Equal(t, int32(3), calls.Load())
	out := s.out.String()
	assertMaskedFirst(t, out, fakeJWT)
	assertMaskedFirst(t, out, "reqtoken-secret")
	assert.Contains(t, out, "attempt 2 of 4")
}

func TestIDTokenFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		wantCalls int32
		want      string
	}{
		{"forbidden is final", http.StatusForbidden, `{"value":"` + fakeJWT + `"}`, 1, "403 Forbidden"},
		{"5xx exhausts retries", http.StatusServiceUnavailable, "", 4, "503"},
		{"no value", http.StatusOK, `{"count":0}`, 4, "without a token"},
		{"not a jwt", http.StatusOK, `{"value":"plain-secret"}`, 1, "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			s, a := oidcStep(t, func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := a.IDToken(context.Background(), "aud")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), fakeJWT)
			assert.NotContains(t, err.Error(), "plain-secret")
			assert.NotContains(t, err.Error(), "reqtoken-secret")
			assert.Equal(t, tt.wantCalls, calls.Load())
			if strings.Contains(tt.body, "plain-secret") {
				assertMaskedFirst(t, s.out.String(), "plain-secret")
			}
		})
	}
}

func TestIDTokenMissingPermission(t *testing.T) {
	t.Parallel()
	s := newStep(t)
	a := s.action()
	assert.False(t, a.OIDCAvailable())
	_, err := a.IDToken(context.Background(), "jitkey")
	require.ErrorIs(t, err, ErrNoOIDC)
	assert.Contains(t, err.Error(), "add `permissions: id-token: write` to the job")
}

func TestIDTokenHonoursContext(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	s := newStep(t)
	s.env["ACTIONS_ID_TOKEN_REQUEST_URL"] = srv.URL + "/x?a=1"
	s.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "t0k3n"
	ctx, cancel := context.WithCancel(context.Background())
	a := New(Options{Getenv: s.getenv, Stdout: s.out, HTTPClient: srv.Client(), Sleep: func(time.Duration) <-chan time.Time {
		cancel()
		return make(chan time.Time)
	}})
	_, err := a.IDToken(ctx, "x")
	require.ErrorIs(t, err, context.Canceled)
}

func TestIDTokenFromSimulator(t *testing.T) {
	t.Parallel()
	sim := ghsim.New(ghsim.Options{})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddOrg("acme")
	sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "api", DefaultBranch: "main"})
	reqURL, reqToken := sim.OIDCRequest(sim.JobClaims("acme/api"))
	s := newStep(t)
	s.env["ACTIONS_ID_TOKEN_REQUEST_URL"], s.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = reqURL, reqToken
	a := s.action()
	jwt, err := a.IDToken(context.Background(), "jitkey")
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(jwt, "."))
	assertMaskedFirst(t, s.out.String(), jwt)
}
