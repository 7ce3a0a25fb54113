package ghsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

func (s *Sim) orgRoutes() {
	s.handle("GET", "/orgs/{org}", s.getOrg)
	s.handle("GET", "/orgs/{org}/memberships/{username}", s.getMembership)
	s.handle("GET", "/orgs/{org}/personal-access-tokens", s.listPATs)
	s.handle("POST", "/orgs/{org}/personal-access-tokens", s.revokePATs)
	s.handle("GET", "/orgs/{org}/credential-authorizations", s.listSSO)
	s.handle("DELETE", "/orgs/{org}/credential-authorizations/{credential_id}", s.deleteSSO)
	for _, base := range []string{"/repos/{owner}/{repo}/hooks", "/orgs/{org}/hooks"} {
		s.handle("GET", base, s.listHooks)
		s.handle("GET", base+"/{hook_id}", s.hookOp)
		s.handle("PATCH", base+"/{hook_id}", s.hookOp)
		s.handle("DELETE", base+"/{hook_id}", s.hookOp)
	}
}

// getOrg answers an organisation as GitHub does: its public profile to
// anyone (anonymous callers included); the settings and counts GitHub shows
// organisation owners to an installation of the organisation with
// organization_administration:read; the plan with organization_plan:read.
// A user account or a missing organisation is 404.
func (s *Sim) getOrg(c *call) {
	var tok *token
	if c.id.kind != idNone {
		t, ok := c.authToken()
		if !ok {
			return
		}
		tok = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[lower(c.path("org"))]
	if a == nil || a.Type != "Organization" {
		c.notFound()
		return
	}
	u := c.apiURL("/orgs/" + a.Login)
	public, private := 0, 0
	collaborators := map[string]bool{}
	for _, r := range a.Repos {
		if r.Visibility == "public" {
			public++
			continue
		}
		private++
		for login := range r.Collaborators {
			collaborators[lower(login)] = true
		}
	}
	o := obj{"login": a.Login, "id": a.ID, "node_id": nodeID("O", a.ID), "url": u, "repos_url": u + "/repos",
		"events_url": u + "/events", "hooks_url": u + "/hooks", "issues_url": u + "/issues",
		"members_url": u + "/members{/member}", "public_members_url": u + "/public_members{/member}",
		"avatar_url": c.webURL("/avatars/" + a.Login), "description": nil, "html_url": c.webURL("/" + a.Login),
		"is_verified": false, "has_organization_projects": true, "has_repository_projects": true,
		"public_repos": public, "public_gists": 0, "followers": 0, "following": 0, "type": "Organization",
		"created_at": ts(a.CreatedAt), "updated_at": ts(a.CreatedAt), "archived_at": nil}
	own := tok != nil && tok.kind == TokenInstallation && tok.inst.Account == a
	if own && allows(tok.perms, "organization_administration", "read") {
		ownerView := obj{"total_private_repos": private, "owned_private_repos": private, "private_gists": 0,
			"disk_usage": 0, "collaborators": len(collaborators), "billing_email": "billing@" + lower(a.Login) + ".example.com",
			"default_repository_permission": "read", "members_can_create_repositories": true,
			"two_factor_requirement_enabled": false, "members_allowed_repository_creation_type": "all",
			"members_can_create_public_repositories": true, "members_can_create_private_repositories": true,
			"members_can_create_internal_repositories": false, "members_can_create_pages": true,
			"members_can_create_public_pages": true, "members_can_create_private_pages": true,
			"members_can_fork_private_repositories": false, "web_commit_signoff_required": false}
		for k, v := range ownerView {
			o[k] = v
		}
	}
	if own && allows(tok.perms, "organization_plan", "read") {
		o["plan"] = obj{"name": "free", "space": 976562499, "private_repos": 10000, "filled_seats": 1, "seats": 0}
	}
	c.json(http.StatusOK, o)
}

// getMembership answers a user's membership of the organisation, as GitHub
// does for an installation with the organisation permission members: read:
// role admin (an owner) or member, state active; 404 for anyone else.
func (s *Sim) getMembership(c *call) {
	org, ok := c.orgFor("members", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	login := c.path("username")
	role := org.Members[lower(login)]
	u := s.accounts[lower(login)]
	if role == "" || u == nil {
		c.notFound()
		return
	}
	ou := c.apiURL("/orgs/" + org.Login)
	c.json(http.StatusOK, obj{"url": ou + "/memberships/" + u.Login, "state": "active", "role": role,
		"organization_url": ou, "user": c.accountJSON(u),
		"organization": obj{"login": org.Login, "id": org.ID, "node_id": nodeID("O", org.ID), "url": ou,
			"repos_url": ou + "/repos", "events_url": ou + "/events", "hooks_url": ou + "/hooks", "issues_url": ou + "/issues",
			"members_url": ou + "/members{/member}", "public_members_url": ou + "/public_members{/member}",
			"avatar_url": c.webURL("/avatars/" + org.Login), "description": nil}})
}

// patsOrg answers 403 unless the caller is an installation token: GitHub serves the
// fine-grained PAT routes to GitHub Apps only.
func (s *Sim) patsOrg(c *call, level string) (*account, bool) {
	if c.id.kind == idToken && c.id.tok.kind != TokenInstallation {
		c.forbidden()
		return nil, false
	}
	return c.orgFor("organization_personal_access_tokens", level)
}

func (s *Sim) listPATs(c *call) {
	org, ok := s.patsOrg(c, "read")
	if !ok {
		return
	}
	q := c.r.URL.Query()
	owners := append(q["owner[]"], q["owner"]...)
	tokenIDs := append(q["token_id[]"], q["token_id"]...)
	before, hasBefore := parseTime(q.Get("last_used_before"))
	after, hasAfter := parseTime(q.Get("last_used_after"))
	// GitHub validates the query against its description: sort is
	// created_at, direction asc or desc, at most 10 owners and 50 token IDs.
	sortBy, dir := q.Get("sort"), q.Get("direction")
	if (q.Get("last_used_before") != "" && !hasBefore) || (q.Get("last_used_after") != "" && !hasAfter) ||
		(sortBy != "" && sortBy != "created_at") || (dir != "" && dir != "asc" && dir != "desc") ||
		len(owners) > 10 || len(tokenIDs) > 50 {
		c.validation("Invalid request.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*pat
	for _, p := range org.PATs {
		switch {
		case p.Revoked:
		case len(owners) > 0 && !slices.ContainsFunc(owners, func(o string) bool { return strings.EqualFold(o, p.Owner) }):
		case len(tokenIDs) > 0 && !slices.Contains(tokenIDs, itoa(p.TokenID)):
		case hasBefore && p.LastUsedAt != nil && !p.LastUsedAt.Before(before): // never used counts as before
		case hasAfter && (p.LastUsedAt == nil || !p.LastUsedAt.After(after)):
		case q.Get("repository") != "" && !s.patCovers(org, p, q.Get("repository")):
		case q.Get("permission") != "" && !patHas(p, q.Get("permission")):
		default:
			list = append(list, p)
		}
	}
	// sort=created_at, the only key, is when access was granted; newest first
	// unless direction=asc.
	slices.SortStableFunc(list, func(a, b *pat) int {
		if d := a.AccessGrantedAt.Compare(b.AccessGrantedAt); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if dir != "asc" {
		slices.Reverse(list)
	}
	now := s.Now()
	var out []obj
	for _, p := range pageOf(c, list) {
		perms := obj{"organization": orEmpty(p.Permissions.Organization), "repository": orEmpty(p.Permissions.Repository),
			"other": orEmpty(p.Permissions.Other)}
		out = append(out, obj{"id": p.ID, "owner": c.loginJSON(p.Owner), "repository_selection": p.RepositorySelection,
			"repositories_url": c.apiURL(fmt.Sprintf("/orgs/%s/personal-access-tokens/%d/repositories", org.Login, p.ID)),
			"permissions":      perms, "access_granted_at": ts(p.AccessGrantedAt), "token_id": p.TokenID,
			"token_name": p.TokenName, "token_expired": p.ExpiresAt != nil && !now.Before(*p.ExpiresAt),
			"token_expires_at": tsPtr(p.ExpiresAt), "token_last_used_at": tsPtr(p.LastUsedAt)})
	}
	c.json(http.StatusOK, nonNil(out))
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// patCovers reports whether p reaches repository name. Callers hold s.mu.
func (s *Sim) patCovers(org *account, p *pat, name string) bool {
	r := s.repoByName(org.Login, name)
	return r != nil && (p.RepositorySelection == "all" || slices.Contains(p.Repositories, r.ID))
}

// patHas matches GitHub's permission filter, e.g. "issues_read" or "contents_write".
func patHas(p *pat, filter string) bool {
	for _, group := range []map[string]string{p.Permissions.Organization, p.Permissions.Repository, p.Permissions.Other} {
		for name, level := range group {
			if filter == name+"_"+level || (level == "write" && filter == name+"_read") {
				return true
			}
		}
	}
	return false
}

func (s *Sim) revokePATs(c *call) {
	org, ok := s.patsOrg(c, "write")
	if !ok {
		return
	}
	var req struct {
		Action string  `json:"action"`
		PatIDs []int64 `json:"pat_ids"`
	}
	if !c.decode(&req) {
		return
	}
	if req.Action != "revoke" || len(req.PatIDs) == 0 || len(req.PatIDs) > 100 {
		c.validation("Invalid request.", obj{"resource": "PersonalAccessToken", "field": "pat_ids", "code": "invalid"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range req.PatIDs {
		if !slices.ContainsFunc(org.PATs, func(p *pat) bool { return p.ID == id }) {
			c.notFound()
			return
		}
	}
	for _, p := range org.PATs {
		if slices.Contains(req.PatIDs, p.ID) {
			p.Revoked = true
		}
	}
	c.json(http.StatusAccepted, obj{})
}

// PATRevoked reports whether the PAT grant id was revoked through the API.
func (s *Sim) PATRevoked(org string, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.mustOrg(org).PATs {
		if p.ID == id {
			return p.Revoked
		}
	}
	return false
}

func (s *Sim) listSSO(c *call) {
	org, ok := c.orgFor("organization_administration", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	login := c.r.URL.Query().Get("login")
	var list []*ssoAuth
	for _, a := range org.SSO {
		if login == "" || strings.EqualFold(login, a.Login) {
			list = append(list, a)
		}
	}
	var out []obj
	for _, a := range pageOf(c, list) {
		o := obj{"login": a.Login, "credential_id": a.CredentialID, "credential_type": a.CredentialType,
			"credential_authorized_at": ts(a.AuthorizedAt), "credential_accessed_at": tsPtr(a.AccessedAt),
			"scopes": nonNil(a.Scopes), "authorized_credential_expires_at": tsPtr(a.ExpiresAt),
			"authorized_credential_id": a.CredentialID}
		if a.TokenLastEight != "" {
			o["token_last_eight"] = a.TokenLastEight
		}
		if a.Fingerprint != "" {
			o["fingerprint"] = a.Fingerprint
		}
		out = append(out, o)
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) deleteSSO(c *call) {
	org, ok := c.orgFor("organization_administration", "write")
	if !ok {
		return
	}
	id, _ := c.pathInt("credential_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(org.SSO, func(a *ssoAuth) bool { return a.CredentialID == id })
	if i < 0 {
		c.notFound()
		return
	}
	org.SSO = slices.Delete(org.SSO, i, i+1)
	c.noContent()
}

// hookList finds the webhooks the route is about: a repository's or an organisation's.
func (s *Sim) hookList(c *call, level string) (list *[]*webhook, base string, isOrg bool, ok bool) {
	if c.path("org") != "" {
		org, ok := c.orgFor("organization_hooks", level)
		if !ok {
			return nil, "", true, false
		}
		return &org.Hooks, "/orgs/" + org.Login + "/hooks/", true, true
	}
	r, ok := c.repoFor("repository_hooks", level)
	if !ok {
		return nil, "", false, false
	}
	return &r.Hooks, "/repos/" + r.FullName() + "/hooks/", false, true
}

func (c *call) hookJSON(h *webhook, base string, isOrg bool) obj {
	u := c.apiURL(base + itoa(h.ID))
	cfg := obj{"url": h.URL, "content_type": h.ContentType, "insecure_ssl": h.InsecureSSL}
	if h.HasSecret {
		cfg["secret"] = "********"
	}
	o := obj{"type": "Repository", "id": h.ID, "name": h.Name, "active": h.Active, "events": h.Events, "config": cfg,
		"updated_at": ts(h.UpdatedAt), "created_at": ts(h.CreatedAt), "url": u, "ping_url": u + "/pings",
		"deliveries_url": u + "/deliveries"}
	if isOrg {
		o["type"] = "Organization"
		return o
	}
	o["test_url"] = u + "/test"
	lr := obj{"code": nil, "status": "unused", "message": nil}
	if h.LastResponse != nil {
		lr = obj{"code": h.LastResponse.Code, "status": h.LastResponse.Status, "message": h.LastResponse.Message}
	}
	o["last_response"] = lr
	return o
}

func (s *Sim) listHooks(c *call) {
	list, base, isOrg, ok := s.hookList(c, "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, h := range pageOf(c, *list) {
		out = append(out, c.hookJSON(h, base, isOrg))
	}
	c.json(http.StatusOK, nonNil(out))
}

type hookPatch struct {
	Active       *bool    `json:"active"`
	Events       []string `json:"events"`
	AddEvents    []string `json:"add_events"`
	RemoveEvents []string `json:"remove_events"`
	Config       *struct {
		URL         *string         `json:"url"`
		ContentType *string         `json:"content_type"`
		Secret      *string         `json:"secret"`
		InsecureSSL json.RawMessage `json:"insecure_ssl"`
	} `json:"config"`
}

func (s *Sim) hookOp(c *call) {
	level := "write"
	if c.r.Method == http.MethodGet {
		level = "read"
	}
	list, base, isOrg, ok := s.hookList(c, level)
	if !ok {
		return
	}
	var patch hookPatch
	if c.r.Method == http.MethodPatch && !c.decode(&patch) {
		return
	}
	id, _ := c.pathInt("hook_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(*list, func(h *webhook) bool { return h.ID == id })
	if i < 0 {
		c.notFound()
		return
	}
	h := (*list)[i]
	switch c.r.Method {
	case http.MethodDelete:
		*list = slices.Delete(*list, i, i+1)
		c.noContent()
		return
	case http.MethodPatch:
		applyHookPatch(h, patch)
		h.UpdatedAt = s.Now()
	}
	c.json(http.StatusOK, c.hookJSON(h, base, isOrg))
}

func applyHookPatch(h *webhook, p hookPatch) {
	if p.Active != nil {
		h.Active = *p.Active
	}
	if p.Events != nil {
		h.Events = p.Events
	}
	for _, e := range p.AddEvents {
		if !slices.Contains(h.Events, e) {
			h.Events = append(h.Events, e)
		}
	}
	h.Events = slices.DeleteFunc(h.Events, func(e string) bool { return slices.Contains(p.RemoveEvents, e) })
	if cfg := p.Config; cfg != nil {
		if cfg.URL != nil {
			h.URL = *cfg.URL
		}
		if cfg.ContentType != nil {
			h.ContentType = *cfg.ContentType
		}
		if cfg.Secret != nil {
			h.HasSecret = *cfg.Secret != ""
		}
		if v := strings.Trim(string(cfg.InsecureSSL), `"`); v == "0" || v == "1" {
			h.InsecureSSL = v
		}
	}
}
