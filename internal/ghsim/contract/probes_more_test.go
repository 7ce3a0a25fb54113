package contract_test

import (
	"fmt"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
)

// Probes for described operations jitkey does not call today but the
// simulator may serve: they are ready for when it does (the contract test
// fails on a served route without a probe).

// wantRawOneOf checks that a raw request answered one of statuses.
func (e *env) wantRawOneOf(statuses []int, method, path, token string, body any) []byte {
	e.t.Helper()
	got, _, b := e.raw(method, path, token, body)
	assert.Contains(e.t, statuses, got, "%s %s: %s", method, path, b)
	return b
}

var created = []int{201, 204}

func init() {
	for _, kind := range []string{"actions", "dependabot", "codespaces"} {
		repo, org := secretPaths(kind)
		probes["GET /repos/{owner}/{repo}/"+kind+"/secrets/public-key"] = func(e *env) {
			b := e.wantRaw(200, "GET", repo+"/public-key", e.fullTok, nil)
			assert.Contains(e.t, string(b), `"key_id"`)
			e.wantRaw(403, "GET", repo+"/public-key", e.narrowTok, nil)
		}
		probes["GET /orgs/{org}/"+kind+"/secrets/public-key"] = func(e *env) {
			e.wantRaw(200, "GET", org+"/public-key", e.fullTok, nil)
			e.wantRaw(403, "GET", org+"/public-key", e.narrowTok, nil)
		}
		probes["PUT /repos/{owner}/{repo}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRawOneOf(created, "PUT", repo+"/NEW", e.fullTok, map[string]any{"encrypted_value": "c2VjcmV0", "key_id": "1"})
			e.wantRaw(403, "PUT", repo+"/NEW", e.narrowTok, map[string]any{"encrypted_value": "c2VjcmV0", "key_id": "1"})
		}
		probes["PUT /orgs/{org}/"+kind+"/secrets/{secret_name}"] = func(e *env) {
			e.wantRawOneOf(created, "PUT", org+"/NEW", e.fullTok, map[string]any{"encrypted_value": "c2VjcmV0", "key_id": "1", "visibility": "private"})
			e.wantRaw(403, "PUT", org+"/NEW", e.narrowTok, map[string]any{"encrypted_value": "c2VjcmV0", "key_id": "1", "visibility": "private"})
		}
		probes["PUT /orgs/{org}/"+kind+"/secrets/{secret_name}/repositories"] = func(e *env) {
			e.wantRaw(204, "PUT", org+"/TOKEN/repositories", e.fullTok, map[string]any{"selected_repository_ids": []int64{e.repo.ID}})
			e.wantRaw(404, "PUT", org+"/NOPE/repositories", e.fullTok, map[string]any{"selected_repository_ids": []int64{e.repo.ID}})
		}
		probes["PUT /orgs/{org}/"+kind+"/secrets/{secret_name}/repositories/{repository_id}"] = func(e *env) {
			e.wantRaw(204, "PUT", fmt.Sprintf("%s/TOKEN/repositories/%d", org, e.repo.ID), e.fullTok, nil)
			e.wantRaw(409, "PUT", fmt.Sprintf("%s/SHARED/repositories/%d", org, e.repo.ID), e.fullTok, nil)
		}
		probes["DELETE /orgs/{org}/"+kind+"/secrets/{secret_name}/repositories/{repository_id}"] = func(e *env) {
			e.wantRaw(204, "DELETE", fmt.Sprintf("%s/TOKEN/repositories/%d", org, e.repo.ID), e.fullTok, nil)
			e.wantRaw(409, "DELETE", fmt.Sprintf("%s/SHARED/repositories/%d", org, e.repo.ID), e.fullTok, nil)
		}
	}
	envSecrets := "repos/acme/api/environments/prod/secrets"
	probes["GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key"] = func(e *env) {
		e.wantRaw(200, "GET", envSecrets+"/public-key", e.fullTok, nil)
	}
	probes["PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}"] = func(e *env) {
		e.wantRawOneOf(created, "PUT", envSecrets+"/NEW", e.fullTok, map[string]any{"encrypted_value": "c2VjcmV0", "key_id": "1"})
	}
	probes["GET /repositories/{repository_id}/environments/{environment_name}/secrets/public-key"] = func(e *env) {
		_, resp, err := e.full.Actions.GetEnvPublicKey(e.ctx, int(e.repo.ID), "prod")
		e.want("environment public key by repository ID", 200, resp, err)
	}
	probes["PUT /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}"] = func(e *env) {
		resp, err := e.full.Actions.CreateOrUpdateEnvSecret(e.ctx, int(e.repo.ID), "prod", &github.EncryptedSecret{Name: "NEW2", KeyID: "1", EncryptedValue: "c2VjcmV0"})
		e.wantOneOf("environment secret by repository ID", resp, err, created...)
	}
	probes["PUT /repos/{owner}/{repo}/environments/{environment_name}"] = func(e *env) {
		_, resp, err := e.full.Repositories.CreateUpdateEnvironment(e.ctx, "acme", "api", "review", &github.CreateUpdateEnvironment{})
		e.want("create environment", 200, resp, err)
	}
	probes["DELETE /repos/{owner}/{repo}/environments/{environment_name}"] = func(e *env) {
		resp, err := e.full.Repositories.DeleteEnvironment(e.ctx, "acme", "api", "staging")
		e.want("delete environment", 204, resp, err)
	}
	probes["POST /repos/{owner}/{repo}/keys"] = func(e *env) {
		k, resp, err := e.full.Repositories.CreateKey(e.ctx, "acme", "api", &github.Key{Title: github.String("new"), Key: github.String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJitkeyTestKeyForTheContractTest0000000"), ReadOnly: github.Bool(true)})
		e.want("create deploy key", 201, resp, err)
		assert.NotZero(e.t, k.GetID())
		_, resp, err = e.full.Repositories.CreateKey(e.ctx, "acme", "api", &github.Key{Title: github.String("bad"), Key: github.String("not a key")})
		e.want("create invalid deploy key", 422, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/hooks/{hook_id}/config"] = func(e *env) {
		_, resp, err := e.full.Repositories.GetHookConfiguration(e.ctx, "acme", "api", e.hookID)
		e.want("repo hook config", 200, resp, err)
	}
	probes["PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config"] = func(e *env) {
		_, resp, err := e.full.Repositories.EditHookConfiguration(e.ctx, "acme", "api", e.hookID, &github.HookConfig{InsecureSSL: github.String("0")})
		e.want("edit repo hook config", 200, resp, err)
	}
	probes["GET /orgs/{org}/hooks/{hook_id}/config"] = func(e *env) {
		_, resp, err := e.full.Organizations.GetHookConfiguration(e.ctx, "acme", e.orgHookID)
		e.want("org hook config", 200, resp, err)
	}
	probes["PATCH /orgs/{org}/hooks/{hook_id}/config"] = func(e *env) {
		_, resp, err := e.full.Organizations.EditHookConfiguration(e.ctx, "acme", e.orgHookID, &github.HookConfig{InsecureSSL: github.String("0")})
		e.want("edit org hook config", 200, resp, err)
	}
	probes["POST /repos/{owner}/{repo}/hooks"] = func(e *env) {
		_, resp, err := e.full.Repositories.CreateHook(e.ctx, "acme", "api", &github.Hook{Config: &github.HookConfig{URL: github.String("https://new.example.com/hook"), ContentType: github.String("json")}, Events: []string{"push"}})
		e.want("create repo hook", 201, resp, err)
	}
	probes["POST /orgs/{org}/hooks"] = func(e *env) {
		_, resp, err := e.full.Organizations.CreateHook(e.ctx, "acme", &github.Hook{Name: github.String("web"), Config: &github.HookConfig{URL: github.String("https://new.example.com/org"), ContentType: github.String("json")}, Events: []string{"push"}})
		e.want("create org hook", 201, resp, err)
	}
	probes["GET /orgs/{org}/personal-access-tokens/{pat_id}/repositories"] = func(e *env) {
		e.wantRaw(200, "GET", fmt.Sprintf("orgs/acme/personal-access-tokens/%d/repositories", e.patID), e.fullTok, nil)
		e.wantRaw(404, "GET", "orgs/acme/personal-access-tokens/999999/repositories", e.fullTok, nil)
	}
	probes["GET /repos/{owner}/{repo}/collaborators"] = func(e *env) {
		list, resp, err := e.full.Repositories.ListCollaborators(e.ctx, "acme", "api", nil)
		e.want("collaborators", 200, resp, err)
		assert.NotEmpty(e.t, list)
	}
	probes["GET /repos/{owner}/{repo}/collaborators/{username}"] = func(e *env) {
		ok, resp, err := e.full.Repositories.IsCollaborator(e.ctx, "acme", "api", "octocat")
		e.want("is collaborator", 204, resp, err)
		assert.True(e.t, ok)
		ok, resp, err = e.full.Repositories.IsCollaborator(e.ctx, "acme", "api", "nobody")
		e.want("is not collaborator", 404, resp, err)
		assert.False(e.t, ok)
	}
	probes["PUT /repos/{owner}/{repo}/contents/{path}"] = func(e *env) {
		_, resp, err := e.full.Repositories.CreateFile(e.ctx, "acme", "api", "docs/new.md", &github.RepositoryContentFileOptions{Message: github.String("add"), Content: []byte("hi\n")})
		e.want("create file", 201, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/issues/comments"] = func(e *env) {
		_, resp, err := e.full.Issues.CreateComment(e.ctx, "acme", "api", e.issueNumber(), &github.IssueComment{Body: github.String("repo-wide")})
		e.want("comment for repo listing", 201, resp, err)
		list, resp, err := e.full.Issues.ListComments(e.ctx, "acme", "api", 0, nil)
		e.want("repo comments", 200, resp, err)
		assert.NotEmpty(e.t, list)
	}
	commentID := func(e *env) int64 {
		c, resp, err := e.full.Issues.CreateComment(e.ctx, "acme", "api", e.issueNumber(), &github.IssueComment{Body: github.String("to edit")})
		e.want("comment to edit", 201, resp, err)
		return c.GetID()
	}
	probes["GET /repos/{owner}/{repo}/issues/comments/{comment_id}"] = func(e *env) {
		_, resp, err := e.full.Issues.GetComment(e.ctx, "acme", "api", commentID(e))
		e.want("comment", 200, resp, err)
		_, resp, err = e.full.Issues.GetComment(e.ctx, "acme", "api", 999999)
		e.want("missing comment", 404, resp, err)
	}
	probes["PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"] = func(e *env) {
		_, resp, err := e.full.Issues.EditComment(e.ctx, "acme", "api", commentID(e), &github.IssueComment{Body: github.String("edited")})
		e.want("edit comment", 200, resp, err)
	}
	probes["DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}"] = func(e *env) {
		resp, err := e.full.Issues.DeleteComment(e.ctx, "acme", "api", commentID(e))
		e.want("delete comment", 204, resp, err)
	}
	probes["GET /repos/{owner}/{repo}/issues/{issue_number}/labels"] = func(e *env) {
		_, resp, err := e.full.Issues.ListLabelsByIssue(e.ctx, "acme", "api", e.issueNumber(), nil)
		e.want("issue labels", 200, resp, err)
	}
	probes["PUT /repos/{owner}/{repo}/issues/{issue_number}/labels"] = func(e *env) {
		_, resp, err := e.full.Issues.ReplaceLabelsForIssue(e.ctx, "acme", "api", e.issueNumber(), []string{"jitkey", "security"})
		e.want("replace issue labels", 200, resp, err)
	}
	probes["DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"] = func(e *env) {
		resp, err := e.full.Issues.RemoveLabelForIssue(e.ctx, "acme", "api", e.issueNumber(), "security")
		e.wantOneOf("remove issue label", resp, err, 200, 404)
	}
	probes["DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels"] = func(e *env) {
		n, resp, err := e.full.Issues.Create(e.ctx, "acme", "api", &github.IssueRequest{Title: github.String("labels to clear"), Labels: &[]string{"jitkey"}})
		e.want("issue to clear", 201, resp, err)
		resp, err = e.full.Issues.RemoveLabelsForIssue(e.ctx, "acme", "api", n.GetNumber())
		e.want("clear issue labels", 204, resp, err)
	}
	probes["PUT /repos/{owner}/{repo}/issues/{issue_number}/lock"] = func(e *env) {
		resp, err := e.full.Issues.Lock(e.ctx, "acme", "api", e.issueNumber(), &github.LockIssueOptions{LockReason: "resolved"})
		e.want("lock", 204, resp, err)
	}
	probes["DELETE /repos/{owner}/{repo}/issues/{issue_number}/lock"] = func(e *env) {
		resp, err := e.full.Issues.Unlock(e.ctx, "acme", "api", e.issueNumber())
		e.want("unlock", 204, resp, err)
	}
	probes["PATCH /repos/{owner}/{repo}/labels/{name}"] = func(e *env) {
		_, resp, err := e.full.Issues.CreateLabel(e.ctx, "acme", "api", &github.Label{Name: github.String("to-rename"), Color: github.String("ededed")})
		e.want("label to rename", 201, resp, err)
		_, resp, err = e.full.Issues.EditLabel(e.ctx, "acme", "api", "to-rename", &github.Label{Name: github.String("renamed"), Color: github.String("BADA55")})
		e.want("rename label", 200, resp, err)
		_, resp, err = e.full.Issues.EditLabel(e.ctx, "acme", "api", "nope", &github.Label{Color: github.String("BADA55")})
		e.want("rename missing label", 404, resp, err)
		e.wantRaw(200, "PATCH", "repos/acme/api/labels/renamed", e.fullTok, map[string]any{"new_name": "renamed again", "description": "by new_name"})
		e.wantRaw(422, "PATCH", "repos/acme/api/labels/renamed%20again", e.fullTok, map[string]any{"color": "invalid"})
		e.wantRaw(403, "PATCH", "repos/acme/api/labels/renamed%20again", e.narrowTok, map[string]any{"color": "ffffff"})
	}
	probes["DELETE /repos/{owner}/{repo}/labels/{name}"] = func(e *env) {
		_, resp, err := e.full.Issues.CreateLabel(e.ctx, "acme", "api", &github.Label{Name: github.String("to-delete"), Color: github.String("ededed")})
		e.want("label to delete", 201, resp, err)
		resp, err = e.full.Issues.DeleteLabel(e.ctx, "acme", "api", "to-delete")
		e.want("delete label", 204, resp, err)
		resp, err = e.full.Issues.DeleteLabel(e.ctx, "acme", "api", "to-delete")
		e.want("delete label again", 404, resp, err)
		e.wantRaw(403, "DELETE", "repos/acme/api/labels/jitkey", e.narrowTok, nil)
	}
}
