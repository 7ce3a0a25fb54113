package ghsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// archivedWrites are the bodies of the repository writes the simulator
// serves. TestArchivedRepositoryRefusesEveryWrite fails for a write route
// missing here, so that a new one is held to the same rule.
var archivedWrites = map[string]string{
	"POST /repos/{owner}/{repo}/issues":                                                          `{"title":"leak"}`,
	"PATCH /repos/{owner}/{repo}/issues/{issue_number}":                                          `{"state":"closed"}`,
	"POST /repos/{owner}/{repo}/issues/{issue_number}/comments":                                  `{"body":"hello"}`,
	"PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}":                                   `{"body":"edited"}`,
	"POST /repos/{owner}/{repo}/issues/{issue_number}/labels":                                    `{"labels":["bug"]}`,
	"POST /repos/{owner}/{repo}/issues/{issue_number}/assignees":                                 `{"assignees":["octocat"]}`,
	"DELETE /repos/{owner}/{repo}/issues/{issue_number}/assignees":                               `{"assignees":["octocat"]}`,
	"POST /repos/{owner}/{repo}/labels":                                                          `{"name":"new","color":"d93f0b"}`,
	"PATCH /repos/{owner}/{repo}/labels/{name}":                                                  `{"color":"000000"}`,
	"DELETE /repos/{owner}/{repo}/labels/{name}":                                                 ``,
	"DELETE /repos/{owner}/{repo}/keys/{key_id}":                                                 ``,
	"DELETE /repos/{owner}/{repo}/actions/secrets/{secret_name}":                                 ``,
	"DELETE /repos/{owner}/{repo}/dependabot/secrets/{secret_name}":                              ``,
	"DELETE /repos/{owner}/{repo}/codespaces/secrets/{secret_name}":                              ``,
	"DELETE /repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}":         ``,
	"DELETE /repositories/{repository_id}/environments/{environment_name}/secrets/{secret_name}": ``,
	"PATCH /repos/{owner}/{repo}/hooks/{hook_id}":                                                `{"active":false}`,
	"DELETE /repos/{owner}/{repo}/hooks/{hook_id}":                                               ``,
}

// archivedWorld is a simulator with acme/web holding one of everything a
// repository write can touch, an App installed with write on all of it, and
// the path parameters that name each thing.
type archivedWorld struct {
	sim    *Sim
	token  string
	params map[string]string
}

func newArchivedWorld(t *testing.T) *archivedWorld {
	t.Helper()
	sim := New(Options{Clock: NewClock(time.Now())})
	_, err := sim.Start()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	app := sim.AddApp(AppSpec{Slug: "jitkey"})
	web := sim.AddRepo(RepoSpec{Owner: "acme", Name: "web"})
	inst := sim.Install(app.ID, "acme", InstallSpec{Permissions: map[string]string{
		"issues": "write", "administration": "write", "secrets": "write", "dependabot_secrets": "write",
		"codespaces_secrets": "write", "repository_hooks": "write", "contents": "write"}})
	sim.AddCollaborator("acme", "web", "octocat", "write")
	issue := sim.AddIssue("acme", "web", IssueSpec{Title: "t", Labels: []string{"bug"}, Assignees: []string{"octocat"}})
	comment := sim.AddComment("acme", "web", issue, "octocat", "first")
	key := sim.AddDeployKey(DeployKeySpec{Owner: "acme", Repo: "web", Title: "deploy"})
	for _, kind := range []SecretKind{SecretActions, SecretDependabot, SecretCodespaces} {
		sim.AddSecret(SecretSpec{Kind: kind, Owner: "acme", Repo: "web", Name: "TOKEN"})
	}
	sim.AddSecret(SecretSpec{Scope: ScopeEnvironment, Owner: "acme", Repo: "web", Environment: "prod", Name: "TOKEN"})
	hook := sim.AddWebhook(WebhookSpec{Owner: "acme", Repo: "web", URL: "https://hooks.example.com/"})
	f := &fixture{sim: sim, app: app, inst: inst}
	return &archivedWorld{sim: sim, token: f.mint(t, nil), params: map[string]string{
		"owner": "acme", "repo": "web", "repository_id": strconv.FormatInt(web.ID, 10),
		"issue_number": strconv.Itoa(issue), "comment_id": strconv.FormatInt(comment, 10), "name": "bug",
		"key_id": strconv.FormatInt(key, 10), "secret_name": "TOKEN", "environment_name": "prod",
		"hook_id": strconv.FormatInt(hook, 10)}}
}

// do sends route (METHOD /template) with its parameters filled in and
// returns the status and GitHub's error message, if any.
func (w *archivedWorld) do(t *testing.T, route, body string) (int, string) {
	t.Helper()
	method, tmpl, _ := strings.Cut(route, " ")
	path := tmpl
	for k, v := range w.params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	require.NotContains(t, path, "{", "a path parameter of %s has no value", route)
	req, err := http.NewRequestWithContext(context.Background(), method, w.sim.URL()+path, bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var msg struct{ Message string }
	_ = json.Unmarshal(data, &msg)
	return resp.StatusCode, msg.Message
}

// TestArchivedRepositoryRefusesEveryWrite: GitHub keeps an archived
// repository read-only and answers every write there 403 "Repository was
// archived so is read-only.", whatever the token may do; the same write
// succeeds once the repository is unarchived, and reads keep working.
// Every write route the simulator serves on a repository is tried.
func TestArchivedRepositoryRefusesEveryWrite(t *testing.T) {
	t.Parallel()
	var writes []string
	for _, route := range New(Options{}).Routes() {
		method, tmpl, _ := strings.Cut(route, " ")
		repoScoped := strings.HasPrefix(tmpl, "/repos/{owner}/{repo}") || strings.HasPrefix(tmpl, "/repositories/{repository_id}")
		if method != http.MethodGet && repoScoped {
			writes = append(writes, route)
		}
	}
	require.NotEmpty(t, writes)
	for _, route := range writes {
		body, ok := archivedWrites[route]
		if !assert.True(t, ok, "the write route %s is not in archivedWrites: add it", route) {
			continue
		}
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			w := newArchivedWorld(t)
			w.sim.SetArchived("acme", "web", true)
			status, msg := w.do(t, route, body)
			assert.Equal(t, http.StatusForbidden, status)
			assert.Equal(t, "Repository was archived so is read-only.", msg)
			status, _ = w.do(t, "GET /repos/{owner}/{repo}/issues/{issue_number}", "")
			assert.Equal(t, http.StatusOK, status, "reads are served in an archived repository")

			w.sim.SetArchived("acme", "web", false)
			status, msg = w.do(t, route, body)
			assert.Less(t, status, 300, "unarchived, the same write succeeds: %s", msg)
		})
	}
}
