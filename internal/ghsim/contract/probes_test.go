package contract_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func secretPaths(kind string) (repo, org string) {
	return "repos/acme/api/" + kind + "/secrets", "orgs/acme/" + kind + "/secrets"
}

// probes exercise each route, success and error paths, keyed by the
// operation ("METHOD /template") they cover.
var probes = map[string]func(e *env){
	"GET /app": func(e *env) {
		app, resp, err := e.appc.Apps.Get(e.ctx, "")
		e.want("get app", 200, resp, err)
		assert.Equal(e.t, "jitkey", app.GetSlug())
		_, resp, err = e.anon.Apps.Get(e.ctx, "")
		e.want("get app without JWT", 401, resp, err)
		e.wantRaw(401, "GET", "app", "e30.e30.c2ln", nil)
	},
	"GET /apps/{app_slug}": func(e *env) {
		_, resp, err := e.full.Apps.Get(e.ctx, "jitkey")
		e.want("get app by slug", 200, resp, err)
		_, resp, err = e.full.Apps.Get(e.ctx, "nobody")
		e.want("get missing app", 404, resp, err)
	},
	"GET /app/installations": func(e *env) {
		list, resp, err := e.appc.Apps.ListInstallations(e.ctx, &github.ListOptions{PerPage: 1})
		e.want("list installations", 200, resp, err)
		assert.Len(e.t, list, 1)
		assert.NotZero(e.t, resp.NextPage, "paginated")
		_, resp, err = e.full.Apps.ListInstallations(e.ctx, nil)
		e.want("list installations with installation token", 401, resp, err)
	},
	"GET /app/installations/{installation_id}": func(e *env) {
		_, resp, err := e.appc.Apps.GetInstallation(e.ctx, e.inst.ID)
		e.want("get installation", 200, resp, err)
		_, resp, err = e.appc.Apps.GetInstallation(e.ctx, 999999)
		e.want("get missing installation", 404, resp, err)
	},
	"POST /app/installations/{installation_id}/access_tokens": func(e *env) {
		tok, resp, err := e.appc.Apps.CreateInstallationToken(e.ctx, e.inst.ID, &github.InstallationTokenOptions{
			Repositories: []string{"api"}, Permissions: &github.InstallationPermissions{Contents: github.String("read")}})
		e.want("mint", 201, resp, err)
		assert.Len(e.t, tok.Repositories, 1)
		e.wantRaw(201, "POST", fmt.Sprintf("app/installations/%d/access_tokens", e.inst.ID), jwtOf(e), map[string]any{
			"repository_ids": []int64{e.repo.ID}, "permissions": map[string]string{"issues": "write", "secrets": "read"}})
		_, resp, err = e.appc.Apps.CreateInstallationToken(e.ctx, e.inst.ID, &github.InstallationTokenOptions{
			Permissions: &github.InstallationPermissions{Workflows: github.String("write")}})
		e.want("mint beyond the installation", 422, resp, err)
		_, resp, err = e.appc.Apps.CreateInstallationToken(e.ctx, e.inst.ID, &github.InstallationTokenOptions{Repositories: []string{"nowhere"}})
		e.want("mint for a missing repository", 422, resp, err)
		_, resp, err = e.appc.Apps.CreateInstallationToken(e.ctx, 999999, &github.InstallationTokenOptions{})
		e.want("mint on a missing installation", 404, resp, err)
		_, resp, err = e.full.Apps.CreateInstallationToken(e.ctx, e.inst.ID, &github.InstallationTokenOptions{})
		e.want("mint with an installation token", 401, resp, err)
	},
	"DELETE /app/installations/{installation_id}": func(e *env) {
		resp, err := e.appc.Apps.DeleteInstallation(e.ctx, 999999)
		e.want("delete missing installation", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/installation": func(e *env) {
		_, resp, err := e.appc.Apps.FindRepositoryInstallation(e.ctx, "acme", "api")
		e.want("repo installation", 200, resp, err)
		_, resp, err = e.appc.Apps.FindRepositoryInstallation(e.ctx, "acme", "nowhere")
		e.want("missing repo installation", 404, resp, err)
	},
	"GET /orgs/{org}/installation": func(e *env) {
		_, resp, err := e.appc.Apps.FindOrganizationInstallation(e.ctx, "acme")
		e.want("org installation", 200, resp, err)
		_, resp, err = e.appc.Apps.FindOrganizationInstallation(e.ctx, "nobody")
		e.want("missing org installation", 404, resp, err)
	},
	"GET /users/{username}/installation": func(e *env) {
		_, resp, err := e.appc.Apps.FindUserInstallation(e.ctx, "octocat")
		e.want("user installation", 200, resp, err)
		_, resp, err = e.appc.Apps.FindUserInstallation(e.ctx, "hubot")
		e.want("missing user installation", 404, resp, err)
	},
	"DELETE /installation/token": func(e *env) {
		c := e.tokenClient(e.mint(&github.InstallationTokenOptions{Permissions: &github.InstallationPermissions{Contents: github.String("read")}}))
		resp, err := c.Apps.RevokeInstallationToken(e.ctx)
		e.want("revoke", 204, resp, err)
		resp, err = c.Apps.RevokeInstallationToken(e.ctx)
		e.want("revoke again", 401, resp, err)
	},
	"GET /installation/repositories": func(e *env) {
		list, resp, err := e.full.Apps.ListRepos(e.ctx, &github.ListOptions{PerPage: 2})
		e.want("installation repositories", 200, resp, err)
		assert.Equal(e.t, 3, list.GetTotalCount())
		_, resp, err = e.appc.Apps.ListRepos(e.ctx, nil)
		e.wantOneOf("installation repositories with a JWT", resp, err, 401, 403)
	},
	"GET /orgs/{org}/installations": func(e *env) {
		list, resp, err := e.full.Organizations.ListInstallations(e.ctx, "acme", nil)
		e.want("org installations", 200, resp, err)
		assert.Equal(e.t, 1, list.GetTotalCount())
		_, resp, err = e.narrow.Organizations.ListInstallations(e.ctx, "acme", nil)
		e.want("org installations without permission", 403, resp, err)
	},
	"GET /user": func(e *env) {
		_, resp, err := e.anon.Users.Get(e.ctx, "")
		e.want("authenticated user without token", 401, resp, err)
	},
	"GET /users/{username}": func(e *env) {
		_, resp, err := e.full.Users.Get(e.ctx, "octocat")
		e.want("user", 200, resp, err)
		_, resp, err = e.full.Users.Get(e.ctx, "nobody")
		e.want("missing user", 404, resp, err)
	},
	"GET /orgs/{org}": func(e *env) {
		_, resp, err := e.full.Organizations.Get(e.ctx, "acme")
		e.want("org", 200, resp, err)
		_, resp, err = e.full.Organizations.Get(e.ctx, "nobody")
		e.want("missing org", 404, resp, err)
		_, resp, err = e.full.Organizations.Get(e.ctx, "octocat")
		e.want("a user is not an org", 404, resp, err)
		_, resp, err = e.anon.Organizations.Get(e.ctx, "acme")
		e.want("org without a token", 200, resp, err)
		e.wantRaw(401, "GET", "orgs/acme", "ghs_not_a_token", nil)
		e.conditional("orgs/acme", e.fullTok)
	},
	"GET /orgs/{org}/memberships/{username}": func(e *env) {
		m, resp, err := e.full.Organizations.GetOrgMembership(e.ctx, "octocat", "acme")
		e.want("an owner's membership", 200, resp, err)
		assert.Equal(e.t, "admin", m.GetRole())
		assert.Equal(e.t, "active", m.GetState())
		m, resp, err = e.full.Organizations.GetOrgMembership(e.ctx, "hubot", "acme")
		e.want("a member's membership", 200, resp, err)
		assert.Equal(e.t, "member", m.GetRole())
		_, resp, err = e.full.Organizations.GetOrgMembership(e.ctx, "nobody", "acme")
		e.want("not a member", 404, resp, err)
		_, resp, err = e.narrow.Organizations.GetOrgMembership(e.ctx, "octocat", "acme")
		e.want("membership without members: read", 403, resp, err)
	},
	"GET /repos/{owner}/{repo}": func(e *env) {
		r, resp, err := e.full.Repositories.Get(e.ctx, "acme", "api")
		e.want("repo", 200, resp, err)
		assert.True(e.t, r.GetPrivate())
		_, resp, err = e.full.Repositories.Get(e.ctx, "acme", "nowhere")
		e.want("missing repo", 404, resp, err)
		_, resp, err = e.anon.Repositories.Get(e.ctx, "acme", "api")
		e.wantOneOf("private repo without token", resp, err, 404, 401) // GitHub: 404
		e.wantRaw(401, "GET", "repos/acme/api", "ghs_not_a_token", nil)
		e.conditional("repos/acme/api", e.fullTok)
	},
	"GET /orgs/{org}/repos": func(e *env) {
		list, resp, err := e.full.Repositories.ListByOrg(e.ctx, "acme", &github.RepositoryListByOrgOptions{ListOptions: github.ListOptions{PerPage: 2}})
		e.want("org repos page 1", 200, resp, err)
		assert.Len(e.t, list, 2)
		require.NotZero(e.t, resp.NextPage, "link header")
		list, resp, err = e.full.Repositories.ListByOrg(e.ctx, "acme", &github.RepositoryListByOrgOptions{ListOptions: github.ListOptions{PerPage: 2, Page: resp.NextPage}})
		e.want("org repos page 2", 200, resp, err)
		assert.Len(e.t, list, 1)
		e.wantRaw(200, "GET", "orgs/acme/repos?type=all&sort=full_name&per_page=100", e.fullTok, nil)
		e.wantRaw(404, "GET", "orgs/nobody/repos", e.fullTok, nil)
		e.conditional("orgs/acme/repos", e.fullTok)
	},
	"GET /users/{username}/repos": func(e *env) {
		_, resp, err := e.full.Repositories.ListByUser(e.ctx, "octocat", nil)
		e.want("user repos", 200, resp, err)
	},
	"GET /repos/{owner}/{repo}/contents/{path}": func(e *env) {
		file, _, resp, err := e.full.Repositories.GetContents(e.ctx, "acme", "api", ".github/jitkey/policy.cue", &github.RepositoryContentGetOptions{Ref: "main"})
		e.want("policy file", 200, resp, err)
		content, err := file.GetContent()
		require.NoError(e.t, err)
		assert.Equal(e.t, "package jitkey\n", content)
		_, dir, resp, err := e.full.Repositories.GetContents(e.ctx, "acme", "api", ".github/jitkey", nil)
		e.want("policy directory", 200, resp, err)
		assert.Len(e.t, dir, 2)
		_, _, resp, err = e.full.Repositories.GetContents(e.ctx, "acme", "api", "missing.cue", nil)
		e.want("missing file", 404, resp, err)
		_, _, resp, err = e.narrow.Repositories.GetContents(e.ctx, "acme", "api", ".github/jitkey/policy.cue", nil)
		e.want("file without contents permission", 403, resp, err)
		_, _, resp, err = e.tokenClient(e.sim.JobToken("acme/web")).Repositories.GetContents(e.ctx, "acme", "api", ".github/jitkey/policy.cue", nil)
		e.want("file with another repository's job token", 404, resp, err)
		e.conditional("repos/acme/api/contents/.github/jitkey/policy.cue?ref=main", e.fullTok)
	},
	"GET /repos/{owner}/{repo}/keys": func(e *env) {
		keys, resp, err := e.full.Repositories.ListKeys(e.ctx, "acme", "api", &github.ListOptions{PerPage: 100})
		e.want("deploy keys", 200, resp, err)
		require.NotEmpty(e.t, keys)
		assert.Equal(e.t, "octocat", keys[0].GetAddedBy())
		assert.False(e.t, keys[0].GetLastUsed().IsZero())
		_, resp, err = e.narrow.Repositories.ListKeys(e.ctx, "acme", "api", nil)
		e.want("deploy keys without permission", 403, resp, err)
		_, resp, err = e.full.Repositories.ListKeys(e.ctx, "acme", "nowhere", nil)
		e.want("deploy keys of a missing repo", 404, resp, err)
		e.conditional("repos/acme/api/keys", e.fullTok)
	},
	"GET /repos/{owner}/{repo}/keys/{key_id}": func(e *env) {
		_, resp, err := e.full.Repositories.GetKey(e.ctx, "acme", "api", e.keyID)
		e.want("deploy key", 200, resp, err)
		_, resp, err = e.full.Repositories.GetKey(e.ctx, "acme", "api", 999999)
		e.want("missing deploy key", 404, resp, err)
	},
	"DELETE /repos/{owner}/{repo}/keys/{key_id}": func(e *env) {
		resp, err := e.narrow.Repositories.DeleteKey(e.ctx, "acme", "api", e.doomedKeyID)
		e.want("delete deploy key without permission", 403, resp, err)
		resp, err = e.full.Repositories.DeleteKey(e.ctx, "acme", "api", e.doomedKeyID)
		e.want("delete deploy key", 204, resp, err)
		resp, err = e.full.Repositories.DeleteKey(e.ctx, "acme", "api", e.doomedKeyID)
		e.want("delete deploy key again", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/environments": func(e *env) {
		envs, resp, err := e.full.Repositories.ListEnvironments(e.ctx, "acme", "api", nil)
		e.want("environments", 200, resp, err)
		assert.Equal(e.t, 2, envs.GetTotalCount())
		_, resp, err = e.full.Repositories.ListEnvironments(e.ctx, "acme", "nowhere", nil)
		e.want("environments of a missing repo", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/environments/{environment_name}": func(e *env) {
		_, resp, err := e.full.Repositories.GetEnvironment(e.ctx, "acme", "api", "prod")
		e.want("environment", 200, resp, err)
		_, resp, err = e.full.Repositories.GetEnvironment(e.ctx, "acme", "api", "nowhere")
		e.want("missing environment", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/environments/{environment_name}/secrets": func(e *env) {
		e.wantRaw(200, "GET", "repos/acme/api/environments/prod/secrets?per_page=100", e.fullTok, nil)
		e.wantRaw(403, "GET", "repos/acme/api/environments/prod/secrets", e.narrowTok, nil)
		e.wantRaw(404, "GET", "repos/acme/api/environments/nowhere/secrets", e.fullTok, nil)
	},
	"GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}": func(e *env) {
		e.wantRaw(200, "GET", "repos/acme/api/environments/prod/secrets/DEPLOY", e.fullTok, nil)
		e.wantRaw(404, "GET", "repos/acme/api/environments/prod/secrets/NOPE", e.fullTok, nil)
	},
	"DELETE /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}": func(e *env) {
		e.wantRaw(403, "DELETE", "repos/acme/api/environments/prod/secrets/DOOMED", e.narrowTok, nil)
		e.wantRaw(204, "DELETE", "repos/acme/api/environments/prod/secrets/DOOMED", e.fullTok, nil)
		e.wantRaw(404, "DELETE", "repos/acme/api/environments/prod/secrets/DOOMED", e.fullTok, nil)
	},
	"GET /repositories/{repository_id}/environments/{environment_name}/secrets": func(e *env) {
		list, resp, err := e.full.Actions.ListEnvSecrets(e.ctx, int(e.repo.ID), "prod", nil)
		e.want("environment secrets by repository ID", 200, resp, err)
		assert.NotZero(e.t, list.TotalCount)
		_, resp, err = e.full.Actions.ListEnvSecrets(e.ctx, 999999, "prod", nil)
		e.want("environment secrets of a missing repository", 404, resp, err)
	},
	"GET /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}": func(e *env) {
		_, resp, err := e.full.Actions.GetEnvSecret(e.ctx, int(e.repo.ID), "prod", "DEPLOY")
		e.want("environment secret by repository ID", 200, resp, err)
		_, resp, err = e.full.Actions.GetEnvSecret(e.ctx, int(e.repo.ID), "prod", "NOPE")
		e.want("missing environment secret by repository ID", 404, resp, err)
	},
	"DELETE /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}": func(e *env) {
		resp, err := e.full.Actions.DeleteEnvSecret(e.ctx, int(e.repo.ID), "prod", "DOOMED2")
		e.want("delete environment secret by repository ID", 204, resp, err)
		resp, err = e.narrow.Actions.DeleteEnvSecret(e.ctx, int(e.repo.ID), "prod", "DEPLOY")
		e.want("delete environment secret without permission", 403, resp, err)
	},
	"GET /orgs/{org}/personal-access-tokens": func(e *env) {
		b := e.wantRaw(200, "GET", "orgs/acme/personal-access-tokens?per_page=100&sort=created_at&direction=desc", e.fullTok, nil)
		assert.Contains(e.t, string(b), `"token_name":"laptop"`)
		e.wantRaw(200, "GET", "orgs/acme/personal-access-tokens?owner[]=octocat&last_used_before="+url(e.sim.Now().Format(time.RFC3339)), e.fullTok, nil)
		e.wantRaw(403, "GET", "orgs/acme/personal-access-tokens", e.narrowTok, nil)
		e.wantRaw(401, "GET", "orgs/acme/personal-access-tokens", "", nil)
	},
	"POST /orgs/{org}/personal-access-tokens": func(e *env) {
		status, _, _ := e.raw("POST", "orgs/acme/personal-access-tokens", e.fullTok, map[string]any{"action": "revoke", "pat_ids": []int64{999999}})
		assert.Contains(e.t, []int{404, 422}, status, "revoke an unknown PAT")
		e.wantRaw(403, "POST", "orgs/acme/personal-access-tokens", e.narrowTok, map[string]any{"action": "revoke", "pat_ids": []int64{e.doomedPatID}})
		e.wantRaw(202, "POST", "orgs/acme/personal-access-tokens", e.fullTok, map[string]any{"action": "revoke", "pat_ids": []int64{e.doomedPatID}})
		assert.True(e.t, e.sim.PATRevoked("acme", e.doomedPatID))
	},
	"POST /orgs/{org}/personal-access-tokens/{pat_id}": func(e *env) {
		e.wantRaw(404, "POST", "orgs/acme/personal-access-tokens/999999", e.fullTok, map[string]any{"action": "revoke"})
		e.wantRaw(204, "POST", fmt.Sprintf("orgs/acme/personal-access-tokens/%d", e.patID), e.fullTok, map[string]any{"action": "revoke"})
	},
	"GET /orgs/{org}/credential-authorizations": func(e *env) {
		list, resp, err := e.full.Organizations.ListCredentialAuthorizations(e.ctx, "acme", &github.ListOptions{PerPage: 100})
		e.want("credential authorizations", 200, resp, err)
		assert.Len(e.t, list, 2, "read before the DELETE probe")
		_, resp, err = e.narrow.Organizations.ListCredentialAuthorizations(e.ctx, "acme", nil)
		e.want("credential authorizations without permission", 403, resp, err)
	},
	"DELETE /orgs/{org}/credential-authorizations/{credential_id}": func(e *env) {
		resp, err := e.full.Organizations.RemoveCredentialAuthorization(e.ctx, "acme", e.doomedCredID)
		e.want("remove credential authorization", 204, resp, err)
		resp, err = e.full.Organizations.RemoveCredentialAuthorization(e.ctx, "acme", e.doomedCredID)
		e.want("remove credential authorization again", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/hooks": func(e *env) {
		hooks, resp, err := e.full.Repositories.ListHooks(e.ctx, "acme", "api", nil)
		e.want("repo hooks", 200, resp, err)
		require.NotEmpty(e.t, hooks)
		assert.Equal(e.t, "********", hooks[0].Config.GetSecret())
		_, resp, err = e.narrow.Repositories.ListHooks(e.ctx, "acme", "api", nil)
		e.want("repo hooks without permission", 403, resp, err)
	},
	"GET /repos/{owner}/{repo}/hooks/{hook_id}": func(e *env) {
		_, resp, err := e.full.Repositories.GetHook(e.ctx, "acme", "api", e.hookID)
		e.want("repo hook", 200, resp, err)
		_, resp, err = e.full.Repositories.GetHook(e.ctx, "acme", "api", 999999)
		e.want("missing repo hook", 404, resp, err)
	},
	"PATCH /repos/{owner}/{repo}/hooks/{hook_id}": func(e *env) {
		h, resp, err := e.full.Repositories.EditHook(e.ctx, "acme", "api", e.hookID, &github.Hook{Active: github.Bool(false)})
		e.want("deactivate repo hook", 200, resp, err)
		assert.False(e.t, h.GetActive())
		_, resp, err = e.narrow.Repositories.EditHook(e.ctx, "acme", "api", e.hookID, &github.Hook{Active: github.Bool(true)})
		e.want("deactivate repo hook without permission", 403, resp, err)
	},
	"DELETE /repos/{owner}/{repo}/hooks/{hook_id}": func(e *env) {
		resp, err := e.full.Repositories.DeleteHook(e.ctx, "acme", "api", e.doomedHookID)
		e.want("delete repo hook", 204, resp, err)
		resp, err = e.full.Repositories.DeleteHook(e.ctx, "acme", "api", e.doomedHookID)
		e.want("delete repo hook again", 404, resp, err)
	},
	"GET /orgs/{org}/hooks": func(e *env) {
		hooks, resp, err := e.full.Organizations.ListHooks(e.ctx, "acme", nil)
		e.want("org hooks", 200, resp, err)
		assert.NotEmpty(e.t, hooks)
		_, resp, err = e.narrow.Organizations.ListHooks(e.ctx, "acme", nil)
		e.want("org hooks without permission", 403, resp, err)
	},
	"GET /orgs/{org}/hooks/{hook_id}": func(e *env) {
		_, resp, err := e.full.Organizations.GetHook(e.ctx, "acme", e.orgHookID)
		e.want("org hook", 200, resp, err)
		_, resp, err = e.full.Organizations.GetHook(e.ctx, "acme", 999999)
		e.want("missing org hook", 404, resp, err)
	},
	"PATCH /orgs/{org}/hooks/{hook_id}": func(e *env) {
		_, resp, err := e.full.Organizations.EditHook(e.ctx, "acme", e.orgHookID, &github.Hook{Active: github.Bool(false)})
		e.want("deactivate org hook", 200, resp, err)
	},
	"DELETE /orgs/{org}/hooks/{hook_id}": func(e *env) {
		resp, err := e.full.Organizations.DeleteHook(e.ctx, "acme", e.doomedOrgHookID)
		e.want("delete org hook", 204, resp, err)
		resp, err = e.full.Organizations.DeleteHook(e.ctx, "acme", e.doomedOrgHookID)
		e.want("delete org hook again", 404, resp, err)
	},
	"GET /repos/{owner}/{repo}/collaborators/{username}/permission": func(e *env) {
		p, resp, err := e.full.Repositories.GetPermissionLevel(e.ctx, "acme", "api", "octocat")
		e.want("collaborator permission", 200, resp, err)
		assert.Equal(e.t, "admin", p.GetPermission())
		p, resp, err = e.full.Repositories.GetPermissionLevel(e.ctx, "acme", "api", "hubot")
		e.want("read collaborator permission", 200, resp, err)
		assert.Equal(e.t, "read", p.GetPermission())
		_, resp, err = e.full.Repositories.GetPermissionLevel(e.ctx, "acme", "api", "nobody")
		e.want("permission of a missing user", 404, resp, err)
	},
	"GET /rate_limit": func(e *env) {
		rl, resp, err := e.full.RateLimit.Get(e.ctx)
		e.want("rate limit", 200, resp, err)
		assert.NotZero(e.t, rl.GetCore().Limit)
		_, resp, err = e.anon.RateLimit.Get(e.ctx)
		e.want("anonymous rate limit", 200, resp, err)
	},
}

// issueNumber returns the number of an issue created through the API once.
func (e *env) issueNumber() int {
	if e.issue == 0 {
		is, resp, err := e.full.Issues.Create(e.ctx, "acme", "api", &github.IssueRequest{
			Title: github.String("jitkey: deploy key deploy is unused"), Body: github.String("<!-- jitkey:finding -->"),
			Labels: &[]string{"jitkey"}})
		e.want("create issue", 201, resp, err)
		require.NotNil(e.t, is)
		e.issue = is.GetNumber()
	}
	return e.issue
}

func init() {
	probes["POST /repos/{owner}/{repo}/issues"] = func(e *env) {
		e.issueNumber()
		_, resp, err := e.narrow.Issues.Create(e.ctx, "acme", "api", &github.IssueRequest{Title: github.String("x")})
		e.want("create issue without permission", 403, resp, err)
		_, resp, err = e.full.Issues.Create(e.ctx, "acme", "nowhere", &github.IssueRequest{Title: github.String("x")})
		e.want("create issue in a missing repo", 404, resp, err)
		e.wantRaw(422, "POST", "repos/acme/api/issues", e.fullTok, map[string]any{"title": ""})
	}
	probes["GET /repos/{owner}/{repo}/issues"] = func(e *env) {
		n := e.issueNumber()
		list, resp, err := e.full.Issues.ListByRepo(e.ctx, "acme", "api", &github.IssueListByRepoOptions{State: "all", Labels: []string{"jitkey"}, ListOptions: github.ListOptions{PerPage: 100}})
		e.want("issues by label", 200, resp, err)
		require.NotEmpty(e.t, list)
		assert.Equal(e.t, n, list[0].GetNumber())
		_, resp, err = e.narrow.Issues.ListByRepo(e.ctx, "acme", "api", nil)
		e.want("issues without permission", 403, resp, err)
		e.conditional("repos/acme/api/issues?state=open&labels=jitkey", e.fullTok)
	}
	probes["GET /repos/{owner}/{repo}/issues/{issue_number}"] = func(e *env) {
		is, resp, err := e.full.Issues.Get(e.ctx, "acme", "api", e.issueNumber())
		e.want("issue", 200, resp, err)
		assert.NotEmpty(e.t, is.Labels)
		_, resp, err = e.full.Issues.Get(e.ctx, "acme", "api", 999999)
		e.want("missing issue", 404, resp, err)
	}
	probes["PATCH /repos/{owner}/{repo}/issues/{issue_number}"] = func(e *env) {
		n := e.issueNumber()
		is, resp, err := e.full.Issues.Edit(e.ctx, "acme", "api", n, &github.IssueRequest{State: github.String("closed"), StateReason: github.String("completed")})
		e.want("close issue", 200, resp, err)
		assert.Equal(e.t, "closed", is.GetState())
		_, resp, err = e.full.Issues.Edit(e.ctx, "acme", "api", n, &github.IssueRequest{State: github.String("open"), Body: github.String("<!-- jitkey:finding v2 -->")})
		e.want("reopen issue", 200, resp, err)
		_, resp, err = e.full.Issues.Edit(e.ctx, "acme", "api", 999999, &github.IssueRequest{State: github.String("closed")})
		e.want("edit missing issue", 404, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/issues/{issue_number}/comments"] = func(e *env) {
		n := e.issueNumber()
		_, resp, err := e.full.Issues.CreateComment(e.ctx, "acme", "api", n, &github.IssueComment{Body: github.String("still there")})
		e.want("comment for listing", 201, resp, err)
		list, resp, err := e.full.Issues.ListComments(e.ctx, "acme", "api", n, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		e.want("comments", 200, resp, err)
		assert.NotEmpty(e.t, list)
		_, resp, err = e.full.Issues.ListComments(e.ctx, "acme", "api", 999999, nil)
		e.want("comments of a missing issue", 404, resp, err)
	}
	probes["POST /repos/{owner}/{repo}/issues/{issue_number}/comments"] = func(e *env) {
		c, resp, err := e.full.Issues.CreateComment(e.ctx, "acme", "api", e.issueNumber(), &github.IssueComment{Body: github.String("/jitkey exempt 30d")})
		e.want("comment", 201, resp, err)
		assert.Equal(e.t, "/jitkey exempt 30d", c.GetBody())
		_, resp, err = e.narrow.Issues.CreateComment(e.ctx, "acme", "api", e.issueNumber(), &github.IssueComment{Body: github.String("x")})
		e.want("comment without permission", 403, resp, err)
		_, resp, err = e.full.Issues.CreateComment(e.ctx, "acme", "api", 999999, &github.IssueComment{Body: github.String("x")})
		e.want("comment on a missing issue", 404, resp, err)
	}
	probes["PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"] = func(e *env) {
		c, resp, err := e.full.Issues.CreateComment(e.ctx, "acme", "api", e.issueNumber(), &github.IssueComment{Body: github.String("first")})
		e.want("comment to edit", 201, resp, err)
		ed, resp, err := e.full.Issues.EditComment(e.ctx, "acme", "api", c.GetID(), &github.IssueComment{Body: github.String("/jitkey revoke")})
		e.want("edit a comment", 200, resp, err)
		assert.Equal(e.t, "/jitkey revoke", ed.GetBody())
		assert.False(e.t, ed.GetUpdatedAt().Before(c.GetCreatedAt().Time))
		_, resp, err = e.narrow.Issues.EditComment(e.ctx, "acme", "api", c.GetID(), &github.IssueComment{Body: github.String("x")})
		e.want("edit without permission", 403, resp, err)
		_, resp, err = e.full.Issues.EditComment(e.ctx, "acme", "api", 999999, &github.IssueComment{Body: github.String("x")})
		e.want("edit a missing comment", 404, resp, err)
	}
	probes["POST /repos/{owner}/{repo}/issues/{issue_number}/labels"] = func(e *env) {
		labels, resp, err := e.full.Issues.AddLabelsToIssue(e.ctx, "acme", "api", e.issueNumber(), []string{"security", "good first issue"})
		e.want("add labels", 200, resp, err)
		assert.GreaterOrEqual(e.t, len(labels), 2)
		path := fmt.Sprintf("repos/acme/api/issues/%d/labels", e.issueNumber())
		e.wantRaw(200, "POST", path, e.fullTok, map[string]any{"labels": []string{"triage"}})
		e.wantRaw(403, "POST", path, e.narrowTok, map[string]any{"labels": []string{"triage"}})
	}
	probes["POST /repos/{owner}/{repo}/issues/{issue_number}/assignees"] = func(e *env) {
		_, resp, err := e.full.Issues.AddAssignees(e.ctx, "acme", "api", e.issueNumber(), []string{"octocat"})
		e.want("assign", 201, resp, err)
	}
	probes["DELETE /repos/{owner}/{repo}/issues/{issue_number}/assignees"] = func(e *env) {
		_, resp, err := e.full.Issues.RemoveAssignees(e.ctx, "acme", "api", e.issueNumber(), []string{"octocat"})
		e.want("unassign", 200, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/labels"] = func(e *env) {
		e.issueNumber()
		list, resp, err := e.full.Issues.ListLabels(e.ctx, "acme", "api", &github.ListOptions{PerPage: 100})
		e.want("labels", 200, resp, err)
		assert.NotEmpty(e.t, list)
	}
	probes["POST /repos/{owner}/{repo}/labels"] = func(e *env) {
		l, resp, err := e.full.Issues.CreateLabel(e.ctx, "acme", "api", &github.Label{Name: github.String("jitkey: credential"), Color: github.String("d93f0b"), Description: github.String("found by jitkey review")})
		e.want("create label", 201, resp, err)
		assert.Equal(e.t, "d93f0b", l.GetColor())
		_, resp, err = e.full.Issues.CreateLabel(e.ctx, "acme", "api", &github.Label{Name: github.String("jitkey: credential"), Color: github.String("d93f0b")})
		e.want("create a duplicate label", 422, resp, err)
		e.wantRaw(422, "POST", "repos/acme/api/labels", e.fullTok, map[string]any{"name": "foo", "color": "invalid"})
	}
	probes["GET /repos/{owner}/{repo}/labels/{name}"] = func(e *env) {
		_, resp, err := e.full.Issues.CreateLabel(e.ctx, "acme", "api", &github.Label{Name: github.String("needs review"), Color: github.String("ededed")})
		e.want("create label with a space", 201, resp, err)
		_, resp, err = e.full.Issues.GetLabel(e.ctx, "acme", "api", "needs review")
		e.want("label", 200, resp, err)
		_, resp, err = e.full.Issues.GetLabel(e.ctx, "acme", "api", "nope")
		e.want("missing label", 404, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/assignees"] = func(e *env) {
		list, resp, err := e.full.Issues.ListAssignees(e.ctx, "acme", "api", nil)
		e.want("assignees", 200, resp, err)
		assert.NotEmpty(e.t, list)
	}
	probes["GET /repos/{owner}/{repo}/assignees/{assignee}"] = func(e *env) {
		ok, resp, err := e.full.Issues.IsAssignee(e.ctx, "acme", "api", "octocat")
		e.want("assignable", 204, resp, err)
		assert.True(e.t, ok)
		ok, resp, err = e.full.Issues.IsAssignee(e.ctx, "acme", "api", "nobody")
		e.want("not assignable", 404, resp, err)
		assert.False(e.t, ok)
	}
	probes["GET /search/issues"] = func(e *env) {
		e.issueNumber()
		res, resp, err := e.full.Search.Issues(e.ctx, `repo:acme/api is:issue label:jitkey in:title "deploy key"`, nil)
		e.want("search issues", 200, resp, err)
		assert.NotZero(e.t, res.GetTotal())
	}
}

func url(s string) string { return strings.ReplaceAll(s, "+", "%2B") }

// jwtOf returns an App JWT as ghinstallation makes it.
func jwtOf(e *env) string {
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, e.app.ID, e.app.PrivateKeyPEM)
	require.NoError(e.t, err)
	var tok string
	atr.BaseURL = strings.TrimSuffix(e.api, "/")
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
	})
	atr2, err := ghinstallation.NewAppsTransport(rt, e.app.ID, e.app.PrivateKeyPEM)
	require.NoError(e.t, err)
	req, _ := http.NewRequest("GET", e.api+"app", nil)
	resp, err := atr2.RoundTrip(req)
	require.NoError(e.t, err)
	resp.Body.Close()
	return tok
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func init() {
	// Secret routes, the same for each kind, at repository and organisation level.
	for _, kind := range []string{"actions", "dependabot", "codespaces"} {
		repo, org := secretPaths(kind)
		probes["GET /repos/{owner}/{repo}/"+kind+"/secrets"] = func(e *env) {
			b := e.wantRaw(200, "GET", repo+"?per_page=100", e.fullTok, nil)
			assert.Contains(e.t, string(b), `"TOKEN"`)
			e.wantRaw(403, "GET", repo, e.narrowTok, nil)
			e.wantRaw(404, "GET", "repos/acme/nowhere/"+kind+"/secrets", e.fullTok, nil)
			e.conditional(repo, e.fullTok)
		}
		probes["GET /repos/{owner}/{repo}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRaw(200, "GET", repo+"/TOKEN", e.fullTok, nil)
			e.wantRaw(404, "GET", repo+"/NOPE", e.fullTok, nil)
		}
		probes["DELETE /repos/{owner}/{repo}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRaw(403, "DELETE", repo+"/DOOMED", e.narrowTok, nil)
			e.wantRaw(204, "DELETE", repo+"/DOOMED", e.fullTok, nil)
			e.wantRaw(404, "DELETE", repo+"/DOOMED", e.fullTok, nil)
		}
		probes["GET /orgs/{org}/"+kind+"/secrets"] = func(e *env) {
			b := e.wantRaw(200, "GET", org+"?per_page=100", e.fullTok, nil)
			assert.Contains(e.t, string(b), `"visibility":"selected"`)
			e.wantRaw(403, "GET", org, e.narrowTok, nil)
			e.conditional(org, e.fullTok)
		}
		probes["GET /orgs/{org}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRaw(200, "GET", org+"/TOKEN", e.fullTok, nil)
			e.wantRaw(200, "GET", org+"/SHARED", e.fullTok, nil)
			e.wantRaw(404, "GET", org+"/NOPE", e.fullTok, nil)
		}
		probes["DELETE /orgs/{org}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRaw(403, "DELETE", org+"/DOOMED", e.narrowTok, nil)
			e.wantRaw(204, "DELETE", org+"/DOOMED", e.fullTok, nil)
			e.wantRaw(404, "DELETE", org+"/DOOMED", e.fullTok, nil)
		}
		probes["GET /orgs/{org}/"+kind+"/secrets/{secret_name}/repositories"] = func(e *env) {
			b := e.wantRaw(200, "GET", org+"/TOKEN/repositories?per_page=100", e.fullTok, nil)
			assert.Contains(e.t, string(b), `"total_count":2`)
			e.wantRaw(404, "GET", org+"/NOPE/repositories", e.fullTok, nil)
			// Visibility all: GitHub's description documents 200 only (no
			// repository is selected), not a conflict.
			b = e.wantRaw(200, "GET", org+"/SHARED/repositories", e.fullTok, nil)
			assert.Contains(e.t, string(b), `"total_count":0`)
		}
	}
	// go-github's Actions calls, decoded into its types.
	inner := probes["GET /repos/{owner}/{repo}/actions/secrets"]
	probes["GET /repos/{owner}/{repo}/actions/secrets"] = func(e *env) {
		inner(e)
		list, resp, err := e.full.Actions.ListRepoSecrets(e.ctx, "acme", "api", nil)
		e.want("go-github repo secrets", 200, resp, err)
		assert.NotZero(e.t, list.TotalCount)
		orgList, resp, err := e.full.Actions.ListOrgSecrets(e.ctx, "acme", nil)
		e.want("go-github org secrets", 200, resp, err)
		require.NotEmpty(e.t, orgList.Secrets)
		assert.NotEmpty(e.t, orgList.Secrets[0].Visibility)
	}
}
