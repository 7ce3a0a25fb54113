package main

// operations lists, as "METHOD /path" in the description's own templates,
// every GitHub REST operation jitkey calls or the simulator serves. The cut
// keeps exactly these and everything they reference.
var operations = []string{
	// GitHub App and its installations.
	"GET /app",
	"GET /apps/{app_slug}",
	"GET /app/installations",
	"GET /app/installations/{installation_id}",
	"DELETE /app/installations/{installation_id}",
	"POST /app/installations/{installation_id}/access_tokens",
	"GET /repos/{owner}/{repo}/installation",
	"GET /orgs/{org}/installation",
	"GET /users/{username}/installation",
	"DELETE /installation/token",
	"GET /installation/repositories",
	"GET /orgs/{org}/installations",

	// Users, organisations, repositories, contents.
	"GET /user",
	"GET /users/{username}",
	"GET /orgs/{org}",
	"GET /orgs/{org}/memberships/{username}",
	"GET /repos/{owner}/{repo}",
	"GET /orgs/{org}/repos",
	"GET /users/{username}/repos",
	"GET /repos/{owner}/{repo}/contents/{path}",
	"PUT /repos/{owner}/{repo}/contents/{path}",

	// Deploy keys.
	"GET /repos/{owner}/{repo}/keys",
	"POST /repos/{owner}/{repo}/keys",
	"GET /repos/{owner}/{repo}/keys/{key_id}",
	"DELETE /repos/{owner}/{repo}/keys/{key_id}",

	// Environments.
	"GET /repos/{owner}/{repo}/environments",
	"GET /repos/{owner}/{repo}/environments/{environment_name}",
	"PUT /repos/{owner}/{repo}/environments/{environment_name}",
	"DELETE /repos/{owner}/{repo}/environments/{environment_name}",

	// Environment secrets (Actions only).
	"GET /repos/{owner}/{repo}/environments/{environment_name}/secrets",
	"GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
	"GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
	"PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
	"DELETE /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",

	// Fine-grained personal access tokens granted to an organisation.
	"GET /orgs/{org}/personal-access-tokens",
	"POST /orgs/{org}/personal-access-tokens",
	"POST /orgs/{org}/personal-access-tokens/{pat_id}",
	"GET /orgs/{org}/personal-access-tokens/{pat_id}/repositories",

	// SAML SSO credential authorizations (GitHub Enterprise Cloud).
	"GET /orgs/{org}/credential-authorizations",
	"DELETE /orgs/{org}/credential-authorizations/{credential_id}",

	// Webhooks.
	"GET /repos/{owner}/{repo}/hooks",
	"POST /repos/{owner}/{repo}/hooks",
	"GET /repos/{owner}/{repo}/hooks/{hook_id}",
	"PATCH /repos/{owner}/{repo}/hooks/{hook_id}",
	"DELETE /repos/{owner}/{repo}/hooks/{hook_id}",
	"GET /repos/{owner}/{repo}/hooks/{hook_id}/config",
	"PATCH /repos/{owner}/{repo}/hooks/{hook_id}/config",
	"GET /orgs/{org}/hooks",
	"POST /orgs/{org}/hooks",
	"GET /orgs/{org}/hooks/{hook_id}",
	"PATCH /orgs/{org}/hooks/{hook_id}",
	"DELETE /orgs/{org}/hooks/{hook_id}",
	"GET /orgs/{org}/hooks/{hook_id}/config",
	"PATCH /orgs/{org}/hooks/{hook_id}/config",

	// Issues, comments, labels, assignees, search.
	"GET /repos/{owner}/{repo}/issues",
	"POST /repos/{owner}/{repo}/issues",
	"GET /repos/{owner}/{repo}/issues/{issue_number}",
	"PATCH /repos/{owner}/{repo}/issues/{issue_number}",
	"PUT /repos/{owner}/{repo}/issues/{issue_number}/lock",
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/lock",
	"GET /repos/{owner}/{repo}/issues/comments",
	"GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
	"PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
	"DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}",
	"GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
	"GET /repos/{owner}/{repo}/labels",
	"POST /repos/{owner}/{repo}/labels",
	"GET /repos/{owner}/{repo}/labels/{name}",
	"PATCH /repos/{owner}/{repo}/labels/{name}",
	"DELETE /repos/{owner}/{repo}/labels/{name}",
	"GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"PUT /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels",
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
	"GET /repos/{owner}/{repo}/assignees",
	"GET /repos/{owner}/{repo}/assignees/{assignee}",
	"POST /repos/{owner}/{repo}/issues/{issue_number}/assignees",
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/assignees",
	"GET /search/issues",

	// Collaborators.
	"GET /repos/{owner}/{repo}/collaborators",
	"GET /repos/{owner}/{repo}/collaborators/{username}",
	"GET /repos/{owner}/{repo}/collaborators/{username}/permission",

	// Rate limits.
	"GET /rate_limit",

	// Workflow runs and jobs (the broker's sweeper asks whether a job ended).
	"GET /repos/{owner}/{repo}/actions/runs/{run_id}",
	"GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}",
	"GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
	"GET /repos/{owner}/{repo}/actions/jobs/{job_id}",
}

// secretOperations are the secret routes, the same for each kind
// ("actions", "dependabot", "codespaces") at repository and organisation level.
var secretOperations = []string{
	"GET /repos/{owner}/{repo}/%s/secrets",
	"GET /repos/{owner}/{repo}/%s/secrets/public-key",
	"GET /repos/{owner}/{repo}/%s/secrets/{secret_name}",
	"PUT /repos/{owner}/{repo}/%s/secrets/{secret_name}",
	"DELETE /repos/{owner}/{repo}/%s/secrets/{secret_name}",
	"GET /orgs/{org}/%s/secrets",
	"GET /orgs/{org}/%s/secrets/public-key",
	"GET /orgs/{org}/%s/secrets/{secret_name}",
	"PUT /orgs/{org}/%s/secrets/{secret_name}",
	"DELETE /orgs/{org}/%s/secrets/{secret_name}",
	"GET /orgs/{org}/%s/secrets/{secret_name}/repositories",
	"PUT /orgs/{org}/%s/secrets/{secret_name}/repositories",
	"PUT /orgs/{org}/%s/secrets/{secret_name}/repositories/{repository_id}",
	"DELETE /orgs/{org}/%s/secrets/{secret_name}/repositories/{repository_id}",
}

var secretKinds = []string{"actions", "codespaces", "dependabot"}

// undocumented maps operations GitHub serves but no longer describes to the
// described operation they mirror. go-github v62 reaches environment secrets
// by repository ID (Actions.ListEnvSecrets, GetEnvSecret, DeleteEnvSecret,
// GetEnvPublicKey), so the simulator serves those paths too. The cut adds them
// as copies of their twin with {owner}/{repo} replaced by {repository_id},
// marked "x-jitkey-undocumented", so that their answers are held to the
// twin's schema instead of escaping the contract.
var undocumented = map[string]string{
	"GET /repositories/{repository_id}/environments/{environment_name}/secrets":                  "GET /repos/{owner}/{repo}/environments/{environment_name}/secrets",
	"GET /repositories/{repository_id}/environments/{environment_name}/secrets/public-key":       "GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key",
	"GET /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}":    "GET /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
	"PUT /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}":    "PUT /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
	"DELETE /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}": "DELETE /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}",
}
