package ghsim

import (
	"fmt"
	"time"
)

// SecretKind is the product a secret belongs to.
type SecretKind string

const (
	SecretActions    SecretKind = "actions"
	SecretDependabot SecretKind = "dependabot"
	SecretCodespaces SecretKind = "codespaces"
)

// SecretScope is where a secret lives.
type SecretScope string

const (
	ScopeRepo        SecretScope = "repo"
	ScopeOrg         SecretScope = "org"
	ScopeEnvironment SecretScope = "environment"
)

// DeployKeySpec describes a deploy key.
type DeployKeySpec struct {
	Owner, Repo string
	Title       string
	Key         string // a generated ssh-ed25519 public key when empty
	ReadOnly    bool
	Verified    bool
	CreatedAt   time.Time
	AddedBy     string
	LastUsed    *time.Time
}

// AddDeployKey adds a deploy key to a repository and returns its ID.
func (s *Sim) AddDeployKey(spec DeployKeySpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(spec.Owner, spec.Repo)
	k := &deployKey{ID: s.newID(), Key: spec.Key, Title: spec.Title, ReadOnly: spec.ReadOnly, Verified: spec.Verified,
		CreatedAt: orNow(spec.CreatedAt, s.Now()), AddedBy: spec.AddedBy, LastUsed: utcPtr(spec.LastUsed)}
	if k.Key == "" {
		k.Key = fmt.Sprintf("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%043d", k.ID)
	}
	r.Keys = append(r.Keys, k)
	return k.ID
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// SecretSpec describes an Actions, Dependabot or Codespaces secret.
type SecretSpec struct {
	Kind        SecretKind  // actions when empty
	Scope       SecretScope // repo when empty
	Owner       string      // the organisation for org secrets, the repository owner otherwise
	Repo        string
	Environment string
	Name        string
	// Visibility of an org secret: all, private or selected (all when empty).
	Visibility string
	// SelectedRepos names the repositories of a selected org secret.
	SelectedRepos []string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AddSecret adds a secret. Environments are created when missing.
func (s *Sim) AddSecret(spec SecretSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Kind == "" {
		spec.Kind = SecretActions
	}
	if _, ok := repoSecretPerm[spec.Kind]; !ok {
		panic(fmt.Sprintf("ghsim: secret %q: kind %q is not actions, dependabot or codespaces", spec.Name, spec.Kind))
	}
	sec := &secret{Name: spec.Name, CreatedAt: orNow(spec.CreatedAt, s.Now())}
	sec.UpdatedAt = orNow(spec.UpdatedAt, sec.CreatedAt)
	switch spec.Scope {
	case ScopeOrg:
		org := s.mustOrg(spec.Owner)
		sec.Visibility = spec.Visibility
		if sec.Visibility == "" {
			sec.Visibility = "all"
		}
		for _, name := range spec.SelectedRepos {
			sec.Selected = append(sec.Selected, s.mustRepo(spec.Owner, name).ID)
		}
		org.Secrets[spec.Kind] = append(org.Secrets[spec.Kind], sec)
	case ScopeEnvironment:
		env := s.addEnvironment(s.mustRepo(spec.Owner, spec.Repo), spec.Environment)
		env.Secrets = append(env.Secrets, sec)
	default:
		r := s.mustRepo(spec.Owner, spec.Repo)
		r.Secrets[spec.Kind] = append(r.Secrets[spec.Kind], sec)
	}
}

// AddEnvironment adds a deployment environment to a repository and returns its ID.
func (s *Sim) AddEnvironment(owner, repoName, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addEnvironment(s.mustRepo(owner, repoName), name).ID
}

func (s *Sim) addEnvironment(r *repo, name string) *environment {
	for _, e := range r.Envs {
		if e.Name == name {
			return e
		}
	}
	now := s.Now()
	e := &environment{ID: s.newID(), Name: name, CreatedAt: now, UpdatedAt: now}
	r.Envs = append(r.Envs, e)
	return e
}

// PATPermissions are a fine-grained PAT's permissions by group.
type PATPermissions struct {
	Organization map[string]string `json:"organization,omitempty" yaml:"organization"`
	Repository   map[string]string `json:"repository,omitempty" yaml:"repository"`
	Other        map[string]string `json:"other,omitempty" yaml:"other"`
}

// PATSpec describes a fine-grained personal access token granted to an organisation.
type PATSpec struct {
	Org             string
	Owner           string // the user who owns the token
	TokenName       string
	ExpiresAt       *time.Time
	LastUsedAt      *time.Time
	AccessGrantedAt time.Time
	// RepositorySelection is all, subset or none (subset when Repositories is set, else all).
	RepositorySelection string
	Repositories        []string
	Permissions         PATPermissions
}

// AddPAT adds a fine-grained PAT grant to an organisation and returns its grant ID.
func (s *Sim) AddPAT(spec PATSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.mustOrg(spec.Org)
	s.addAccount(spec.Owner, "User")
	p := &pat{ID: s.newID(), TokenID: s.newID(), Owner: spec.Owner, TokenName: spec.TokenName,
		ExpiresAt: utcPtr(spec.ExpiresAt), LastUsedAt: utcPtr(spec.LastUsedAt),
		AccessGrantedAt: orNow(spec.AccessGrantedAt, s.Now()), RepositorySelection: spec.RepositorySelection,
		Permissions: spec.Permissions}
	for _, name := range spec.Repositories {
		p.Repositories = append(p.Repositories, s.mustRepo(spec.Org, name).ID)
	}
	if p.RepositorySelection == "" {
		p.RepositorySelection = "all"
		if len(p.Repositories) > 0 {
			p.RepositorySelection = "subset"
		}
	}
	org.PATs = append(org.PATs, p)
	return p.ID
}

// SSOSpec describes a SAML SSO credential authorization in an organisation.
type SSOSpec struct {
	Org            string
	Login          string
	CredentialType string // "personal access token" or "SSH key" ("personal access token" when empty)
	AuthorizedAt   time.Time
	AccessedAt     *time.Time
	Scopes         []string
	ExpiresAt      *time.Time
}

// AddSSOAuthorization adds a credential authorization and returns its credential ID.
func (s *Sim) AddSSOAuthorization(spec SSOSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.mustOrg(spec.Org)
	a := &ssoAuth{CredentialID: s.newID(), Login: spec.Login, CredentialType: spec.CredentialType,
		AuthorizedAt: orNow(spec.AuthorizedAt, s.Now()), AccessedAt: utcPtr(spec.AccessedAt), Scopes: spec.Scopes,
		ExpiresAt: utcPtr(spec.ExpiresAt)}
	if a.CredentialType == "" {
		a.CredentialType = "personal access token"
	}
	if a.CredentialType == "personal access token" {
		a.TokenLastEight = fmt.Sprintf("%08d", a.CredentialID%100000000)
	} else {
		a.Fingerprint = fmt.Sprintf("SHA256:ghsim%038d", a.CredentialID)
	}
	org.SSO = append(org.SSO, a)
	return a.CredentialID
}

// HookResponse is a webhook's last delivery result.
type HookResponse struct {
	Code    *int   `json:"code" yaml:"code"`
	Status  string `json:"status" yaml:"status"`
	Message string `json:"message" yaml:"message"`
}

// WebhookSpec describes a webhook; an empty Repo makes an organisation webhook.
type WebhookSpec struct {
	Owner, Repo  string
	URL          string
	Inactive     bool
	Events       []string // ["push"] when empty
	ContentType  string   // json when empty
	InsecureSSL  bool
	Secret       bool // whether a secret is set (answers show "********")
	CreatedAt    time.Time
	LastResponse *HookResponse
}

// AddWebhook adds a repository or organisation webhook and returns its ID.
func (s *Sim) AddWebhook(spec WebhookSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &webhook{ID: s.newID(), Name: "web", Active: !spec.Inactive, Events: spec.Events, URL: spec.URL,
		ContentType: spec.ContentType, InsecureSSL: "0", HasSecret: spec.Secret,
		CreatedAt: orNow(spec.CreatedAt, s.Now()), LastResponse: spec.LastResponse}
	h.UpdatedAt = h.CreatedAt
	if len(h.Events) == 0 {
		h.Events = []string{"push"}
	}
	if h.ContentType == "" {
		h.ContentType = "json"
	}
	if spec.InsecureSSL {
		h.InsecureSSL = "1"
	}
	if spec.Repo == "" {
		org := s.mustOrg(spec.Owner)
		org.Hooks = append(org.Hooks, h)
	} else {
		r := s.mustRepo(spec.Owner, spec.Repo)
		r.Hooks = append(r.Hooks, h)
	}
	return h.ID
}

// AddCollaborator gives login a role (admin, maintain, write, triage, read) on a repository.
// AddMember makes login a member of the organisation org with role admin (an
// organisation owner) or member, creating both accounts when missing.
func (s *Sim) AddMember(org, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAccount(login, "User")
	s.addAccount(org, "Organization").Members[lower(login)] = role
}

func (s *Sim) AddCollaborator(owner, repoName, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	s.addAccount(login, "User")
	r.Collaborators[login] = role
}
