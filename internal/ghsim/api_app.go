package ghsim

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

func (s *Sim) appRoutes() {
	s.handle("GET", "/app", s.getApp)
	s.handle("GET", "/app/installations", s.listAppInstallations)
	s.handle("GET", "/app/installations/{installation_id}", s.getAppInstallation)
	s.handle("POST", "/app/installations/{installation_id}/access_tokens", s.createAccessToken)
	s.handle("GET", "/repos/{owner}/{repo}/installation", s.getRepoInstallation)
	s.handle("GET", "/orgs/{org}/installation", s.getAccountInstallation("org"))
	s.handle("GET", "/users/{username}/installation", s.getAccountInstallation("username"))
	s.handle("DELETE", "/installation/token", s.revokeToken)
	s.handle("GET", "/installation/repositories", s.listInstallationRepos)
}

func (s *Sim) getApp(c *call) {
	app, ok := c.authApp()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.appInstalls(app))
	c.json(http.StatusOK, obj{
		"id": app.ID, "slug": app.Slug, "node_id": nodeID("A", app.ID), "client_id": app.ClientID,
		"owner": c.loginJSON(app.Owner), "name": app.Name, "description": "",
		"external_url": c.webURL("/apps/" + app.Slug), "html_url": c.webURL("/apps/" + app.Slug),
		"created_at": ts(s.Now()), "updated_at": ts(s.Now()), "permissions": obj{"metadata": "read"},
		"events": []string{}, "installations_count": n,
	})
}

// appInstalls lists the installations of app by ID. Callers hold s.mu.
func (s *Sim) appInstalls(app *appState) []*installation {
	var out []*installation
	for _, in := range s.installs {
		if in.App == app {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Sim) listAppInstallations(c *call) {
	app, ok := c.authApp()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, in := range pageOf(c, s.appInstalls(app)) {
		out = append(out, c.installationJSON(in))
	}
	c.json(http.StatusOK, nonNil(out))
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// installOf finds installation {installation_id} of app. Callers hold s.mu.
func (s *Sim) installOf(c *call, app *appState) *installation {
	id, _ := c.pathInt("installation_id")
	in := s.installs[id]
	if in == nil || in.App != app {
		return nil
	}
	return in
}

func (s *Sim) getAppInstallation(c *call) {
	app, ok := c.authApp()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.installOf(c, app); in != nil {
		c.json(http.StatusOK, c.installationJSON(in))
		return
	}
	c.notFound()
}

func (s *Sim) getRepoInstallation(c *call) {
	app, ok := c.authApp()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.repoByName(c.path("owner"), c.path("repo")); r != nil {
		for _, in := range s.appInstalls(app) {
			if in.covers(r) {
				c.json(http.StatusOK, c.installationJSON(in))
				return
			}
		}
	}
	c.notFound()
}

func (s *Sim) getAccountInstallation(param string) handlerFunc {
	return func(c *call) {
		app, ok := c.authApp()
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, in := range s.appInstalls(app) {
			if lower(in.Account.Login) == lower(c.path(param)) {
				c.json(http.StatusOK, c.installationJSON(in))
				return
			}
		}
		c.notFound()
	}
}

type tokenRequest struct {
	Repositories  []string          `json:"repositories"`
	RepositoryIDs []int64           `json:"repository_ids"`
	Permissions   map[string]string `json:"permissions"`
}

const (
	msgPermsNotGranted = "The permissions requested are not granted to this installation."
	msgRepoNotAccess   = "There is at least one repository that does not exist or is not accessible to the parent installation."
)

// accessTokenAnswer is the installation-token answer in GitHub's key order.
type accessTokenAnswer struct {
	Token               string `json:"token"`
	ExpiresAt           string `json:"expires_at"`
	Permissions         any    `json:"permissions"`
	RepositorySelection string `json:"repository_selection"`
	Repositories        any    `json:"repositories,omitempty"`
}

func (s *Sim) createAccessToken(c *call) {
	app, ok := c.authApp()
	if !ok {
		return
	}
	var req tokenRequest
	if !c.decode(&req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installOf(c, app)
	switch {
	case in == nil:
		c.notFound()
		return
	case in.SuspendedAt != nil:
		c.error(http.StatusForbidden, "This installation has been suspended")
		return
	case len(req.Repositories)+len(req.RepositoryIDs) > 500:
		c.validation("Too many repositories. The maximum number of repositories is 500.")
		return
	}
	repos, ok := s.scopeRepos(c, in, req)
	if !ok {
		return
	}
	perms, ok := scopePermissions(c, in, req.Permissions)
	if !ok {
		return
	}
	now := s.Now()
	t := &token{kind: TokenInstallation, inst: in, appID: app.ID, selection: in.Selection, perms: perms,
		repos: map[int64]bool{}, created: now, expires: now.Add(time.Hour)}
	if repos != nil {
		t.selection = "selected"
	} else if in.Selection == "selected" {
		repos = s.installRepos(in)
	}
	for _, r := range repos {
		t.repos[r.ID] = true
		t.repoNames = append(t.repoNames, r.Name)
	}
	value := s.addToken(t, s.tokenFormat(c.r))
	// GitHub writes "token" first: an answer cut short still names the token
	// when little more than its start arrived, and clients that recover from
	// a truncated answer (jitkey mint revokes it) depend on that order. A
	// map would sort the keys and put it last.
	body := accessTokenAnswer{Token: value, ExpiresAt: ts(t.expires), Permissions: perms, RepositorySelection: t.selection}
	if t.selection == "selected" {
		var list []obj
		for _, r := range repos {
			list = append(list, c.repoJSON(r))
		}
		body.Repositories = nonNil(list)
	}
	c.json(http.StatusCreated, body)
}

// scopeRepos resolves the requested repositories; nil means none were asked for.
func (s *Sim) scopeRepos(c *call, in *installation, req tokenRequest) ([]*repo, bool) {
	if req.Repositories == nil && req.RepositoryIDs == nil {
		return nil, true
	}
	seen := map[int64]bool{}
	var out []*repo
	add := func(r *repo) bool {
		if r == nil || !in.covers(r) {
			c.validation(msgRepoNotAccess)
			return false
		}
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
		return true
	}
	for _, name := range req.Repositories {
		if !add(s.repoByName(in.Account.Login, name)) {
			return nil, false
		}
	}
	for _, id := range req.RepositoryIDs {
		if !add(s.repoByID[id]) {
			return nil, false
		}
	}
	return nonNil(out), true
}

func scopePermissions(c *call, in *installation, asked map[string]string) (map[string]string, bool) {
	out := map[string]string{}
	if asked == nil {
		for k, v := range in.Permissions {
			out[k] = v
		}
		return out, true
	}
	for k, v := range asked {
		if levels[v] == 0 || !allows(in.Permissions, k, v) {
			c.validation(msgPermsNotGranted)
			return nil, false
		}
		out[k] = v
	}
	if _, ok := out["metadata"]; !ok {
		out["metadata"] = "read"
	}
	return out, true
}

// installRepos lists the repositories an installation covers. Callers hold s.mu.
func (s *Sim) installRepos(in *installation) []*repo {
	var out []*repo
	for _, r := range in.Account.Repos {
		if in.covers(r) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Sim) revokeToken(c *call) {
	tok, ok := c.authToken()
	if !ok {
		return
	}
	s.mu.Lock()
	now := s.Now()
	tok.revoked = &now
	s.mu.Unlock()
	c.noContent()
}

func (s *Sim) listInstallationRepos(c *call) {
	tok, ok := c.authToken()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var repos []*repo
	for _, r := range s.allRepos() {
		if tok.covers(r) {
			repos = append(repos, r)
		}
	}
	var list []obj
	for _, r := range pageOf(c, repos) {
		list = append(list, c.repoJSON(r))
	}
	c.json(http.StatusOK, obj{"total_count": len(repos), "repositories": nonNil(list), "repository_selection": tok.selection})
}

// allRepos lists every repository by ID. Callers hold s.mu.
func (s *Sim) allRepos() []*repo {
	out := make([]*repo, 0, len(s.repoByID))
	for _, r := range s.repoByID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
