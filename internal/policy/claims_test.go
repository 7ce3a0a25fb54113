package policy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/schemas"
)

func TestClaimsUnmarshalRealToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    policy.Claims
		wantErr string
	}{
		{name: "IDs as GitHub sends them", json: `{"repository_id":"42","repository_owner_id":"7","enterprise_id":"3","enterprise":"acme-corp","repository_visibility":"internal","job_workflow_sha":"abc"}`,
			want: policy.Claims{RepositoryID: "42", RepositoryOwnerID: "7", EnterpriseID: "3", Enterprise: "acme-corp", RepositoryVisibility: "internal", JobWorkflowSHA: "abc"}},
		{name: "IDs as numbers", json: `{"repository_id":42,"repository_owner_id":7}`, want: policy.Claims{RepositoryID: "42", RepositoryOwnerID: "7"}},
		{name: "custom properties", json: `{"repo_property_team":"platform","repo_property_tier":1,"repo_property_pci":true,"repo_property_langs":["go","js"],"repo_property_none":null}`,
			want: policy.Claims{Properties: map[string]string{"team": "platform", "tier": "1", "pci": "true", "langs": "go,js"}}},
		{name: "a bare prefix is no property", json: `{"repo_property_":"x"}`, want: policy.Claims{}},
		{name: "ID of the wrong type", json: `{"repository_id":{"a":1}}`, wantErr: "repository_id: not a string or a number"},
		{name: "property of the wrong type", json: `{"repo_property_team":{"a":1}}`, wantErr: "repo_property_team: want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c policy.Claims
			err := json.Unmarshal([]byte(tt.json), &c)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}

func TestClaimsMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	in := policy.Claims{Repository: "acme/api", RepositoryID: "42", Properties: map[string]string{"team": "platform"}, Verified: true}
	data, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"repo_property_team":"platform"`)
	var out policy.Claims
	require.NoError(t, json.Unmarshal(data, &out))
	assert.Equal(t, in, out)
}

const idPolicy = `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "by-id"
	match: {repository_id: "42", repository_owner_id: ["7", "8"], repository_visibility: ["private", "internal"]}
	grant: {repositories: ["caller"], permissions: {contents: "read"}}
}, {
	name: "by-property"
	match: {repo_property_team: "platform", enterprise_id: "3", job_workflow_sha: {pattern: "^[0-9a-f]{40}$"}}
	grant: {repositories: ["caller"], permissions: {issues: "read"}}
}, {
	name: "by-subject-id-form"
	match: sub: "repo:acme@7/web@43:environment:prod"
	grant: {repositories: ["caller"], permissions: {statuses: "read"}}
}, {
	name: "by-subject-name-form"
	match: sub: {pattern: "^repo:acme/docs:ref:refs/heads/main$"}
	grant: {repositories: ["caller"], permissions: {pages: "read"}}
}]
`

func TestDecideNewClaims(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "ids.cue", idPolicy)
	sha := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		claims policy.Claims
		rule   string // "" for a denial
	}{
		{"repository ID and owner ID", policy.Claims{Repository: "acme/api", RepositoryID: "42", RepositoryOwnerID: "8", RepositoryVisibility: "private"}, "by-id"},
		{"a renamed repository keeps matching by ID", policy.Claims{Repository: "acme/api-v2", RepositoryID: "42", RepositoryOwnerID: "7", RepositoryVisibility: "internal"}, "by-id"},
		{"a new repository under the old name does not", policy.Claims{Repository: "acme/api", RepositoryID: "99", RepositoryOwnerID: "7", RepositoryVisibility: "private"}, ""},
		{"public is not listed", policy.Claims{Repository: "acme/api", RepositoryID: "42", RepositoryOwnerID: "7", RepositoryVisibility: "public"}, ""},
		{"custom property", policy.Claims{Repository: "acme/x", EnterpriseID: "3", JobWorkflowSHA: sha, Properties: map[string]string{"team": "platform"}}, "by-property"},
		{"custom property of another value", policy.Claims{Repository: "acme/x", EnterpriseID: "3", JobWorkflowSHA: sha, Properties: map[string]string{"team": "web"}}, ""},
		{"custom property missing", policy.Claims{Repository: "acme/x", EnterpriseID: "3", JobWorkflowSHA: sha}, ""},
		{"ID-form rule, ID-form token", policy.Claims{Repository: "acme/web", Subject: "repo:acme@7/web@43:environment:prod"}, "by-subject-id-form"},
		{"ID-form rule, name-form token with matching IDs", policy.Claims{Repository: "acme/web", RepositoryOwnerID: "7", RepositoryID: "43", Subject: "repo:acme/web:environment:prod"}, "by-subject-id-form"},
		{"ID-form rule, name-form token of a recycled name", policy.Claims{Repository: "acme/web", RepositoryOwnerID: "7", RepositoryID: "44", Subject: "repo:acme/web:environment:prod"}, ""},
		{"ID-form rule, name-form token without IDs", policy.Claims{Repository: "acme/web", Subject: "repo:acme/web:environment:prod"}, ""},
		{"name-form rule, ID-form token", policy.Claims{Repository: "acme/docs", Subject: "repo:acme@7/docs@45:ref:refs/heads/main"}, "by-subject-name-form"},
		{"name-form rule, name-form token", policy.Claims{Repository: "acme/docs", Subject: "repo:acme/docs:ref:refs/heads/main"}, "by-subject-name-form"},
		{"forged IDs in a subject are not digits", policy.Claims{Repository: "acme/web", Subject: "repo:acme@7/web@43x:environment:prod"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := policy.Decide(s, tt.claims, policy.Request{})
			assert.Equal(t, tt.rule != "", d.Allowed, d.Reason)
			if tt.rule != "" {
				assert.Equal(t, tt.rule, d.Rule)
			}
		})
	}
}

func TestSchemaNewClaims(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, match, wantErr string }{
		{"an ID is a quoted decimal", `repository_id: 42`, "repository_id"},
		{"an ID has no leading zero", `repository_id: "042"`, "repository_id"},
		{"visibility is public, private or internal", `repository_visibility: "secret"`, "repository_visibility"},
		{"property name", `repo_property_: "x"`, "repo_property_"},
		{"a property is matched like any claim", `repo_property_team: ["a", "b"]`, ""},
		{"an unknown claim is refused", `repository_name: "x"`, "repository_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := policy.LoadBytes("p.cue", []byte(head+rule("a", tt.match, okGrant)+"}]\n"))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestTestCaseClaims(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "p_test.cue", `apiVersion: "jitkey.dev/v1"
tests: [{
	name: "t"
	claims: {repository: "acme/api", repository_id: "42", repo_property_team: "platform", repo_property_langs: ["go", "js"], ref_protected: true}
	expect: allow: false
}]
`)
	require.Len(t, s.Tests, 1)
	assert.Equal(t, policy.Claims{Repository: "acme/api", RepositoryID: "42", RefProtected: true, Verified: true,
		Properties: map[string]string{"team": "platform", "langs": "go,js"}}, s.Tests[0].Claims)
}

func TestClaimsComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     policy.Claims
		want   policy.Claims
		filled []string
	}{
		{"push on a branch", policy.Claims{Repository: "acme/api", Ref: "refs/heads/main", WorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main"},
			policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/heads/main", RefType: "branch",
				WorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main", JobWorkflowRef: "acme/api/.github/workflows/ci.yml@refs/heads/main",
				Subject: "repo:acme/api:ref:refs/heads/main"},
			[]string{"job_workflow_ref", "ref_type", "repository_owner", "sub"}},
		{"environment", policy.Claims{Repository: "acme/api", Ref: "refs/tags/v1", Environment: "prod"},
			policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/tags/v1", RefType: "tag", Environment: "prod", Subject: "repo:acme/api:environment:prod"},
			[]string{"ref_type", "repository_owner", "sub"}},
		{"pull request", policy.Claims{Repository: "acme/api", Ref: "refs/pull/1/merge", EventName: "pull_request_target"},
			policy.Claims{Repository: "acme/api", RepositoryOwner: "acme", Ref: "refs/pull/1/merge", EventName: "pull_request_target", Subject: "repo:acme/api:pull_request"},
			[]string{"repository_owner", "sub"}},
		{"what is set is kept", policy.Claims{Repository: "acme/api", RepositoryOwner: "other", Ref: "refs/heads/x", RefType: "tag", Subject: "s"},
			policy.Claims{Repository: "acme/api", RepositoryOwner: "other", Ref: "refs/heads/x", RefType: "tag", Subject: "s"}, nil},
		{"nothing to derive from", policy.Claims{Actor: "bob"}, policy.Claims{Actor: "bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.in
			filled := c.Complete()
			assert.Equal(t, tt.want, c)
			assert.Equal(t, tt.filled, filled)
		})
	}
}

// TestClaimNamesAreTheSchemas checks that ClaimNames, which names the
// closest claim for a misspelt match field, is exactly what #Match
// accepts: the schema lists the claims in pattern constraints, which CUE
// cannot enumerate.
func TestClaimNamesAreTheSchemas(t *testing.T) {
	t.Parallel()
	value := map[string]string{
		"ref_protected": "true", "ref_type": `"branch"`, "runner_environment": `"github-hosted"`,
		"repository_visibility": `"private"`, "repository_id": `"42"`, "repository_owner_id": `"7"`, "enterprise_id": `"3"`,
	}
	load := func(claim string) error {
		v, ok := value[claim]
		if !ok {
			v = `"x"`
		}
		src := fmt.Sprintf("apiVersion: \"jitkey.dev/v1\"\nrules: [{name: \"r\", match: {%s: %s}, grant: {repositories: [\"caller\"], permissions: {contents: \"read\"}}}]\n", claim, v)
		_, err := policy.LoadBytes("p.cue", []byte(src))
		return err
	}
	for _, claim := range append(policy.ClaimNames(), "repo_property_team") {
		assert.NoError(t, load(claim), "the schema refuses claim %s", claim)
	}
	// Every claim the schema's #Match names is in ClaimNames.
	data, err := schemas.FS.ReadFile("policy.cue")
	require.NoError(t, err)
	src := string(data)
	start := strings.Index(src, "#Match: {")
	require.GreaterOrEqual(t, start, 0)
	block := src[start : start+strings.Index(src[start:], "\n}\n")]
	named := regexp.MustCompile(`\[=~"\^\(?([a-z_|]+)`).FindAllStringSubmatch(block, -1)
	require.NotEmpty(t, named)
	for _, m := range named {
		for claim := range strings.SplitSeq(strings.TrimSuffix(m[1], "|repo_property_"), "|") {
			assert.Contains(t, policy.ClaimNames(), claim, "#Match accepts %s; add it to claimNames", claim)
		}
	}
	for _, bad := range []string{"repositories", "Repository", "repo_property_", "event"} {
		assert.Error(t, load(bad), "the schema accepts claim %s", bad)
	}
}
