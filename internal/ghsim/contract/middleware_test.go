package contract

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeGitHub answers a few routes, one of them wrongly.
func fakeGitHub(t *testing.T) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/labels/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.PathValue("name") == "broken" {
			_, _ = io.WriteString(w, `{"id":"not a number"}`)
			return
		}
		_, _ = io.WriteString(w, goodLabel)
	})
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/labels", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // the middleware must hand the body on intact
		if !strings.Contains(string(body), `"name":"bug"`) {
			http.Error(w, "body lost", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, goodLabel)
	})
	mux.HandleFunc("GET /api/v3/teleport", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	mux.HandleFunc("GET /_services/token/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"issuer":"x"}`)
	})
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close() // a simulated connection reset
		}
	})
	return mux
}

func TestWrap(t *testing.T) {
	t.Parallel()
	v := newValidator(t, WithPrefix("/api/v3/"), WithOutside("/_services/token/"))
	var mu sync.Mutex
	var reported []string
	srv := httptest.NewServer(v.Wrap(fakeGitHub(t), func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err.Error())
	}))
	t.Cleanup(srv.Close)

	do := func(method, path, body string) int {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	assert.Equal(t, 200, do("GET", "/api/v3/repos/acme/api/labels/bug", ""))
	assert.Equal(t, 201, do("POST", "/api/v3/repos/acme/api/labels", `{"name":"bug","color":"f29513"}`))
	assert.Equal(t, 200, do("GET", "/api/v3/repos/acme/api/labels/broken", ""))
	assert.Equal(t, 200, do("GET", "/api/v3/teleport", ""))
	assert.Equal(t, 200, do("GET", "/_services/token/.well-known/openid-configuration", ""))
	assert.Equal(t, 0, do("POST", "/api/v3/repos/acme/api/issues", `{"title":"x"}`)) // POST: not retried by the client

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, reported, 2, "%q", reported)
	assert.Contains(t, reported[0], `GET /repos/{owner}/{repo}/labels/{name} -> 200: response: response body doesn't match schema #/components/schemas/label: at "/id": value must be an integer`)
	assert.Contains(t, reported[1], `/api/v3/teleport: route not in GitHub's API description`)

	ex := v.Exchanges()
	require.Len(t, ex, 6)
	assert.Equal(t, "GET /repos/{owner}/{repo}/labels/{name}", ex[0].Operation)
	assert.NoError(t, ex[0].Err)
	assert.Equal(t, "POST /repos/{owner}/{repo}/labels", ex[1].Operation)
	assert.Equal(t, 201, ex[1].Status)
	assert.Error(t, ex[2].Err)
	assert.Empty(t, ex[3].Operation)
	assert.Error(t, ex[3].Err)
	assert.Empty(t, ex[4].Operation, "outside the API: recorded, not validated")
	assert.NoError(t, ex[4].Err)
	assert.Equal(t, 0, ex[5].Status, "hijacked: recorded, not validated")

	seen := v.Seen()
	assert.Equal(t, map[int]int{200: 2}, seen["GET /repos/{owner}/{repo}/labels/{name}"])
	assert.Equal(t, map[int]int{201: 1}, seen["POST /repos/{owner}/{repo}/labels"])
}

func TestOperations(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	ops := v.Operations()
	assert.Contains(t, ops, "POST /app/installations/{installation_id}/access_tokens")
	assert.Contains(t, ops, "GET /repos/{owner}/{repo}/contents/{path}", "reported with the description's template")
	assert.Contains(t, ops, "GET /orgs/{org}/credential-authorizations")
	assert.Contains(t, ops, "DELETE /orgs/{org}/dependabot/secrets/{secret_name}/repositories/{repository_id}")
	assert.Len(t, ops, 136)
	assert.Equal(t, []string{
		"DELETE /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}",
		"GET /repositories/{repository_id}/environments/{environment_name}/secrets",
		"GET /repositories/{repository_id}/environments/{environment_name}/secrets/public-key",
		"GET /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}",
		"PUT /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}",
	}, v.Undocumented())

	req := httptest.NewRequest("GET", "/repos/acme/api/contents/a/b/c.cue", nil)
	op, err := v.Route(req)
	require.NoError(t, err)
	assert.Equal(t, "GET /repos/{owner}/{repo}/contents/{path}", op)
}

func TestDescriptionIsSmallAndAttributed(t *testing.T) {
	t.Parallel()
	assert.Less(t, len(Description), 2<<20)
	for _, want := range []string{`"package": "@octokit/openapi"`, `"version": "23.0.2"`, `"license": "MIT"`, "Copyright (c) 2020 Octokit contributors"} {
		assert.Contains(t, string(Description), want)
	}
}
