package ghsim

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedCredentials adds one credential of every kind to the fixture.
func seedCredentials(f *fixture) (keyID, patID, ssoID, repoHook, orgHook int64) {
	s := f.sim
	used := f.clk.Now().Add(-400 * 24 * time.Hour)
	keyID = s.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "api", Title: "deploy", AddedBy: "octocat", LastUsed: &used})
	s.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "api", Title: "never used", ReadOnly: true})
	for _, k := range []SecretKind{SecretActions, SecretDependabot, SecretCodespaces} {
		s.AddSecret(SecretSpec{Kind: k, Owner: "acme", Repo: "api", Name: "REPO_" + string(k)})
		s.AddSecret(SecretSpec{Kind: k, Scope: ScopeOrg, Owner: "acme", Name: "ORG_" + string(k), Visibility: "selected", SelectedRepos: []string{"api"}})
	}
	s.AddSecret(SecretSpec{Scope: ScopeEnvironment, Owner: "acme", Repo: "api", Environment: "prod", Name: "DEPLOY_TOKEN"})
	patID = s.AddPAT(PATSpec{Org: "acme", Owner: "mona", TokenName: "ci", LastUsedAt: &used,
		Permissions: PATPermissions{Repository: map[string]string{"contents": "write"}}})
	s.AddPAT(PATSpec{Org: "acme", Owner: "hubot", TokenName: "fresh", Repositories: []string{"web"}})
	ssoID = s.AddSSOAuthorization(SSOSpec{Org: "acme", Login: "mona", Scopes: []string{"repo"}})
	repoHook = s.AddWebhook(WebhookSpec{Owner: "acme", Repo: "api", URL: "http://hooks.invalid/x", Secret: true, InsecureSSL: true})
	orgHook = s.AddWebhook(WebhookSpec{Owner: "acme", URL: "http://hooks.invalid/org"})
	return
}

func TestCredentialRoutes(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			keyID, patID, ssoID, repoHook, orgHook := seedCredentials(f)
			c := f.client(t, f.mint(t, nil))
			ctx := context.Background()

			keys, _, err := c.Repositories.ListKeys(ctx, "acme", "api", nil)
			require.NoError(t, err)
			require.Len(t, keys, 2)
			assert.Equal(t, "octocat", keys[0].GetAddedBy())
			assert.False(t, keys[0].GetLastUsed().IsZero())
			assert.Nil(t, keys[1].LastUsed)
			k, _, err := c.Repositories.GetKey(ctx, "acme", "api", keyID)
			require.NoError(t, err)
			assert.Equal(t, "deploy", k.GetTitle())

			rs, _, err := c.Actions.ListRepoSecrets(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Equal(t, 1, rs.TotalCount)
			ds, _, err := c.Dependabot.ListRepoSecrets(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Equal(t, "REPO_dependabot", ds.Secrets[0].Name)
			cs, _, err := c.Codespaces.ListRepoSecrets(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Equal(t, 1, cs.TotalCount)
			os, _, err := c.Actions.ListOrgSecrets(ctx, "acme", nil)
			require.NoError(t, err)
			assert.Equal(t, "selected", os.Secrets[0].Visibility)
			sel, _, err := c.Actions.ListSelectedReposForOrgSecret(ctx, "acme", "ORG_actions", nil)
			require.NoError(t, err)
			assert.Equal(t, "api", sel.Repositories[0].GetName())
			_, _, err = c.Dependabot.ListOrgSecrets(ctx, "acme", nil)
			require.NoError(t, err)
			_, _, err = c.Codespaces.ListOrgSecrets(ctx, "acme", nil)
			require.NoError(t, err)

			envs, _, err := c.Repositories.ListEnvironments(ctx, "acme", "api", nil)
			require.NoError(t, err)
			require.Equal(t, 1, envs.GetTotalCount())
			assert.Equal(t, "prod", envs.Environments[0].GetName())
			repo, _, err := c.Repositories.Get(ctx, "acme", "api")
			require.NoError(t, err)
			es, _, err := c.Actions.ListEnvSecrets(ctx, int(repo.GetID()), "prod", nil)
			require.NoError(t, err)
			assert.Equal(t, "DEPLOY_TOKEN", es.Secrets[0].Name)
			req, err := c.NewRequest("GET", "repos/acme/api/environments/prod/secrets", nil)
			require.NoError(t, err)
			var es2 github.Secrets
			_, err = c.Do(ctx, req, &es2)
			require.NoError(t, err)
			assert.Equal(t, 1, es2.TotalCount)
			_, err = c.Actions.DeleteEnvSecret(ctx, int(repo.GetID()), "prod", "DEPLOY_TOKEN")
			require.NoError(t, err)

			insts, _, err := c.Organizations.ListInstallations(ctx, "acme", nil)
			require.NoError(t, err)
			assert.Equal(t, "jitkey", insts.Installations[0].GetAppSlug())

			auths, _, err := c.Organizations.ListCredentialAuthorizations(ctx, "acme", nil)
			require.NoError(t, err)
			require.Len(t, auths, 1)
			assert.Equal(t, ssoID, auths[0].GetCredentialID())
			_, err = c.Organizations.RemoveCredentialAuthorization(ctx, "acme", ssoID)
			require.NoError(t, err)

			hooks, _, err := c.Repositories.ListHooks(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Equal(t, "********", hooks[0].GetConfig().GetSecret())
			assert.Equal(t, "1", hooks[0].GetConfig().GetInsecureSSL())
			h, _, err := c.Repositories.EditHook(ctx, "acme", "api", repoHook, &github.Hook{Active: github.Bool(false)})
			require.NoError(t, err)
			assert.False(t, h.GetActive())
			ohooks, _, err := c.Organizations.ListHooks(ctx, "acme", nil)
			require.NoError(t, err)
			assert.Nil(t, ohooks[0].GetConfig().Secret, "no secret: field absent")
			_, err = c.Organizations.DeleteHook(ctx, "acme", orgHook)
			require.NoError(t, err)
			_, err = c.Repositories.DeleteHook(ctx, "acme", "api", repoHook)
			require.NoError(t, err)

			var pats []map[string]any
			req, err = c.NewRequest("GET", "orgs/acme/personal-access-tokens?last_used_before="+f.clk.Now().Add(-90*24*time.Hour).Format(time.RFC3339)+"&owner[]=mona", nil)
			require.NoError(t, err)
			_, err = c.Do(ctx, req, &pats)
			require.NoError(t, err)
			require.Len(t, pats, 1)
			assert.Equal(t, "ci", pats[0]["token_name"])
			req, err = c.NewRequest("POST", "orgs/acme/personal-access-tokens", map[string]any{"action": "revoke", "pat_ids": []int64{patID}})
			require.NoError(t, err)
			resp, err := c.Do(ctx, req, nil)
			var accepted *github.AcceptedError
			require.ErrorAs(t, err, &accepted)
			assert.Equal(t, http.StatusAccepted, resp.StatusCode)
			assert.True(t, f.sim.PATRevoked("acme", patID))

			_, err = c.Repositories.DeleteKey(ctx, "acme", "api", keyID)
			require.Error(t, err, "administration:read cannot delete")
			var ge *github.ErrorResponse
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, http.StatusForbidden, ge.Response.StatusCode)
			assert.Equal(t, "Resource not accessible by integration", ge.Message)
		})
	}
}

func TestPATsOnlyForApps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	seedCredentials(f)
	c := f.client(t, f.sim.JobToken("acme/api"))
	req, err := c.NewRequest("GET", "orgs/acme/personal-access-tokens", nil)
	require.NoError(t, err)
	resp, err := c.Do(context.Background(), req, nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestPermissionChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	seedCredentials(f)
	ctx := context.Background()
	narrow := f.client(t, f.mint(t, &github.InstallationTokenOptions{Repositories: []string{"web"},
		Permissions: &github.InstallationPermissions{Contents: github.String("read")}}))
	_, resp, err := narrow.Repositories.ListKeys(ctx, "acme", "web", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no administration permission")
	assert.Equal(t, "administration=read", resp.Header.Get("X-Accepted-GitHub-Permissions"))
	assert.NotEmpty(t, resp.Header.Get("X-GitHub-Request-Id"))
	_, resp, err = narrow.Repositories.ListKeys(ctx, "acme", "api", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "repository outside the token")
	_, resp, err = narrow.Actions.ListOrgSecrets(ctx, "acme", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, resp, err = narrow.Organizations.ListInstallations(ctx, "nope", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	_, resp, err = f.client(t, "").Repositories.Get(ctx, "acme", "api")
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, resp, err = f.client(t, "ghs_bogus").Repositories.Get(ctx, "acme", "api")
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	var ge *github.ErrorResponse
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "Bad credentials", ge.Message)
}

func TestIssueRoutes(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			f.sim.AddCollaborator("acme", "api", "mona", "admin")
			f.sim.AddCollaborator("acme", "api", "reader", "read")
			c := f.client(t, f.mint(t, nil))
			ctx := context.Background()

			_, _, err := c.Issues.CreateLabel(ctx, "acme", "api", &github.Label{Name: github.String("jitkey"), Color: github.String("ff0000")})
			require.NoError(t, err)
			l, _, err := c.Issues.GetLabel(ctx, "acme", "api", "jitkey")
			require.NoError(t, err)
			assert.Equal(t, "ff0000", l.GetColor())
			_, resp, err := c.Issues.GetLabel(ctx, "acme", "api", "missing")
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)

			is, resp, err := c.Issues.Create(ctx, "acme", "api", &github.IssueRequest{Title: github.String("deploy key unused"),
				Body: github.String("<!-- jitkey:abc -->"), Labels: &[]string{"jitkey", "security"}, Assignees: &[]string{"mona"}})
			require.NoError(t, err)
			assert.Equal(t, http.StatusCreated, resp.StatusCode)
			assert.Equal(t, 1, is.GetNumber())
			assert.Equal(t, "jitkey[bot]", is.GetUser().GetLogin())
			assert.Len(t, is.Labels, 2)
			f.sim.AddIssue("acme", "api", IssueSpec{Title: "other", Labels: []string{"bug"}})

			list, _, err := c.Issues.ListByRepo(ctx, "acme", "api", &github.IssueListByRepoOptions{Labels: []string{"jitkey"}, State: "all"})
			require.NoError(t, err)
			require.Len(t, list, 1)
			closed, _, err := c.Issues.Edit(ctx, "acme", "api", 1, &github.IssueRequest{State: github.String("closed"), StateReason: github.String("not_planned")})
			require.NoError(t, err)
			assert.Equal(t, "not_planned", closed.GetStateReason())
			assert.NotNil(t, closed.ClosedAt)
			list, _, err = c.Issues.ListByRepo(ctx, "acme", "api", &github.IssueListByRepoOptions{Labels: []string{"jitkey"}})
			require.NoError(t, err)
			assert.Empty(t, list, "default state is open")
			list, _, err = c.Issues.ListByRepo(ctx, "acme", "api", &github.IssueListByRepoOptions{State: "all", Creator: "jitkey[bot]"})
			require.NoError(t, err)
			assert.Len(t, list, 1)
			reopened, _, err := c.Issues.Edit(ctx, "acme", "api", 1, &github.IssueRequest{State: github.String("open"), Body: github.String("new")})
			require.NoError(t, err)
			assert.Equal(t, "reopened", reopened.GetStateReason())

			_, _, err = c.Issues.CreateComment(ctx, "acme", "api", 1, &github.IssueComment{Body: github.String("still there")})
			require.NoError(t, err)
			cms, _, err := c.Issues.ListComments(ctx, "acme", "api", 1, nil)
			require.NoError(t, err)
			require.Len(t, cms, 1)
			got, _, err := c.Issues.Get(ctx, "acme", "api", 1)
			require.NoError(t, err)
			assert.Equal(t, 1, got.GetComments())

			_, _, err = c.Issues.AddLabelsToIssue(ctx, "acme", "api", 1, []string{"stale"})
			require.NoError(t, err)
			_, _, err = c.Issues.RemoveAssignees(ctx, "acme", "api", 1, []string{"mona"})
			require.NoError(t, err)
			_, _, err = c.Issues.AddAssignees(ctx, "acme", "api", 1, []string{"mona"})
			require.NoError(t, err)
			ok, _, err := c.Issues.IsAssignee(ctx, "acme", "api", "mona")
			require.NoError(t, err)
			assert.True(t, ok)
			ok, _, err = c.Issues.IsAssignee(ctx, "acme", "api", "reader")
			require.NoError(t, err)
			assert.False(t, ok)
			as, _, err := c.Issues.ListAssignees(ctx, "acme", "api", nil)
			require.NoError(t, err)
			assert.Len(t, as, 1)

			perm, _, err := c.Repositories.GetPermissionLevel(ctx, "acme", "api", "mona")
			require.NoError(t, err)
			assert.Equal(t, "admin", perm.GetPermission())
			perm, _, err = c.Repositories.GetPermissionLevel(ctx, "acme", "api", "reader")
			require.NoError(t, err)
			assert.Equal(t, "read", perm.GetPermission())

			snap := f.sim.Issues("acme", "api")
			require.Len(t, snap, 2)
			assert.Equal(t, "new", snap[0].Body)
			assert.Equal(t, []string{"jitkey", "security", "stale"}, snap[0].Labels)
			require.Len(t, snap[0].Comments, 1)
			cm := snap[0].Comments[0]
			assert.Equal(t, "jitkey[bot]", cm.User)
			assert.Equal(t, "still there", cm.Body)
			assert.NotZero(t, cm.ID)
			assert.Equal(t, cm.CreatedAt, cm.UpdatedAt, "not edited")

			// Anyone with issues: write edits any comment; updated_at moves.
			id := f.sim.AddComment("acme", "api", 1, "mona", "looks fine")
			f.clk.Advance(time.Minute)
			ed, _, err := c.Issues.EditComment(ctx, "acme", "api", id, &github.IssueComment{Body: github.String("/jitkey revoke")})
			require.NoError(t, err)
			assert.Equal(t, "mona", ed.GetUser().GetLogin(), "the author stays; the editor is not said")
			assert.Equal(t, time.Minute, ed.GetUpdatedAt().Sub(ed.GetCreatedAt().Time))
			_, resp, err = c.Issues.EditComment(ctx, "acme", "api", 424242, &github.IssueComment{Body: github.String("x")})
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)

			f.sim.AddMember("acme", "mona", "admin")
			m, _, err := c.Organizations.GetOrgMembership(ctx, "mona", "acme")
			require.NoError(t, err)
			assert.Equal(t, "admin", m.GetRole())
			_, resp, err = c.Organizations.GetOrgMembership(ctx, "reader", "acme")
			require.Error(t, err)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "not a member")
		})
	}
}

func TestRepoListsAndRateLimit(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		repoListsAndRateLimit(t, prefix)
	}
}

func repoListsAndRateLimit(t *testing.T, prefix string) {
	f := newFixture(t, prefix)
	f.sim.AddRepo(RepoSpec{Owner: "acme", Name: "secret-sauce", Private: true})
	c := f.client(t, f.mint(t, &github.InstallationTokenOptions{Repositories: []string{"api"}}))
	ctx := context.Background()
	repos, _, err := c.Repositories.ListByOrg(ctx, "acme", nil)
	require.NoError(t, err)
	var names []string
	for _, r := range repos {
		names = append(names, r.GetName())
	}
	assert.Equal(t, []string{"api", "web"}, names, "private repositories outside the token are hidden")
	ir, _, err := c.Apps.ListRepos(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, ir.GetTotalCount())
	rl, resp, err := c.RateLimit.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5000, rl.GetCore().Limit)
	assert.Equal(t, "5000", resp.Header.Get("X-RateLimit-Limit"))
	assert.Equal(t, 1, f.sim.Calls()["GET /rate_limit"])
}

func TestSecretHookLabelRoutesByName(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			_, _, _, repoHook, orgHook := seedCredentials(f)
			for _, k := range []SecretKind{SecretActions, SecretDependabot, SecretCodespaces} {
				f.sim.AddSecret(SecretSpec{Kind: k, Owner: "acme", Repo: "api", Name: "DOOMED"})
				f.sim.AddSecret(SecretSpec{Kind: k, Scope: ScopeOrg, Owner: "acme", Name: "DOOMED"})
			}
			f.sim.AddSecret(SecretSpec{Scope: ScopeEnvironment, Owner: "acme", Repo: "api", Environment: "prod", Name: "DOOMED"})
			c := f.client(t, f.mint(t, nil))
			ctx := context.Background()
			ok := func(resp *github.Response, err error) {
				t.Helper()
				require.NoError(t, err)
				assert.Less(t, resp.StatusCode, 300)
			}
			gone := func(resp *github.Response, err error) {
				t.Helper()
				require.Error(t, err)
				assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			}

			sec, resp, err := c.Actions.GetRepoSecret(ctx, "acme", "api", "REPO_actions")
			ok(resp, err)
			assert.Equal(t, "REPO_actions", sec.Name)
			_, resp, err = c.Dependabot.GetRepoSecret(ctx, "acme", "api", "REPO_dependabot")
			ok(resp, err)
			_, resp, err = c.Codespaces.GetRepoSecret(ctx, "acme", "api", "REPO_codespaces")
			ok(resp, err)
			ok(c.Actions.DeleteRepoSecret(ctx, "acme", "api", "DOOMED"))
			ok(c.Dependabot.DeleteRepoSecret(ctx, "acme", "api", "DOOMED"))
			ok(c.Codespaces.DeleteRepoSecret(ctx, "acme", "api", "DOOMED"))
			_, resp, err = c.Actions.GetRepoSecret(ctx, "acme", "api", "DOOMED")
			gone(resp, err)

			org, resp, err := c.Actions.GetOrgSecret(ctx, "acme", "ORG_actions")
			ok(resp, err)
			assert.Equal(t, "selected", org.Visibility)
			assert.Contains(t, org.SelectedRepositoriesURL, prefix+"/orgs/acme/actions/secrets/ORG_actions/repositories")
			_, resp, err = c.Dependabot.GetOrgSecret(ctx, "acme", "ORG_dependabot")
			ok(resp, err)
			_, resp, err = c.Codespaces.GetOrgSecret(ctx, "acme", "ORG_codespaces")
			ok(resp, err)
			sel, resp, err := c.Dependabot.ListSelectedReposForOrgSecret(ctx, "acme", "ORG_dependabot", nil)
			ok(resp, err)
			assert.Equal(t, 1, sel.GetTotalCount())
			_, resp, err = c.Codespaces.ListSelectedReposForOrgSecret(ctx, "acme", "ORG_codespaces", nil)
			ok(resp, err)
			ok(c.Actions.DeleteOrgSecret(ctx, "acme", "DOOMED"))
			ok(c.Dependabot.DeleteOrgSecret(ctx, "acme", "DOOMED"))
			ok(c.Codespaces.DeleteOrgSecret(ctx, "acme", "DOOMED"))
			_, resp, err = c.Codespaces.GetOrgSecret(ctx, "acme", "DOOMED")
			gone(resp, err)

			repo, _, err := c.Repositories.Get(ctx, "acme", "api")
			require.NoError(t, err)
			_, resp, err = c.Actions.GetEnvSecret(ctx, int(repo.GetID()), "prod", "DEPLOY_TOKEN")
			ok(resp, err)
			req, err := c.NewRequest("GET", "repos/acme/api/environments/prod/secrets/DEPLOY_TOKEN", nil)
			require.NoError(t, err)
			ok(c.Do(ctx, req, nil))
			req, err = c.NewRequest("DELETE", "repos/acme/api/environments/prod/secrets/DOOMED", nil)
			require.NoError(t, err)
			ok(c.Do(ctx, req, nil))
			_, resp, err = c.Actions.GetEnvSecret(ctx, int(repo.GetID()), "prod", "DOOMED")
			gone(resp, err)

			h, resp, err := c.Repositories.GetHook(ctx, "acme", "api", repoHook)
			ok(resp, err)
			assert.Equal(t, "unused", h.LastResponse["status"])
			oh, resp, err := c.Organizations.GetHook(ctx, "acme", orgHook)
			ok(resp, err)
			assert.Equal(t, "Organization", oh.GetType())
			oh, resp, err = c.Organizations.EditHook(ctx, "acme", orgHook, &github.Hook{Config: &github.HookConfig{Secret: github.String("s3cret"), InsecureSSL: github.String("1")}})
			ok(resp, err)
			assert.Equal(t, "********", oh.GetConfig().GetSecret(), "a secret is never shown")
			assert.Equal(t, "1", oh.GetConfig().GetInsecureSSL())

			f.sim.AddIssue("acme", "api", IssueSpec{Title: "x", Labels: []string{"a", "b"}})
			labels, resp, err := c.Issues.ListLabels(ctx, "acme", "api", nil)
			ok(resp, err)
			assert.Len(t, labels, 2)

			got, resp, err := f.appClient(t).Apps.GetInstallation(ctx, f.inst.ID)
			ok(resp, err)
			assert.Equal(t, "all", got.GetRepositorySelection())
		})
	}
}
