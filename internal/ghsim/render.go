package ghsim

import (
	"strconv"
	"strings"
	"time"
)

// obj is a JSON object under construction.
type obj = map[string]any

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func nodeID(kind string, id int64) string { return kind + "_kgDO" + strconv.FormatInt(id, 36) }

// userJSON renders a simple-user for a login (an organisation or a user).
func (c *call) userJSON(login string, id int64, typ string) obj {
	u := c.apiURL("/users/" + login)
	return obj{
		"login": login, "id": id, "node_id": nodeID("U", id), "type": typ, "site_admin": false,
		"avatar_url": c.webURL("/avatars/" + login), "gravatar_id": "", "url": u, "html_url": c.webURL("/" + login),
		"followers_url": u + "/followers", "following_url": u + "/following{/other_user}",
		"gists_url": u + "/gists{/gist_id}", "starred_url": u + "/starred{/owner}{/repo}",
		"subscriptions_url": u + "/subscriptions", "organizations_url": u + "/orgs", "repos_url": u + "/repos",
		"events_url": u + "/events{/privacy}", "received_events_url": u + "/received_events",
	}
}

func (c *call) accountJSON(a *account) obj { return c.userJSON(a.Login, a.ID, a.Type) }

// loginJSON renders a user known only by login, with a stable ID. Callers hold s.mu.
func (c *call) loginJSON(login string) obj {
	if a := c.s.accounts[lower(login)]; a != nil {
		return c.accountJSON(a)
	}
	var h int64 = 7
	for _, b := range []byte(login) {
		h = h*31 + int64(b)
	}
	if h < 0 {
		h = -h
	}
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return c.userJSON(login, 1_000_000+h%1_000_000_000, typ)
}

// repoJSON renders a full repository. Callers hold s.mu.
func (c *call) repoJSON(r *repo) obj {
	u := c.apiURL("/repos/" + r.FullName())
	o := obj{
		"id": r.ID, "node_id": nodeID("R", r.ID), "name": r.Name, "full_name": r.FullName(),
		"owner": c.accountJSON(r.Owner), "private": r.Private, "html_url": c.webURL("/" + r.FullName()),
		"description": nullable(r.Description), "fork": r.Fork, "url": u,
		"clone_url": c.webURL("/" + r.FullName() + ".git"), "git_url": "git://" + c.r.Host + "/" + r.FullName() + ".git",
		"ssh_url": "git@" + c.r.Host + ":" + r.FullName() + ".git", "svn_url": c.webURL("/" + r.FullName()),
		"mirror_url": nil, "homepage": nil, "language": nil, "license": nil,
		"forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "size": 0,
		"open_issues": r.openIssues(), "open_issues_count": r.openIssues(), "network_count": 0, "subscribers_count": 0,
		"default_branch": r.DefaultBranch, "is_template": false, "topics": []string{},
		"has_issues": true, "has_projects": true, "has_wiki": true, "has_pages": false, "has_downloads": true,
		"has_discussions": false, "archived": r.Archived, "disabled": false, "visibility": r.Visibility,
		"pushed_at": ts(r.PushedAt), "created_at": ts(r.CreatedAt), "updated_at": ts(r.PushedAt),
		"allow_forking": true, "web_commit_signoff_required": false,
		"permissions": obj{"admin": false, "maintain": false, "push": false, "triage": false, "pull": true},
	}
	for k, suffix := range repoURLTemplates {
		o[k] = u + suffix
	}
	if r.Owner.Type == "Organization" {
		o["organization"] = c.accountJSON(r.Owner)
	}
	return o
}

var repoURLTemplates = map[string]string{
	"archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
	"branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
	"comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
	"contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
	"downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
	"git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
	"hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
	"issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
	"languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
	"notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
	"releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
	"subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
	"teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r *repo) openIssues() int {
	n := 0
	for _, is := range r.Issues {
		if is.State == "open" {
			n++
		}
	}
	return n
}

// installationJSON renders an installation. Callers hold s.mu.
func (c *call) installationJSON(in *installation) obj {
	id := strconv.FormatInt(in.ID, 10)
	target := "Organization"
	if in.Account.Type == "User" {
		target = "User"
	}
	perms := obj{}
	for k, v := range in.Permissions {
		perms[k] = v
	}
	return obj{
		"id": in.ID, "account": c.accountJSON(in.Account), "repository_selection": in.Selection,
		"access_tokens_url": c.apiURL("/app/installations/" + id + "/access_tokens"),
		"repositories_url":  c.apiURL("/installation/repositories"),
		"html_url":          c.webURL("/organizations/" + in.Account.Login + "/settings/installations/" + id),
		"app_id":            in.App.ID, "app_slug": in.App.Slug, "client_id": in.App.ClientID,
		"target_id": in.Account.ID, "target_type": target, "permissions": perms, "events": in.Events,
		"created_at": ts(in.CreatedAt), "updated_at": ts(in.UpdatedAt), "single_file_name": nil,
		"has_multiple_single_files": false, "single_file_paths": []string{},
		"suspended_by": nil, "suspended_at": tsPtr(in.SuspendedAt),
	}
}
