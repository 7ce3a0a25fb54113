package issue_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// ids of the seeded credentials the tests act on.
type seeded struct {
	dormantKey, writeKey int64
	patNoExpiry          int64
}

// seed builds organisation acme with one credential per kind and finding,
// and one that is fine for each kind.
func seed(w *world) seeded {
	s := w.sim
	var ids seeded
	s.AddOrg("acme")
	s.AddUser("octocat")
	s.AddUser("mallory")
	for _, r := range []ghsim.RepoSpec{{Owner: "acme", Name: "api", Private: true}, {Owner: "acme", Name: "web"}, {Owner: "acme", Name: ".github"},
		{Owner: "acme", Name: "old", Archived: true}, {Owner: "acme", Name: "copy", Fork: true}} {
		s.AddRepo(r)
	}
	s.AddCollaborator("acme", "api", "octocat", "write")
	s.PutFile("acme", "api", "main", ".github/CODEOWNERS", []byte("* @octocat @acme/security\n"))
	// deploy keys
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "ci-read", ReadOnly: true, CreatedAt: ago(w, 300), LastUsed: agoPtr(w, 1)})
	ids.dormantKey = s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "old-deploy", ReadOnly: true, CreatedAt: ago(w, 300), LastUsed: agoPtr(w, 200), AddedBy: "octocat"})
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "web", Title: "never-used", ReadOnly: true, CreatedAt: ago(w, 100)})
	ids.writeKey = s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "web", Title: "pusher", CreatedAt: ago(w, 10), LastUsed: agoPtr(w, 1)})
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "old", Title: "archived-key", ReadOnly: true, CreatedAt: ago(w, 900)})
	s.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "copy", Title: "fork-key", ReadOnly: true, CreatedAt: ago(w, 900)})
	// secrets
	s.AddSecret(ghsim.SecretSpec{Owner: "acme", Repo: "api", Name: "FRESH", CreatedAt: ago(w, 500), UpdatedAt: ago(w, 10)})
	s.AddSecret(ghsim.SecretSpec{Owner: "acme", Repo: "api", Name: "OLD_TOKEN", CreatedAt: ago(w, 500), UpdatedAt: ago(w, 400)})
	s.AddSecret(ghsim.SecretSpec{Kind: ghsim.SecretDependabot, Owner: "acme", Repo: "api", Name: "NPM_TOKEN", CreatedAt: ago(w, 500), UpdatedAt: ago(w, 400)})
	s.AddSecret(ghsim.SecretSpec{Kind: ghsim.SecretCodespaces, Owner: "acme", Repo: "web", Name: "CS_TOKEN", CreatedAt: ago(w, 500), UpdatedAt: ago(w, 400)})
	s.AddEnvironment("acme", "api", "production")
	s.AddSecret(ghsim.SecretSpec{Scope: ghsim.ScopeEnvironment, Owner: "acme", Repo: "api", Environment: "production", Name: "DEPLOY_KEY", CreatedAt: ago(w, 500), UpdatedAt: ago(w, 400)})
	s.AddSecret(ghsim.SecretSpec{Scope: ghsim.ScopeOrg, Owner: "acme", Name: "ORG_ALL", Visibility: "all", CreatedAt: ago(w, 20), UpdatedAt: ago(w, 20)})
	s.AddSecret(ghsim.SecretSpec{Scope: ghsim.ScopeOrg, Owner: "acme", Name: "ORG_SELECTED", Visibility: "selected", SelectedRepos: []string{"api"}, CreatedAt: ago(w, 20), UpdatedAt: ago(w, 20)})
	s.AddSecret(ghsim.SecretSpec{Kind: ghsim.SecretDependabot, Scope: ghsim.ScopeOrg, Owner: "acme", Name: "ORG_DEP_OLD", Visibility: "private", CreatedAt: ago(w, 800), UpdatedAt: ago(w, 800)})
	// fine-grained PATs
	exp := agoPtr(w, -30)
	ids.patNoExpiry = s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "octocat", TokenName: "no-expiry", LastUsedAt: agoPtr(w, 1), AccessGrantedAt: ago(w, 50),
		Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
	s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "octocat", TokenName: "dormant", ExpiresAt: exp, LastUsedAt: agoPtr(w, 120), AccessGrantedAt: ago(w, 200),
		Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
	s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "mallory", TokenName: "admin", ExpiresAt: exp, LastUsedAt: agoPtr(w, 1), AccessGrantedAt: ago(w, 20),
		Permissions: ghsim.PATPermissions{Organization: map[string]string{"organization_administration": "write"}}})
	s.AddPAT(ghsim.PATSpec{Org: "acme", Owner: "octocat", TokenName: "fine", ExpiresAt: exp, LastUsedAt: agoPtr(w, 1), AccessGrantedAt: ago(w, 20),
		Permissions: ghsim.PATPermissions{Repository: map[string]string{"contents": "read"}}})
	// SSO authorizations
	s.AddSSOAuthorization(ghsim.SSOSpec{Org: "acme", Login: "octocat", AuthorizedAt: ago(w, 300), AccessedAt: agoPtr(w, 100)})
	s.AddSSOAuthorization(ghsim.SSOSpec{Org: "acme", Login: "octocat", AuthorizedAt: ago(w, 300), AccessedAt: agoPtr(w, 2)})
	// webhooks
	s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "api", URL: "https://hooks.example.com/services/T000/B000/XXXXSECRETPATH"})
	s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "web", URL: "https://ci.example.com/hook", Secret: true, InsecureSSL: true})
	s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", Repo: "web", URL: "https://ok.example.com/hook", Secret: true})
	s.AddWebhook(ghsim.WebhookSpec{Owner: "acme", URL: "https://org.example.com/hook"})
	// another App, on selected repositories within the allowed permissions
	other := s.AddApp(ghsim.AppSpec{Slug: "linter"})
	s.Install(other.ID, "acme", ghsim.InstallSpec{Permissions: map[string]string{"checks": "write"}, Repositories: []string{"web"}})
	w.install("acme") // the review App itself: on all repositories
	return ids
}

// want lists "issue repo | kind | type | credential name" of every expected finding.
var want = []string{
	"acme/.github|actions_secret|over_scoped|ORG_ALL",
	"acme/.github|app_installation|over_scoped|jitkey-review",
	"acme/.github|dependabot_secret|stale|ORG_DEP_OLD",
	"acme/.github|fine_grained_pat|dormant|dormant",
	"acme/.github|fine_grained_pat|over_scoped|admin",
	"acme/.github|fine_grained_pat|stale|no-expiry",
	"acme/.github|sso_authorization|dormant|personal access token",
	"acme/.github|webhook|insecure|https://org.example.com",
	"acme/api|actions_secret|stale|DEPLOY_KEY",
	"acme/api|actions_secret|stale|OLD_TOKEN",
	"acme/api|deploy_key|dormant|old-deploy",
	"acme/api|dependabot_secret|stale|NPM_TOKEN",
	"acme/api|webhook|insecure|https://hooks.example.com",
	"acme/web|codespaces_secret|stale|CS_TOKEN",
	"acme/web|deploy_key|dormant|never-used",
	"acme/web|deploy_key|over_scoped|pusher",
	"acme/web|webhook|insecure|https://ci.example.com",
}

func sortedWant() []string {
	out := append([]string(nil), want...)
	sort.Strings(out)
	return out
}

func summarize(fs []review.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s", f.IssueRepo, f.Kind, f.Type, f.Credential.Name))
	}
	sort.Strings(out)
	return out
}

func TestReviewEveryKindAndFinding(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	inv, rep, res := w.run(ctx, inventory.Options{Org: "acme"}, policy.Review{}, issue.Config{})

	assert.False(t, inv.Partial(), "gaps: %v", inv.Gaps())
	assert.Equal(t, sortedWant(), summarize(rep.Findings))
	for _, r := range inv.Repos {
		switch r.FullName {
		case "acme/old":
			assert.Equal(t, "archived", r.Skipped)
		case "acme/copy":
			assert.Equal(t, "fork", r.Skipped)
		default:
			assert.Empty(t, r.Skipped, r.FullName)
		}
	}
	assert.Equal(t, len(want), res.Created)
	total := 0
	for _, repo := range []string{"api", "web", ".github"} {
		iss := w.issues("acme", repo)
		total += len(iss)
		for _, is := range iss {
			assert.Equal(t, "open", is.State)
			assert.Contains(t, is.Labels, issue.Label)
			assert.Contains(t, is.Body, "### How to fix it")
			assert.Contains(t, is.Body, "review: exemptions:")
			assert.True(t, strings.HasPrefix(is.Title, "[jitkey] "), is.Title)
		}
	}
	assert.Equal(t, len(want), total, "one issue per finding")
	// CODEOWNERS gives the assignee in acme/api; the team is mentioned.
	for _, is := range w.issues("acme", "api") {
		assert.Equal(t, []string{"octocat"}, is.Assignees, is.Title)
		assert.Contains(t, is.Body, "@acme/security")
	}
	// the webhook URL's secret path never reaches an issue
	for _, repo := range []string{"api", "web", ".github"} {
		for _, is := range w.sim.Issues("acme", repo) {
			assert.NotContains(t, is.Body, "XXXXSECRETPATH")
		}
	}
}
