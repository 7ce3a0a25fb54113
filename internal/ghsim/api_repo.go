package ghsim

import (
	"crypto/sha1" //nolint:gosec // git object IDs are SHA-1 by definition, not a security use
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) repoRoutes() {
	s.handle("GET", "/repos/{owner}/{repo}", s.getRepo)
	s.handle("GET", "/repos/{owner}/{repo}/contents/{path}", s.getContents)
	s.handle("GET", "/orgs/{org}/repos", s.listOrgRepos)
	s.handle("GET", "/rate_limit", s.getRateLimit)
	s.handle("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", s.getCollaboratorPermission)
}

func (s *Sim) getRepo(c *call) {
	r, ok := c.repoFor("metadata", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := c.repoJSON(r)
	for k, v := range mergeSettings {
		o[k] = v
	}
	c.json(http.StatusOK, o)
}

// mergeSettings are the pull-request merge settings GET /repos/{owner}/{repo}
// returns (the full repository; lists of repositories leave them out), at
// the values GitHub gives a new repository and @octokit/fixtures recorded.
var mergeSettings = obj{
	"allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
	"allow_auto_merge": false, "allow_update_branch": false, "delete_branch_on_merge": false,
	"use_squash_pr_title_as_default": false, "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
	"squash_merge_commit_message": "COMMIT_MESSAGES", "merge_commit_title": "MERGE_MESSAGE",
	"merge_commit_message": "PR_TITLE",
}

func gitBlobSHA(b []byte) string {
	h := sha1.New() //nolint:gosec // git blob ID
	h.Write([]byte("blob " + strconv.Itoa(len(b)) + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// base64Lines encodes like GitHub: 60-character lines, each ending in "\n".
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60])
		sb.WriteByte('\n')
		enc = enc[60:]
	}
	sb.WriteString(enc)
	sb.WriteByte('\n')
	return sb.String()
}

func (s *Sim) getContents(c *call) {
	r, ok := c.repoFor("contents", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = r.DefaultBranch
	}
	asked := ref
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/")
	files := r.Files[ref]
	if files == nil {
		c.error(http.StatusNotFound, "No commit found for the ref "+asked)
		return
	}
	path := strings.Trim(c.path("path"), "/")
	if data, ok := files[path]; ok {
		e := c.contentEntry(r, ref, path, "file", data)
		e["content"], e["encoding"] = base64Lines(data), "base64"
		c.json(http.StatusOK, e)
		return
	}
	if dir := c.dirEntries(r, ref, files, path); len(dir) > 0 {
		c.json(http.StatusOK, dir)
		return
	}
	c.notFound()
}

func (c *call) contentEntry(r *repo, ref, path, typ string, data []byte) obj {
	self := c.apiURL("/repos/" + r.FullName() + "/contents/" + path + "?ref=" + ref)
	sha := gitBlobSHA(data)
	if typ == "dir" {
		sha = gitBlobSHA([]byte("tree " + path))
	}
	git := c.apiURL("/repos/" + r.FullName() + "/git/blobs/" + sha)
	html := c.webURL("/" + r.FullName() + "/blob/" + ref + "/" + path)
	var download any
	if typ == "file" {
		download = c.webURL("/" + r.FullName() + "/raw/" + ref + "/" + path)
	}
	name := path[strings.LastIndex(path, "/")+1:]
	return obj{"type": typ, "name": name, "path": path, "sha": sha, "size": len(data), "url": self,
		"git_url": git, "html_url": html, "download_url": download,
		"_links": obj{"self": self, "git": git, "html": html}}
}

func (c *call) dirEntries(r *repo, ref string, files map[string][]byte, dir string) []obj {
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var out []obj
	for _, p := range sortedKeys(files) {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		rest := strings.TrimPrefix(p, prefix)
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			if sub := prefix + rest[:i]; !seen[sub] {
				seen[sub] = true
				out = append(out, c.contentEntry(r, ref, sub, "dir", nil))
			}
			continue
		}
		out = append(out, c.contentEntry(r, ref, p, "file", files[p]))
	}
	return out
}

func (s *Sim) listOrgRepos(c *call) {
	tok, ok := c.authToken()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[lower(c.path("org"))]
	if a == nil || a.Type != "Organization" {
		c.notFound()
		return
	}
	typ := c.r.URL.Query().Get("type")
	var repos []*repo
	for _, r := range a.Repos {
		if !tok.covers(r) && r.Private {
			continue
		}
		if (typ == "public" && r.Private) || (typ == "private" && !r.Private) || (typ == "forks" && !r.Fork) || (typ == "sources" && r.Fork) {
			continue
		}
		repos = append(repos, r)
	}
	sort.SliceStable(repos, func(i, j int) bool { return repos[i].CreatedAt.Before(repos[j].CreatedAt) })
	var out []obj
	for _, r := range pageOf(c, repos) {
		out = append(out, c.repoJSON(r))
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) getRateLimit(c *call) {
	if c.id.kind == idBad {
		c.error(http.StatusUnauthorized, "Bad credentials")
		return
	}
	bk := s.peek(c.id)
	core := obj{"limit": bk.limit, "used": bk.used, "remaining": max(bk.limit-bk.used, 0), "reset": bk.reset.Unix()}
	other := func(limit int) obj {
		return obj{"limit": limit, "used": 0, "remaining": limit, "reset": s.Now().Add(time.Minute).Unix()}
	}
	c.json(http.StatusOK, obj{"rate": core, "resources": obj{
		"core": core, "search": other(30), "graphql": other(5000), "integration_manifest": other(5000),
		"code_search": other(10)}})
}

var rolePermission = map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}

func (s *Sim) getCollaboratorPermission(c *call) {
	r, ok := c.repoFor("metadata", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	login := c.path("username")
	role := ""
	for l, rl := range r.Collaborators {
		if strings.EqualFold(l, login) {
			role = rl
		}
	}
	if role == "" {
		if a := s.accounts[lower(login)]; a == nil || a.Type != "User" {
			c.error(http.StatusNotFound, "Not Found")
			return
		}
		role = "none"
		if !r.Private {
			role = "read"
		}
	}
	perm := rolePermission[role]
	if perm == "" {
		perm = "none"
	}
	user := c.loginJSON(login)
	user["role_name"] = role
	c.json(http.StatusOK, obj{"permission": perm, "role_name": role, "user": user})
}
