package ghsim

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listPATsRaw lists the organisation's fine-grained PAT grants with query q
// and returns the status and, on 200, the token names in answer order.
func listPATsRaw(t *testing.T, c *github.Client, q string) (int, []string, []map[string]any) {
	t.Helper()
	req, err := c.NewRequest("GET", "orgs/acme/personal-access-tokens?"+q, nil)
	require.NoError(t, err)
	var grants []map[string]any
	resp, err := c.Do(context.Background(), req, &grants)
	require.NotNil(t, resp, "%s: %v", q, err)
	var names []string
	for _, g := range grants {
		names = append(names, g["token_name"].(string))
	}
	return resp.StatusCode, names, grants
}

func TestListPATsFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	now := f.clk.Now()
	old, recent := now.Add(-400*24*time.Hour), now.Add(-24*time.Hour)
	f.sim.AddPAT(PATSpec{Org: "acme", Owner: "mona", TokenName: "laptop", LastUsedAt: &old, AccessGrantedAt: now.Add(-10 * 24 * time.Hour),
		Repositories: []string{"api"}, Permissions: PATPermissions{Repository: map[string]string{"contents": "write"}}})
	f.sim.AddPAT(PATSpec{Org: "acme", Owner: "hubot", TokenName: "ci", LastUsedAt: &recent, AccessGrantedAt: now.Add(-5 * 24 * time.Hour),
		Permissions: PATPermissions{Repository: map[string]string{"issues": "read"}}})
	f.sim.AddPAT(PATSpec{Org: "acme", Owner: "octocat", TokenName: "audit", AccessGrantedAt: now.Add(-24 * time.Hour),
		RepositorySelection: "none", Permissions: PATPermissions{Organization: map[string]string{"members": "read"}}})
	revoked := f.sim.AddPAT(PATSpec{Org: "acme", Owner: "mona", TokenName: "revoked", AccessGrantedAt: now})
	c := f.client(t, f.mint(t, nil))
	req, err := c.NewRequest("POST", "orgs/acme/personal-access-tokens", map[string]any{"action": "revoke", "pat_ids": []int64{revoked}})
	require.NoError(t, err)
	_, err = c.Do(context.Background(), req, nil)
	var accepted *github.AcceptedError
	require.ErrorAs(t, err, &accepted)

	status, _, all := listPATsRaw(t, c, "")
	require.Equal(t, http.StatusOK, status)
	tokenID := map[string]string{}
	for _, g := range all {
		tokenID[g["token_name"].(string)] = strconv.FormatInt(int64(g["token_id"].(float64)), 10)
	}
	require.Len(t, tokenID, 3, "a revoked grant is not listed")
	day := func(d time.Duration) string {
		return url.QueryEscape(now.Add(-d * 24 * time.Hour).Format(time.RFC3339))
	}
	eleven := strings.Repeat("owner[]=x&", 10) + "owner[]=mona"

	cases := []struct {
		name, query string
		status      int
		want        []string // token names in answer order
	}{
		{"no filter: newest grant first", "", 200, []string{"audit", "ci", "laptop"}},
		{"direction=asc", "direction=asc", 200, []string{"laptop", "ci", "audit"}},
		{"direction=desc", "direction=desc", 200, []string{"audit", "ci", "laptop"}},
		{"sort=created_at", "sort=created_at&direction=asc", 200, []string{"laptop", "ci", "audit"}},
		{"sort other than created_at", "sort=last_used_at", 422, nil},
		{"direction neither asc nor desc", "direction=up", 422, nil},
		{"repository in a subset", "repository=api", 200, []string{"ci", "laptop"}},
		{"repository only an all-repositories grant reaches", "repository=web", 200, []string{"ci"}},
		{"repository that does not exist", "repository=nowhere", 200, nil},
		{"permission at its level", "permission=contents_write", 200, []string{"laptop"}},
		{"write grants read", "permission=contents_read", 200, []string{"laptop"}},
		{"read does not grant write", "permission=issues_write", 200, nil},
		{"organisation permission", "permission=members_read", 200, []string{"audit"}},
		{"token_id", "token_id[]=" + tokenID["ci"], 200, []string{"ci"}},
		{"several token_id", "token_id[]=" + tokenID["ci"] + "&token_id[]=" + tokenID["audit"], 200, []string{"audit", "ci"}},
		{"token_id nobody has", "token_id[]=1", 200, nil},
		{"last_used_after", "last_used_after=" + day(30), 200, []string{"ci"}},
		{"last_used_before: never used counts as before", "last_used_before=" + day(30), 200, []string{"audit", "laptop"}},
		{"last_used_before and after", "last_used_after=" + day(500) + "&last_used_before=" + day(30), 200, []string{"laptop"}},
		{"last_used_before not a timestamp", "last_used_before=yesterday", 422, nil},
		{"last_used_after not a timestamp", "last_used_after=2024-13-01", 422, nil},
		{"owner[] case-insensitive", "owner[]=mona&owner[]=HUBOT", 200, []string{"ci", "laptop"}},
		{"owner[] of someone without a grant", "owner[]=nobody", 200, nil},
		{"more than 10 owner[]", eleven, 422, nil},
		{"filters combine", "owner[]=mona&permission=contents_read&repository=api&direction=asc", 200, []string{"laptop"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, names, _ := listPATsRaw(t, c, tc.query)
			assert.Equal(t, tc.status, status, tc.query)
			if tc.status == http.StatusOK {
				assert.Equal(t, tc.want, names, tc.query)
			}
		})
	}
}

func TestListPATsInvalidQueryBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	c := f.client(t, f.mint(t, nil))
	req, err := c.NewRequest("GET", "orgs/acme/personal-access-tokens?sort=updated", nil)
	require.NoError(t, err)
	_, err = c.Do(context.Background(), req, nil)
	var ge *github.ErrorResponse
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, http.StatusUnprocessableEntity, ge.Response.StatusCode)
	assert.Equal(t, "Invalid request.", ge.Message)
	assert.Equal(t, docsURL, ge.DocumentationURL)
}
