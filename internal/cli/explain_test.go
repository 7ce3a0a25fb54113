package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/secretscan"
)

func TestParseClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    policy.Claims
		wantErr string
	}{
		{name: "github token payload", in: `{"iss":"https://token.actions.githubusercontent.com","aud":"jitkey","repository":"acme/api",
			"repository_owner":"acme","ref":"refs/heads/main","ref_protected":"true","environment":"production","event_name":"push",
			"workflow_ref":"acme/api/.github/workflows/deploy.yml@refs/heads/main","job_workflow_ref":"acme/ci/.github/workflows/deploy.yml@v1",
			"ref_type":"branch","actor":"octocat","runner_environment":"github-hosted","sub":"repo:acme/api:environment:production","run_id":"1"}`,
			want: policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main", RefProtected: true, Environment: "production",
				EventName: "push", WorkflowRef: "acme/api/.github/workflows/deploy.yml@refs/heads/main", JobWorkflowRef: "acme/ci/.github/workflows/deploy.yml@v1",
				RefType: "branch", Actor: "octocat", RunnerEnvironment: "github-hosted", Subject: "repo:acme/api:environment:production"}},
		{name: "boolean ref_protected, verified ignored", in: `{"repository":"acme/api","ref_protected":false,"verified":true}`,
			want: policy.Claims{Repository: "acme/api"}},
		{name: "null claims", in: `{"repository":"acme/api","environment":null,"ref_protected":null}`, want: policy.Claims{Repository: "acme/api"}},
		{name: "IDs, visibility, enterprise, custom properties", in: `{"repository":"acme/api","repository_id":"42","repository_owner_id":7,
			"repository_visibility":"private","enterprise":"acme-corp","enterprise_id":"3","job_workflow_sha":"abc","repo_property_team":"platform",
			"repo_property_langs":["go","js"],"repo_property_tier":2}`,
			want: policy.Claims{Repository: "acme/api", RepositoryID: "42", RepositoryOwnerID: "7", RepositoryVisibility: "private",
				Enterprise: "acme-corp", EnterpriseID: "3", JobWorkflowSHA: "abc", Properties: map[string]string{"team": "platform", "langs": "go,js", "tier": "2"}}},
		{name: "an ID of the wrong type", in: `{"repository":"a/b","repository_id":["42"]}`, wantErr: `claim "repository_id" must be a numeric ID`},
		{name: "a property of the wrong type", in: `{"repository":"a/b","repo_property_x":{"eyJhbGciOi":1}}`, wantErr: `claim "repo_property_x" must be a string`},
		{name: "missing repository", in: `{"ref":"refs/heads/main"}`, wantErr: `claim "repository" is missing`},
		{name: "wrong type", in: `{"repository":["acme/api"]}`, wantErr: `claim "repository" must be a string`},
		{name: "bad ref_protected", in: `{"repository":"a/b","ref_protected":"yes"}`, wantErr: `must be true or false`},
		{name: "not an object", in: `["a"]`, wantErr: "wrong type"},
		{name: "null", in: `null`, wantErr: "want a JSON object"},
		{name: "a raw JWT", in: `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2ln`, wantErr: "not valid JSON"},
		{name: "trailing", in: `{"repository":"a/b"} {}`, wantErr: "trailing data"},
		{name: "empty", in: ``, wantErr: "empty or truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseClaims([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.NotContains(t, err.Error(), "eyJ", "an error must never repeat the input")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    policy.Request
		wantErr string
	}{
		{name: "scope", in: `{"repositories":["acme/api","infra"],"permissions":{"contents":"read"}}`,
			want: policy.Request{Repositories: []string{"acme/api", "infra"}, Permissions: map[string]string{"contents": "read"}}},
		{name: "empty object", in: `{}`},
		{name: "typo", in: `{"permission":{"contents":"read"}}`, wantErr: `unknown field "permission"`},
		{name: "bad level", in: `{"permissions":{"contents":"all"}}`, wantErr: `level "all" is not read, write or admin`},
		{name: "bad repository", in: `{"repositories":["a/b/c"]}`, wantErr: `repository "a/b/c"`},
		{name: "wrong type", in: `{"repositories":"acme/api"}`, wantErr: `field "repositories" has the wrong type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequest([]byte(tt.in))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"repository":"acme/api","ref_protected":"true","ref":"refs/heads/main"}`))
	f.Add([]byte(`{"repository":1}`))
	f.Add([]byte(`eyJhbGciOiJSUzI1NiJ9.e30.c2ln`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClaims(data)
		if err != nil {
			assert.Empty(t, c)
			if len(data) >= 8 {
				assert.NotContains(t, err.Error(), string(data), "an error must never repeat the input")
			}
			return
		}
		assert.NotEmpty(t, c.Repository)
		assert.False(t, c.Verified)
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"repositories":["acme/api"],"permissions":{"contents":"write"}}`))
	f.Add([]byte(`{"permissions":{"x":"admin"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest(data)
		if err != nil {
			return
		}
		for _, level := range r.Permissions {
			assert.Contains(t, []string{"read", "write", "admin"}, level)
		}
		for _, name := range r.Repositories {
			assert.NotEmpty(t, strings.TrimSpace(name))
		}
	})
}

// TestExplainNeverEchoesSecrets: a token pasted where claims belong, or a
// claims document carrying one, never reaches the output or an error.
func TestExplainNeverEchoesSecrets(t *testing.T) {
	t.Parallel()
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJyZXBvc2l0b3J5IjoiYWNtZS9hcGkifQ.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	ghs := "ghs_" + strings.Repeat("A1b2C3d4", 5)
	for name, in := range map[string]string{
		"raw token":            jwt,
		"token in a claim set": `{"repository":"acme/api","ref":"refs/heads/main","token":"` + ghs + `","id_token":"` + jwt + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			env := Env{Stdin: strings.NewReader(in), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
				Now: time.Now, Dir: t.TempDir()}
			runExplain(context.Background(), env, []string{"--claims", "-", "--policy", "nowhere"})
			out := stdout.String() + stderr.String()
			assert.NotEmpty(t, out)
			assert.Empty(t, secretscan.Scan(out, jwt, ghs), out)
		})
	}
}
