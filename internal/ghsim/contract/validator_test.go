package contract

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newValidator loads the description once per test; loading takes ~100 ms.
func newValidator(t *testing.T, opts ...Option) *Validator {
	t.Helper()
	v, err := New(opts...)
	require.NoError(t, err)
	return v
}

var jsonHeader = http.Header{"Content-Type": {"application/json; charset=utf-8"}}

const goodKey = `[{"id":1,"key":"ssh-ed25519 AAAA","url":"https://api.github.com/repos/acme/api/keys/1","title":"deploy","verified":true,"created_at":"2024-01-02T03:04:05Z","read_only":true,"added_by":"octocat","last_used":null,"enabled":true}]`

const goodLabel = `{"id":208045946,"node_id":"MDU6TGFiZWwyMDgwNDU5NDY=","url":"https://api.github.com/repos/acme/api/labels/bug","name":"bug","description":null,"color":"f29513","default":true}`

const goodToken = `{"token":"ghs_x","expires_at":"2024-01-02T04:04:05Z","permissions":{"contents":"read"},"repository_selection":"selected"}`

func TestValidate(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	tests := []struct {
		name       string
		method     string
		url        string
		reqHeader  http.Header
		reqBody    string
		status     int
		respHeader http.Header
		respBody   string
		wantErr    string // "" for valid
	}{
		{name: "deploy keys", method: "GET", url: "/repos/acme/api/keys?per_page=100", status: 200, respHeader: jsonHeader, respBody: goodKey},
		{name: "deploy keys missing required field", method: "GET", url: "/repos/acme/api/keys", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodKey, `"read_only":true,`, "", 1), wantErr: `read_only`},
		{name: "deploy keys wrong type", method: "GET", url: "/repos/acme/api/keys", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodKey, `"id":1`, `"id":"1"`, 1), wantErr: `/0/id`},
		{name: "deploy keys bad date-time", method: "GET", url: "/repos/acme/api/keys", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodKey, `"last_used":null`, `"last_used":"yesterday"`, 1), wantErr: `date-time`},
		{name: "label", method: "GET", url: "/repos/acme/api/labels/good%20first%20issue", status: 200, respHeader: jsonHeader, respBody: goodLabel},
		{name: "label relative uri", method: "GET", url: "/repos/acme/api/labels/bug", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodLabel, `https://api.github.com`, ``, 1), wantErr: `absolute URI`},
		{name: "label description missing", method: "GET", url: "/repos/acme/api/labels/bug", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodLabel, `"description":null,`, ``, 1), wantErr: `description`},
		{name: "label color null", method: "GET", url: "/repos/acme/api/labels/bug", status: 200, respHeader: jsonHeader,
			respBody: strings.Replace(goodLabel, `"f29513"`, `null`, 1), wantErr: `color`},
		{name: "deploy keys object not array", method: "GET", url: "/repos/acme/api/keys", status: 200, respHeader: jsonHeader,
			respBody: goodKey[1 : len(goodKey)-1], wantErr: `array`},
		{name: "per_page not a number", method: "GET", url: "/repos/acme/api/keys?per_page=many", status: 200, respHeader: jsonHeader,
			respBody: goodKey, wantErr: `per_page`},
		{name: "undescribed route", method: "GET", url: "/repos/acme/api/teleport", status: 200, respHeader: jsonHeader,
			respBody: `{}`, wantErr: `route not in GitHub's API description`},
		{name: "undescribed method", method: "PATCH", url: "/repos/acme/api/keys", status: 200, respHeader: jsonHeader,
			respBody: `{}`, wantErr: `route not in GitHub's API description`},
		{name: "undescribed success status", method: "GET", url: "/repos/acme/api/keys", status: 201, respHeader: jsonHeader,
			respBody: goodKey, wantErr: `status is not supported`},
		{name: "generic 404", method: "GET", url: "/repos/acme/api/keys", status: 404, respHeader: jsonHeader,
			respBody: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`},
		{name: "generic 404 without message", method: "GET", url: "/repos/acme/api/keys", status: 404, respHeader: jsonHeader,
			respBody: `{"documentation_url":"https://docs.github.com/rest"}`, wantErr: `message`},
		{name: "generic 403 with numeric status", method: "GET", url: "/repos/acme/api/keys", status: 403, respHeader: jsonHeader,
			respBody: `{"message":"Forbidden","status":403}`, wantErr: `basic-error`},
		{name: "generic 500 not JSON", method: "GET", url: "/repos/acme/api/keys", status: 500, respHeader: http.Header{"Content-Type": {"text/plain"}},
			respBody: `oops`, wantErr: `Content-Type`},
		{name: "conditional 304", method: "GET", url: "/repos/acme/api/keys", reqHeader: http.Header{"If-None-Match": {`W/"x"`}}, status: 304},
		{name: "unconditional 304", method: "GET", url: "/repos/acme/api/keys", status: 304, wantErr: `without If-None-Match`},
		{name: "304 with body", method: "GET", url: "/repos/acme/api/keys", reqHeader: http.Header{"If-None-Match": {`W/"x"`}}, status: 304, respBody: goodKey, wantErr: `body`},
		{name: "access token", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: `{"repositories":["api"],"permissions":{"contents":"read"}}`, status: 201, respHeader: jsonHeader, respBody: goodToken},
		{name: "access token unknown permission level", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: `{"permissions":{"contents":"everything"}}`, status: 201, respHeader: jsonHeader, respBody: goodToken, wantErr: `request`},
		{name: "access token null options", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: "null\n", status: 201, respHeader: jsonHeader, respBody: goodToken},
		{name: "create issue null body", method: "POST", url: "/repos/acme/api/issues", reqHeader: jsonHeader,
			reqBody: "null", status: 201, respHeader: jsonHeader, respBody: `{}`, wantErr: `request`},
		{name: "issue labels as a bare array", method: "POST", url: "/repos/acme/api/issues/1/labels", reqHeader: jsonHeader,
			reqBody: `["bug","good first issue"]`, status: 200, respHeader: jsonHeader, respBody: "[" + goodLabel + "]"},
		{name: "issue labels as an object", method: "POST", url: "/repos/acme/api/issues/1/labels", reqHeader: jsonHeader,
			reqBody: `{"labels":["bug"]}`, status: 200, respHeader: jsonHeader, respBody: "[" + goodLabel + "]"},
		{name: "issue labels as a bare array of numbers", method: "POST", url: "/repos/acme/api/issues/1/labels", reqHeader: jsonHeader,
			reqBody: `[1,2]`, status: 200, respHeader: jsonHeader, respBody: "[" + goodLabel + "]", wantErr: `request`},
		{name: "bare array elsewhere", method: "POST", url: "/repos/acme/api/issues/1/assignees", reqHeader: jsonHeader,
			reqBody: `["octocat"]`, status: 201, respHeader: jsonHeader, respBody: `{}`, wantErr: `request`},
		{name: "access token repositories not a list", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: `{"repositories":"api"}`, status: 201, respHeader: jsonHeader, respBody: goodToken, wantErr: `request`},
		{name: "access token 422", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: `{"permissions":{"contents":"write"}}`, status: 422, respHeader: jsonHeader,
			respBody: `{"message":"The permissions requested are not granted to this installation.","documentation_url":"https://docs.github.com/rest"}`},
		{name: "access token response without token", method: "POST", url: "/app/installations/7/access_tokens", reqHeader: jsonHeader,
			reqBody: `{}`, status: 201, respHeader: jsonHeader, respBody: `{"expires_at":"2024-01-02T04:04:05Z"}`, wantErr: `token`},
		{name: "label update 422", method: "PATCH", url: "/repos/acme/api/labels/bug", reqHeader: jsonHeader, reqBody: `{"color":"invalid"}`,
			status: 422, respHeader: jsonHeader,
			respBody: `{"message":"Validation Failed","errors":[{"resource":"Label","field":"color","code":"invalid"}],"documentation_url":"https://docs.github.com/rest/issues/labels#update-a-label","status":"422"}`},
		{name: "label update 422 not a validation-error", method: "PATCH", url: "/repos/acme/api/labels/bug", reqHeader: jsonHeader, reqBody: `{"color":"invalid"}`,
			status: 422, respHeader: jsonHeader, respBody: `{"message":"Validation Failed","errors":[{"field":"color"}]}`, wantErr: `validation-error`},
		{name: "undescribed 422 elsewhere", method: "DELETE", url: "/repos/acme/api/labels/bug", status: 422, respHeader: jsonHeader,
			respBody: `{"message":"Validation Failed","documentation_url":"https://docs.github.com/rest"}`, wantErr: `status is not supported`},
		{name: "body on GET", method: "GET", url: "/rate_limit", reqHeader: jsonHeader, reqBody: `{}`, status: 200, respHeader: jsonHeader,
			respBody: `{}`, wantErr: `request`},
		{name: "revoke", method: "DELETE", url: "/installation/token", status: 204},
		{name: "revoke with body", method: "DELETE", url: "/installation/token", status: 204, respHeader: jsonHeader, respBody: `{}`, wantErr: `without a body`},
		{name: "contents path with slashes", method: "GET", url: "/repos/acme/api/contents/.github/jitkey/policy.cue?ref=main", status: 404,
			respHeader: jsonHeader, respBody: `{"message":"Not Found"}`},
		{name: "contents of the repository root", method: "GET", url: "/repos/acme/api/contents/", status: 200,
			respHeader: jsonHeader, respBody: `[]`},
		{name: "contents listing is not an object", method: "GET", url: "/repos/acme/api/contents/", status: 200,
			respHeader: jsonHeader, respBody: `[1]`, wantErr: `response`},
		{name: "credential authorizations from ghec", method: "GET", url: "/orgs/acme/credential-authorizations", status: 200,
			respHeader: jsonHeader, respBody: `[{"login":"octocat","credential_id":1,"credential_type":"personal access token","credential_authorized_at":"2024-01-02T03:04:05Z","credential_accessed_at":null,"authorized_credential_id":null}]`},
		{name: "credential authorizations missing field", method: "GET", url: "/orgs/acme/credential-authorizations", status: 200,
			respHeader: jsonHeader, respBody: `[{"login":"octocat","credential_id":1,"credential_type":"personal access token","credential_authorized_at":"2024-01-02T03:04:05Z","credential_accessed_at":null}]`,
			wantErr: `authorized_credential_id`},
		{name: "GHES path without prefix handling", method: "GET", url: "/api/v3/rate_limit", status: 200, respHeader: jsonHeader,
			respBody: `{}`, wantErr: `route not in GitHub's API description`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.url, strings.NewReader(tt.reqBody))
			for k, vs := range tt.reqHeader {
				req.Header[k] = vs
			}
			err := v.Validate(req, []byte(tt.reqBody), tt.status, tt.respHeader, []byte(tt.respBody))
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestInstallationAccountQuirk(t *testing.T) {
	t.Parallel()
	v := newValidator(t)
	user := `{"login":"octocat","id":1,"node_id":"U_1","avatar_url":"https://github.com/a.png","gravatar_id":"","url":"https://api.github.com/users/octocat","html_url":"https://github.com/octocat","followers_url":"https://api.github.com/users/octocat/followers","following_url":"https://api.github.com/users/octocat/following{/other_user}","gists_url":"https://api.github.com/users/octocat/gists{/gist_id}","starred_url":"https://api.github.com/users/octocat/starred{/owner}{/repo}","subscriptions_url":"https://api.github.com/users/octocat/subscriptions","organizations_url":"https://api.github.com/users/octocat/orgs","repos_url":"https://api.github.com/users/octocat/repos","events_url":"https://api.github.com/users/octocat/events{/privacy}","received_events_url":"https://api.github.com/users/octocat/received_events","type":"User","site_admin":false}`
	inst := `[{"id":1,"account":` + user + `,"access_tokens_url":"https://api.github.com/app/installations/1/access_tokens","repositories_url":"https://api.github.com/installation/repositories","html_url":"https://github.com/settings/installations/1","app_id":2,"target_id":1,"target_type":"User","permissions":{},"events":[],"created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z","single_file_name":null,"app_slug":"jitkey","suspended_by":null,"suspended_at":null,"repository_selection":"all"}]`
	req := httptest.NewRequest("GET", "/app/installations", nil)
	assert.NoError(t, v.Validate(req, nil, 200, jsonHeader, []byte(inst)), "a user account")
	bad := strings.Replace(inst, `"login":"octocat",`, ``, 1)
	assert.ErrorContains(t, v.Validate(req, nil, 200, jsonHeader, []byte(bad)), "anyOf", "neither a user nor an enterprise")
}

func BenchmarkValidate(b *testing.B) {
	v, err := New()
	require.NoError(b, err)
	req := httptest.NewRequest("GET", "/repos/acme/api/keys?per_page=100", nil)
	body := []byte(goodKey)
	for b.Loop() {
		if err := v.Validate(req, nil, 200, jsonHeader, body); err != nil {
			b.Fatal(err)
		}
	}
}
