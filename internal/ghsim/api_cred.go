package ghsim

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

func (s *Sim) credentialRoutes() {
	s.handle("GET", "/repos/{owner}/{repo}/keys", s.listKeys)
	s.handle("GET", "/repos/{owner}/{repo}/keys/{key_id}", s.getKey)
	s.handle("DELETE", "/repos/{owner}/{repo}/keys/{key_id}", s.deleteKey)
	for _, kind := range []SecretKind{SecretActions, SecretDependabot, SecretCodespaces} {
		base := "/repos/{owner}/{repo}/" + string(kind) + "/secrets"
		s.handle("GET", base, s.listRepoSecrets(kind))
		s.handle("GET", base+"/{secret_name}", s.getRepoSecret(kind, false))
		s.handle("DELETE", base+"/{secret_name}", s.getRepoSecret(kind, true))
		org := "/orgs/{org}/" + string(kind) + "/secrets"
		s.handle("GET", org, s.listOrgSecrets(kind))
		s.handle("GET", org+"/{secret_name}", s.getOrgSecret(kind, false))
		s.handle("DELETE", org+"/{secret_name}", s.getOrgSecret(kind, true))
		s.handle("GET", org+"/{secret_name}/repositories", s.listOrgSecretRepos(kind))
	}
	for _, base := range []string{"/repos/{owner}/{repo}", "/repositories/{repository_id}"} {
		env := base + "/environments/{environment_name}/secrets"
		s.handle("GET", env, s.listEnvSecrets)
		s.handle("GET", env+"/{secret_name}", s.envSecret(false))
		s.handle("DELETE", env+"/{secret_name}", s.envSecret(true))
	}
	s.handle("GET", "/repos/{owner}/{repo}/environments", s.listEnvironments)
	s.handle("GET", "/orgs/{org}/installations", s.listOrgInstallations)
}

func (c *call) keyJSON(r *repo, k *deployKey) obj {
	return obj{"id": k.ID, "key": k.Key, "url": c.apiURL("/repos/" + r.FullName() + "/keys/" + itoa(k.ID)),
		"title": k.Title, "verified": k.Verified, "created_at": ts(k.CreatedAt), "read_only": k.ReadOnly,
		"added_by": nullable(k.AddedBy), "last_used": tsPtr(k.LastUsed), "enabled": true}
}

func (s *Sim) listKeys(c *call) {
	r, ok := c.repoFor("administration", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, k := range pageOf(c, r.Keys) {
		out = append(out, c.keyJSON(r, k))
	}
	c.json(http.StatusOK, nonNil(out))
}

func (s *Sim) findKey(c *call, level string) (*repo, int, bool) {
	r, ok := c.repoFor("administration", level)
	if !ok {
		return nil, 0, false
	}
	id, _ := c.pathInt("key_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(r.Keys, func(k *deployKey) bool { return k.ID == id })
	if i < 0 {
		c.notFound()
		return nil, 0, false
	}
	return r, i, true
}

func (s *Sim) getKey(c *call) {
	if r, i, ok := s.findKey(c, "read"); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		c.json(http.StatusOK, c.keyJSON(r, r.Keys[i]))
	}
}

func (s *Sim) deleteKey(c *call) {
	if r, i, ok := s.findKey(c, "write"); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		r.Keys = slices.Delete(r.Keys, i, i+1)
		c.noContent()
	}
}

// repoSecretPerm names the App permission of each secret kind (names, not secrets).
var repoSecretPerm = map[SecretKind]string{SecretActions: "secrets", SecretDependabot: "dependabot_secrets", SecretCodespaces: "codespaces_secrets"} //nolint:gosec // permission names

func levelFor(del bool) string {
	if del {
		return "write"
	}
	return "read"
}

func secretJSON(sec *secret) obj {
	return obj{"name": sec.Name, "created_at": ts(sec.CreatedAt), "updated_at": ts(sec.UpdatedAt)}
}

func (s *Sim) listRepoSecrets(kind SecretKind) handlerFunc {
	return func(c *call) {
		r, ok := c.repoFor(repoSecretPerm[kind], "read")
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c.secretList(r.Secrets[kind], secretJSON)
	}
}

func (c *call) secretList(list []*secret, render func(*secret) obj) {
	var out []obj
	for _, sec := range pageOf(c, list) {
		out = append(out, render(sec))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "secrets": nonNil(out)})
}

// secretOp finds {secret_name} in *list and answers it, or deletes it.
func (c *call) secretOp(list *[]*secret, del bool, render func(*secret) obj) {
	name := c.path("secret_name")
	i := slices.IndexFunc(*list, func(sec *secret) bool { return strings.EqualFold(sec.Name, name) })
	switch {
	case i < 0:
		c.notFound()
	case del:
		*list = slices.Delete(*list, i, i+1)
		c.noContent()
	default:
		c.json(http.StatusOK, render((*list)[i]))
	}
}

func (s *Sim) getRepoSecret(kind SecretKind, del bool) handlerFunc {
	return func(c *call) {
		r, ok := c.repoFor(repoSecretPerm[kind], levelFor(del))
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		list := r.Secrets[kind]
		c.secretOp(&list, del, secretJSON)
		r.Secrets[kind] = list
	}
}

var orgSecretPerm = map[SecretKind]string{SecretActions: "organization_secrets", SecretDependabot: "organization_dependabot_secrets", SecretCodespaces: "organization_codespaces_secrets"}

func (c *call) orgSecretJSON(org *account, kind SecretKind) func(*secret) obj {
	return func(sec *secret) obj {
		o := secretJSON(sec)
		o["visibility"] = sec.Visibility
		if sec.Visibility == "selected" {
			o["selected_repositories_url"] = c.apiURL("/orgs/" + org.Login + "/" + string(kind) + "/secrets/" + sec.Name + "/repositories")
		}
		return o
	}
}

func (s *Sim) listOrgSecrets(kind SecretKind) handlerFunc {
	return func(c *call) {
		org, ok := c.orgFor(orgSecretPerm[kind], "read")
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		c.secretList(org.Secrets[kind], c.orgSecretJSON(org, kind))
	}
}

func (s *Sim) getOrgSecret(kind SecretKind, del bool) handlerFunc {
	return func(c *call) {
		org, ok := c.orgFor(orgSecretPerm[kind], levelFor(del))
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		list := org.Secrets[kind]
		c.secretOp(&list, del, c.orgSecretJSON(org, kind))
		org.Secrets[kind] = list
	}
}

func (s *Sim) listOrgSecretRepos(kind SecretKind) handlerFunc {
	return func(c *call) {
		org, ok := c.orgFor(orgSecretPerm[kind], "read")
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		name := c.path("secret_name")
		i := slices.IndexFunc(org.Secrets[kind], func(sec *secret) bool { return strings.EqualFold(sec.Name, name) })
		if i < 0 {
			c.notFound()
			return
		}
		sec := org.Secrets[kind][i]
		// A secret whose visibility is not "selected" has no selected
		// repositories: GitHub's description documents only 200 here.
		var repos []*repo
		for _, id := range sec.Selected {
			if r := s.repoByID[id]; r != nil && sec.Visibility == "selected" {
				repos = append(repos, r)
			}
		}
		var out []obj
		for _, r := range pageOf(c, repos) {
			out = append(out, c.repoJSON(r))
		}
		c.json(http.StatusOK, obj{"total_count": len(repos), "repositories": nonNil(out)})
	}
}

// findEnv finds {environment_name} for the token with the secrets permission.
func (s *Sim) findEnv(c *call, level string) *environment {
	r, ok := c.repoFor("secrets", level)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := c.path("environment_name")
	for _, e := range r.Envs {
		if strings.EqualFold(e.Name, name) {
			return e
		}
	}
	c.notFound()
	return nil
}

func (s *Sim) listEnvSecrets(c *call) {
	if e := s.findEnv(c, "read"); e != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		c.secretList(e.Secrets, secretJSON)
	}
}

func (s *Sim) envSecret(del bool) handlerFunc {
	return func(c *call) {
		if e := s.findEnv(c, levelFor(del)); e != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			c.secretOp(&e.Secrets, del, secretJSON)
		}
	}
}

func (s *Sim) listEnvironments(c *call) {
	r, ok := c.repoFor("metadata", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []obj
	for _, e := range pageOf(c, r.Envs) {
		out = append(out, obj{"id": e.ID, "node_id": nodeID("EN", e.ID), "name": e.Name,
			"url":        c.apiURL("/repos/" + r.FullName() + "/environments/" + e.Name),
			"html_url":   c.webURL("/" + r.FullName() + "/deployments/activity_log?environments_filter=" + e.Name),
			"created_at": ts(e.CreatedAt), "updated_at": ts(e.UpdatedAt), "protection_rules": []obj{},
			"deployment_branch_policy": nil})
	}
	c.json(http.StatusOK, obj{"total_count": len(r.Envs), "environments": nonNil(out)})
}

func (s *Sim) listOrgInstallations(c *call) {
	org, ok := c.orgFor("organization_administration", "read")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*installation
	for _, in := range s.installs {
		if in.Account == org {
			list = append(list, in)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	var out []obj
	for _, in := range pageOf(c, list) {
		out = append(out, c.installationJSON(in))
	}
	c.json(http.StatusOK, obj{"total_count": len(list), "installations": nonNil(out)})
}

func parseTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}
