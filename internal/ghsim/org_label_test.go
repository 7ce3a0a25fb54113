package ghsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raw sends one request with token and a JSON body (nil: none), decodes the
// answer, success or error, into into, and returns the status.
func raw(t *testing.T, f *fixture, token, method, path string, body, into any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.sim.URL()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if into != nil && len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, into), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

func TestGetOrg(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			f.sim.AddUser("octocat")
			f.sim.AddRepo(RepoSpec{Owner: "globex", Name: "x", Private: true})
			globex := f.sim.Install(f.app.ID, "globex", InstallSpec{Permissions: map[string]string{
				"organization_administration": "read", "organization_plan": "read"}})
			ctx := context.Background()
			full := f.client(t, f.mint(t, nil))
			narrow := f.client(t, f.mint(t, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}}))
			tok, _, err := f.appClient(t).Apps.CreateInstallationToken(ctx, globex.ID, nil)
			require.NoError(t, err)
			planned := f.client(t, tok.GetToken())

			cases := []struct {
				name   string
				c      *github.Client
				org    string
				status int
				owner  bool // the owners' view: settings and counts
				plan   bool
			}{
				{"installation with organization_administration", full, "acme", 200, true, false},
				{"installation with organization_plan", planned, "globex", 200, true, true},
				{"installation of another organisation", planned, "acme", 200, false, false},
				{"installation without organization_administration", narrow, "acme", 200, false, false},
				{"job token", f.client(t, f.sim.JobToken("acme/api")), "acme", 200, false, false},
				{"anonymous", f.client(t, ""), "acme", 200, false, false},
				{"name in another case", full, "ACME", 200, true, false},
				{"missing organisation", full, "nobody", 404, false, false},
				{"a user, not an organisation", full, "octocat", 404, false, false},
				{"bad credentials", f.client(t, "ghs_bogus"), "acme", 401, false, false},
			}
			for _, tc := range cases {
				org, resp, err := tc.c.Organizations.Get(ctx, tc.org)
				require.NotNil(t, resp, "%s: %v", tc.name, err)
				assert.Equal(t, tc.status, resp.StatusCode, tc.name)
				if tc.status != 200 {
					continue
				}
				require.NoError(t, err, tc.name)
				assert.Equal(t, strings.ToLower(tc.org), org.GetLogin(), tc.name)
				assert.Equal(t, "Organization", org.GetType(), tc.name)
				assert.Equal(t, f.sim.URL()+"orgs/"+org.GetLogin(), org.GetURL(), tc.name)
				assert.False(t, org.GetCreatedAt().IsZero(), tc.name)
				assert.Equal(t, tc.owner, org.BillingEmail != nil, "%s: billing_email", tc.name)
				assert.Equal(t, tc.owner, org.TotalPrivateRepos != nil, "%s: total_private_repos", tc.name)
				assert.Equal(t, tc.plan, org.Plan != nil, "%s: plan", tc.name)
				if org.GetLogin() == "acme" {
					assert.Equal(t, 1, org.GetPublicRepos(), "%s: web is public, api private", tc.name)
					if tc.owner {
						assert.Equal(t, int64(1), org.GetTotalPrivateRepos(), tc.name)
					}
				}
			}
		})
	}
}

func TestLabelRoutes(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			ctx := context.Background()
			fullTok := f.mint(t, nil)
			narrowTok := f.mint(t, &github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
			c, narrow := f.client(t, fullTok), f.client(t, narrowTok)
			n := f.sim.AddIssue("acme", "api", IssueSpec{Title: "x", Labels: []string{"bug", "other"}})
			labelsOf := func() []string {
				t.Helper()
				return f.sim.Issues("acme", "api")[n-1].Labels
			}

			// Create: an invalid colour is GitHub's 422, recorded in @octokit/fixtures.
			var body map[string]any
			status := raw(t, f, fullTok, "POST", "repos/acme/api/labels", map[string]any{"name": "foo", "color": "invalid"}, &body)
			assert.Equal(t, http.StatusUnprocessableEntity, status)
			assert.Equal(t, "Validation Failed", body["message"])
			assert.Equal(t, []any{map[string]any{"resource": "Label", "field": "color", "code": "invalid"}}, body["errors"])
			for _, color := range []string{"fff", "ff00001", "gg0000", "#ff0000", " ff0000"} {
				_, resp, err := c.Issues.CreateLabel(ctx, "acme", "api", &github.Label{Name: github.String("foo"), Color: github.String(color)})
				require.Error(t, err, color)
				assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, color)
			}
			l, resp, err := c.Issues.CreateLabel(ctx, "acme", "api", &github.Label{Name: github.String("good first issue"), Color: github.String("7057FF")})
			require.NoError(t, err)
			assert.Equal(t, "7057FF", l.GetColor())
			assert.Equal(t, f.sim.URL()+"repos/acme/api/labels/good%20first%20issue", l.GetURL())
			assert.Equal(t, l.GetURL(), resp.Header.Get("Location"))

			// Edit: go-github sends "name", the description "new_name".
			l, _, err = c.Issues.EditLabel(ctx, "acme", "api", "BUG", &github.Label{Name: github.String("defect"), Color: github.String("BADA55")})
			require.NoError(t, err)
			assert.Equal(t, "defect", l.GetName())
			assert.Equal(t, "BADA55", l.GetColor())
			assert.Equal(t, []string{"defect", "other"}, labelsOf(), "issues carry the renamed label")
			var edited github.Label
			require.Equal(t, 200, raw(t, f, fullTok, "PATCH", "repos/acme/api/labels/defect", map[string]any{"new_name": "Defect", "description": "broken"}, &edited))
			assert.Equal(t, "Defect", edited.GetName(), "a change of case is a rename")
			assert.Equal(t, "broken", edited.GetDescription())
			assert.Equal(t, "BADA55", edited.GetColor(), "fields not sent are kept")
			got, _, err := c.Issues.Get(ctx, "acme", "api", n)
			require.NoError(t, err)
			require.Len(t, got.Labels, 2)
			assert.Equal(t, "Defect", got.Labels[0].GetName())

			editCases := []struct {
				name   string
				token  string
				label  string
				body   map[string]any
				status int
				field  string // of the validation error
				code   string
			}{
				{"invalid colour", fullTok, "Defect", map[string]any{"color": "red"}, 422, "color", "invalid"},
				{"rename onto another label", fullTok, "Defect", map[string]any{"new_name": "OTHER"}, 422, "name", "already_exists"},
				{"empty name", fullTok, "Defect", map[string]any{"new_name": ""}, 422, "name", "missing_field"},
				{"missing label", fullTok, "nope", map[string]any{"color": "ffffff"}, 404, "", ""},
				{"without issues permission", narrowTok, "Defect", map[string]any{"color": "ffffff"}, 403, "", ""},
			}
			for _, tc := range editCases {
				var answer struct {
					Message string           `json:"message"`
					Errors  []map[string]any `json:"errors"`
				}
				assert.Equal(t, tc.status, raw(t, f, tc.token, "PATCH", "repos/acme/api/labels/"+tc.label, tc.body, &answer), tc.name)
				if tc.field != "" && assert.Len(t, answer.Errors, 1, tc.name) {
					assert.Equal(t, "Validation Failed", answer.Message, tc.name)
					assert.Equal(t, map[string]any{"resource": "Label", "field": tc.field, "code": tc.code}, answer.Errors[0], tc.name)
				}
			}
			assert.Equal(t, []string{"Defect", "other"}, labelsOf(), "refused edits change nothing")

			// Delete: the label leaves the repository and its issues.
			resp, err = narrow.Issues.DeleteLabel(ctx, "acme", "api", "defect")
			require.Error(t, err)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			resp, err = c.Issues.DeleteLabel(ctx, "acme", "api", "defect")
			require.NoError(t, err)
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
			assert.Equal(t, []string{"other"}, labelsOf())
			_, resp, err = c.Issues.GetLabel(ctx, "acme", "api", "Defect")
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			resp, err = c.Issues.DeleteLabel(ctx, "acme", "api", "Defect")
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			list, _, err := c.Issues.ListLabels(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Len(t, list, 2, "other and good first issue")
		})
	}
}

// TestAddLabelsBodies: GitHub takes the labels to add as {"labels": [...]}
// (what its description gives and @octokit/fixtures recorded) or as a bare
// array (what go-github sends), each a name or an object with a name.
func TestAddLabelsBodies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	tok := f.mint(t, nil)
	cases := []struct {
		name   string
		body   any
		status int
		want   []string // the issue's labels after
	}{
		{"object of names", map[string]any{"labels": []string{"Foo", "bAr"}}, 200, []string{"Foo", "bAr"}},
		{"bare array of names", []string{"baZ"}, 200, []string{"baZ"}},
		{"object of objects", map[string]any{"labels": []any{map[string]any{"name": "qux"}}}, 200, []string{"qux"}},
		{"bare array of objects", []any{map[string]any{"name": "quux"}}, 200, []string{"quux"}},
		{"existing label in another case", map[string]any{"labels": []string{"FOO", "foo"}}, 200, []string{"Foo"}},
		{"labels not an array", map[string]any{"labels": "Foo"}, 422, nil},
		{"an object without a name", []any{map[string]any{"color": "fff"}}, 422, nil},
		{"a number", 42, 422, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := f.sim.AddIssue("acme", "api", IssueSpec{Title: tc.name})
			var answer any
			status := raw(t, f, tok, "POST", "repos/acme/api/issues/"+itoa(int64(n))+"/labels", tc.body, &answer)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, nonNil(tc.want), f.sim.Issues("acme", "api")[n-1].Labels)
			if status != http.StatusOK {
				assert.Equal(t, []any{map[string]any{"resource": "Label", "field": "labels", "code": "invalid"}}, answer.(map[string]any)["errors"])
				return
			}
			var names []string
			for _, l := range answer.([]any) {
				names = append(names, l.(map[string]any)["name"].(string))
			}
			assert.Equal(t, tc.want, names, "the answer is the issue's labels")
		})
	}
}

// TestIssueReactionsAndRepoMergeSettings: fields the recordings show that the
// simulator has no state for answer GitHub's values for a quiet repository.
func TestIssueReactionsAndRepoMergeSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	ctx := context.Background()
	c := f.client(t, f.mint(t, nil))
	is, _, err := c.Issues.Create(ctx, "acme", "api", &github.IssueRequest{Title: github.String("x")})
	require.NoError(t, err)
	require.NotNil(t, is.Reactions)
	assert.Equal(t, 0, is.Reactions.GetTotalCount())
	assert.Equal(t, is.GetURL()+"/reactions", is.Reactions.GetURL())
	cm, _, err := c.Issues.CreateComment(ctx, "acme", "api", is.GetNumber(), &github.IssueComment{Body: github.String("y")})
	require.NoError(t, err)
	require.NotNil(t, cm.Reactions)
	assert.Equal(t, cm.GetURL()+"/reactions", cm.Reactions.GetURL())

	r, _, err := c.Repositories.Get(ctx, "acme", "api")
	require.NoError(t, err)
	assert.True(t, r.GetAllowMergeCommit())
	assert.True(t, r.GetAllowSquashMerge())
	assert.True(t, r.GetAllowRebaseMerge())
	require.NotNil(t, r.AllowAutoMerge)
	assert.False(t, r.GetAllowAutoMerge())
	require.NotNil(t, r.DeleteBranchOnMerge)
	assert.Equal(t, "COMMIT_OR_PR_TITLE", r.GetSquashMergeCommitTitle())
	repos, _, err := c.Repositories.ListByOrg(ctx, "acme", nil)
	require.NoError(t, err)
	require.NotEmpty(t, repos)
	assert.Nil(t, repos[0].AllowMergeCommit, "lists of repositories leave the merge settings out")
}
