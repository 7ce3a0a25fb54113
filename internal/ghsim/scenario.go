package ghsim

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is a simulator's seed: Apps, accounts, repositories, credentials,
// issues and installations. It is read from YAML or JSON (LoadScenario) and
// written by Generate. The format, field by field:
//
//	now: 2026-11-28T12:00:00Z      # optional: sets a *ManualClock before seeding
//	apps:
//	  - {slug: jitkey, id: 0, client_id: ""}          # id and client_id generated when 0/empty
//	users: [mona, octocat]
//	orgs:
//	  - login: acme
//	    repos:
//	      - name: api
//	        private: true            # or visibility: public|private|internal
//	        default_branch: main
//	        archived: false
//	        fork: false
//	        files: {".github/jitkey/policy.cue": "package jitkey\n"}   # at the default branch
//	        refs: {feature: {"README.md": "hi"}}                      # files at other refs
//	        deploy_keys: [{title: ci, read_only: false, verified: true, added_by: mona, created_at: -400d, last_used: -200d}]
//	        secrets: [{name: NPM_TOKEN, kind: actions, created_at: -500d, updated_at: -500d}]   # kind: actions|dependabot|codespaces
//	        environments: [{name: prod, secrets: [{name: DEPLOY_KEY}]}]
//	        webhooks: [{url: "https://ci.example/hook", active: true, events: [push], insecure_ssl: true, secret: true}]
//	        collaborators: {mona: admin}
//	        issues: [{title: "...", body: "...", labels: [jitkey], state: open, user: octocat, comments: ["..."]}]
//	    secrets: [{name: ORG_TOKEN, kind: actions, visibility: selected, repositories: [api]}]
//	    webhooks: [{url: "https://chat.example/hook"}]
//	    members: {mona: admin, octocat: member}        # admin is an organisation owner
//	    pats: [{owner: mona, token_name: laptop, expires_at: null, last_used_at: -300d, access_granted_at: -400d,
//	            repositories: [api], permissions: {repository: {contents: write}, organization: {}}}]
//	    sso_authorizations: [{login: mona, credential_type: personal access token, authorized_at: -700d,
//	                          accessed_at: -500d, scopes: [repo], expires_at: null}]
//	installations:
//	  - {app: jitkey, account: acme, permissions: {contents: read}, repositories: [api], suspended: false}
//
// Times are RFC 3339 or relative to the clock when the scenario is applied: "-400d",
// "-36h", "+30d" (units d, h, m, s).
type Scenario struct {
	Now           string            `yaml:"now,omitempty" json:"now,omitempty"`
	Apps          []ScenarioApp     `yaml:"apps,omitempty" json:"apps,omitempty"`
	Users         []string          `yaml:"users,omitempty" json:"users,omitempty"`
	Orgs          []ScenarioOrg     `yaml:"orgs,omitempty" json:"orgs,omitempty"`
	Installations []ScenarioInstall `yaml:"installations,omitempty" json:"installations,omitempty"`
}

// ScenarioApp is a GitHub App to register.
type ScenarioApp struct {
	Slug     string `yaml:"slug" json:"slug"`
	ID       int64  `yaml:"id,omitempty" json:"id,omitempty"`
	ClientID string `yaml:"client_id,omitempty" json:"client_id,omitempty"`
	Name     string `yaml:"name,omitempty" json:"name,omitempty"`
}

// ScenarioOrg is an organisation with its repositories and organisation-level credentials.
type ScenarioOrg struct {
	Login   string            `yaml:"login" json:"login"`
	Repos   []ScenarioRepo    `yaml:"repos,omitempty" json:"repos,omitempty"`
	Secrets []ScenarioSecret  `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	Hooks   []ScenarioHook    `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	PATs    []ScenarioPAT     `yaml:"pats,omitempty" json:"pats,omitempty"`
	SSO     []ScenarioSSO     `yaml:"sso_authorizations,omitempty" json:"sso_authorizations,omitempty"`
	Members map[string]string `yaml:"members,omitempty" json:"members,omitempty"` // login -> admin (owner) | member
}

// ScenarioRepo is a repository with its files and credentials.
type ScenarioRepo struct {
	Name          string                       `yaml:"name" json:"name"`
	Private       bool                         `yaml:"private,omitempty" json:"private,omitempty"`
	Visibility    string                       `yaml:"visibility,omitempty" json:"visibility,omitempty"`
	DefaultBranch string                       `yaml:"default_branch,omitempty" json:"default_branch,omitempty"`
	Archived      bool                         `yaml:"archived,omitempty" json:"archived,omitempty"`
	Fork          bool                         `yaml:"fork,omitempty" json:"fork,omitempty"`
	Description   string                       `yaml:"description,omitempty" json:"description,omitempty"`
	CreatedAt     string                       `yaml:"created_at,omitempty" json:"created_at,omitempty"`
	Files         map[string]string            `yaml:"files,omitempty" json:"files,omitempty"`
	Refs          map[string]map[string]string `yaml:"refs,omitempty" json:"refs,omitempty"`
	DeployKeys    []ScenarioKey                `yaml:"deploy_keys,omitempty" json:"deploy_keys,omitempty"`
	Secrets       []ScenarioSecret             `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	Environments  []ScenarioEnv                `yaml:"environments,omitempty" json:"environments,omitempty"`
	Hooks         []ScenarioHook               `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
	Collaborators map[string]string            `yaml:"collaborators,omitempty" json:"collaborators,omitempty"`
	Issues        []ScenarioIssue              `yaml:"issues,omitempty" json:"issues,omitempty"`
}

// ScenarioKey is a deploy key.
type ScenarioKey struct {
	Title     string `yaml:"title" json:"title"`
	Key       string `yaml:"key,omitempty" json:"key,omitempty"`
	ReadOnly  bool   `yaml:"read_only,omitempty" json:"read_only,omitempty"`
	Verified  bool   `yaml:"verified,omitempty" json:"verified,omitempty"`
	AddedBy   string `yaml:"added_by,omitempty" json:"added_by,omitempty"`
	CreatedAt string `yaml:"created_at,omitempty" json:"created_at,omitempty"`
	LastUsed  string `yaml:"last_used,omitempty" json:"last_used,omitempty"`
}

// ScenarioSecret is an Actions, Dependabot or Codespaces secret; visibility and repositories apply to organisation secrets.
type ScenarioSecret struct {
	Name         string   `yaml:"name" json:"name"`
	Kind         string   `yaml:"kind,omitempty" json:"kind,omitempty"`
	Visibility   string   `yaml:"visibility,omitempty" json:"visibility,omitempty"`
	Repositories []string `yaml:"repositories,omitempty" json:"repositories,omitempty"`
	CreatedAt    string   `yaml:"created_at,omitempty" json:"created_at,omitempty"`
	UpdatedAt    string   `yaml:"updated_at,omitempty" json:"updated_at,omitempty"`
}

// ScenarioEnv is a deployment environment and its secrets.
type ScenarioEnv struct {
	Name    string           `yaml:"name" json:"name"`
	Secrets []ScenarioSecret `yaml:"secrets,omitempty" json:"secrets,omitempty"`
}

// ScenarioHook is a webhook; active defaults to true.
type ScenarioHook struct {
	URL          string        `yaml:"url" json:"url"`
	Active       *bool         `yaml:"active,omitempty" json:"active,omitempty"`
	Events       []string      `yaml:"events,omitempty" json:"events,omitempty"`
	InsecureSSL  bool          `yaml:"insecure_ssl,omitempty" json:"insecure_ssl,omitempty"`
	Secret       bool          `yaml:"secret,omitempty" json:"secret,omitempty"`
	CreatedAt    string        `yaml:"created_at,omitempty" json:"created_at,omitempty"`
	LastResponse *HookResponse `yaml:"last_response,omitempty" json:"last_response,omitempty"`
}

// ScenarioPAT is a fine-grained personal access token granted to the organisation.
type ScenarioPAT struct {
	Owner           string         `yaml:"owner" json:"owner"`
	TokenName       string         `yaml:"token_name" json:"token_name"`
	ExpiresAt       string         `yaml:"expires_at,omitempty" json:"expires_at,omitempty"`
	LastUsedAt      string         `yaml:"last_used_at,omitempty" json:"last_used_at,omitempty"`
	AccessGrantedAt string         `yaml:"access_granted_at,omitempty" json:"access_granted_at,omitempty"`
	Repositories    []string       `yaml:"repositories,omitempty" json:"repositories,omitempty"`
	Selection       string         `yaml:"repository_selection,omitempty" json:"repository_selection,omitempty"`
	Permissions     PATPermissions `yaml:"permissions,omitempty" json:"permissions,omitempty"`
}

// ScenarioSSO is a SAML SSO credential authorization.
type ScenarioSSO struct {
	Login          string   `yaml:"login" json:"login"`
	CredentialType string   `yaml:"credential_type,omitempty" json:"credential_type,omitempty"`
	AuthorizedAt   string   `yaml:"authorized_at,omitempty" json:"authorized_at,omitempty"`
	AccessedAt     string   `yaml:"accessed_at,omitempty" json:"accessed_at,omitempty"`
	Scopes         []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	ExpiresAt      string   `yaml:"expires_at,omitempty" json:"expires_at,omitempty"`
}

// ScenarioIssue is an issue.
type ScenarioIssue struct {
	Title     string   `yaml:"title" json:"title"`
	Body      string   `yaml:"body,omitempty" json:"body,omitempty"`
	State     string   `yaml:"state,omitempty" json:"state,omitempty"`
	User      string   `yaml:"user,omitempty" json:"user,omitempty"`
	Labels    []string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Assignees []string `yaml:"assignees,omitempty" json:"assignees,omitempty"`
	Comments  []string `yaml:"comments,omitempty" json:"comments,omitempty"`
}

// ScenarioInstall is an installation of an App (by slug) on an account; no repositories means all.
type ScenarioInstall struct {
	App          string            `yaml:"app" json:"app"`
	Account      string            `yaml:"account" json:"account"`
	ID           int64             `yaml:"id,omitempty" json:"id,omitempty"`
	Permissions  map[string]string `yaml:"permissions,omitempty" json:"permissions,omitempty"`
	Repositories []string          `yaml:"repositories,omitempty" json:"repositories,omitempty"`
	Events       []string          `yaml:"events,omitempty" json:"events,omitempty"`
	CreatedAt    string            `yaml:"created_at,omitempty" json:"created_at,omitempty"`
	Suspended    bool              `yaml:"suspended,omitempty" json:"suspended,omitempty"`
}

// LoadScenario reads a YAML or JSON scenario, refusing unknown fields.
func LoadScenario(r io.Reader) (*Scenario, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read scenario: %w (see the format in ghsim.Scenario's doc)", err)
	}
	if _, err := parseWhen(sc.Now, time.Time{}); err != nil {
		return nil, fmt.Errorf("read scenario: now: %w", err)
	}
	return &sc, nil
}

// parseWhen reads an RFC 3339 time or a relative one ("-400d", "+2h") against now.
// Empty gives the zero time.
func parseWhen(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "null" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if len(v) >= 3 && (v[0] == '-' || v[0] == '+') {
		n, err := strconv.Atoi(v[1 : len(v)-1])
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}[v[len(v)-1]]
		if err == nil && unit != 0 {
			d := time.Duration(n) * unit
			if v[0] == '-' {
				d = -d
			}
			return now.Add(d), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is neither RFC 3339 nor relative like -30d", v)
}

// Apply seeds the simulator with sc. It stops at the first inconsistency (a
// repository or App that does not exist) and says which.
func (s *Sim) Apply(sc *Scenario) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("apply scenario: %v", p)
		}
	}()
	if sc.Now != "" {
		if mc, ok := s.clock.(*ManualClock); ok {
			t, _ := parseWhen(sc.Now, time.Time{})
			mc.Set(t)
		}
	}
	a := applier{s: s, now: s.Now(), apps: map[string]int64{}}
	for _, app := range sc.Apps {
		a.apps[app.Slug] = s.AddApp(AppSpec{ID: app.ID, ClientID: app.ClientID, Slug: app.Slug, Name: app.Name}).ID
	}
	for _, u := range sc.Users {
		s.AddUser(u)
	}
	for _, org := range sc.Orgs {
		a.org(org)
	}
	for _, in := range sc.Installations {
		id, ok := a.apps[in.App]
		if !ok {
			return fmt.Errorf("apply scenario: installation of unknown app %q: add it under apps", in.App)
		}
		s.Install(id, in.Account, InstallSpec{ID: in.ID, Permissions: in.Permissions, Repositories: in.Repositories,
			Events: in.Events, CreatedAt: a.when(in.CreatedAt), Suspended: in.Suspended})
	}
	return nil
}

type applier struct {
	s    *Sim
	now  time.Time
	apps map[string]int64
}

func (a *applier) when(v string) time.Time {
	t, err := parseWhen(v, a.now)
	if err != nil {
		panic(err.Error())
	}
	return t
}

func (a *applier) whenPtr(v string) *time.Time {
	t := a.when(v)
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *applier) org(o ScenarioOrg) {
	s := a.s
	s.AddOrg(o.Login)
	for _, login := range sortedKeys(o.Members) {
		s.AddMember(o.Login, login, o.Members[login])
	}
	for _, r := range o.Repos {
		a.repo(o.Login, r)
	}
	for _, sec := range o.Secrets {
		s.AddSecret(SecretSpec{Kind: SecretKind(sec.Kind), Scope: ScopeOrg, Owner: o.Login, Name: sec.Name,
			Visibility: sec.Visibility, SelectedRepos: sec.Repositories, CreatedAt: a.when(sec.CreatedAt), UpdatedAt: a.when(sec.UpdatedAt)})
	}
	for _, h := range o.Hooks {
		a.hook(o.Login, "", h)
	}
	for _, p := range o.PATs {
		s.AddPAT(PATSpec{Org: o.Login, Owner: p.Owner, TokenName: p.TokenName, ExpiresAt: a.whenPtr(p.ExpiresAt),
			LastUsedAt: a.whenPtr(p.LastUsedAt), AccessGrantedAt: a.when(p.AccessGrantedAt),
			RepositorySelection: p.Selection, Repositories: p.Repositories, Permissions: p.Permissions})
	}
	for _, x := range o.SSO {
		s.AddSSOAuthorization(SSOSpec{Org: o.Login, Login: x.Login, CredentialType: x.CredentialType,
			AuthorizedAt: a.when(x.AuthorizedAt), AccessedAt: a.whenPtr(x.AccessedAt), Scopes: x.Scopes, ExpiresAt: a.whenPtr(x.ExpiresAt)})
	}
}

func (a *applier) repo(owner string, r ScenarioRepo) {
	s := a.s
	rp := s.AddRepo(RepoSpec{Owner: owner, Name: r.Name, DefaultBranch: r.DefaultBranch, Private: r.Private,
		Visibility: r.Visibility, Archived: r.Archived, Fork: r.Fork, Description: r.Description, CreatedAt: a.when(r.CreatedAt)})
	for path, content := range r.Files {
		s.PutFile(owner, r.Name, rp.DefaultBranch, path, []byte(content))
	}
	for ref, files := range r.Refs {
		for path, content := range files {
			s.PutFile(owner, r.Name, ref, path, []byte(content))
		}
	}
	for _, k := range r.DeployKeys {
		s.AddDeployKey(DeployKeySpec{Owner: owner, Repo: r.Name, Title: k.Title, Key: k.Key, ReadOnly: k.ReadOnly,
			Verified: k.Verified, AddedBy: k.AddedBy, CreatedAt: a.when(k.CreatedAt), LastUsed: a.whenPtr(k.LastUsed)})
	}
	for _, sec := range r.Secrets {
		s.AddSecret(SecretSpec{Kind: SecretKind(sec.Kind), Owner: owner, Repo: r.Name, Name: sec.Name,
			CreatedAt: a.when(sec.CreatedAt), UpdatedAt: a.when(sec.UpdatedAt)})
	}
	for _, e := range r.Environments {
		s.AddEnvironment(owner, r.Name, e.Name)
		for _, sec := range e.Secrets {
			s.AddSecret(SecretSpec{Scope: ScopeEnvironment, Owner: owner, Repo: r.Name, Environment: e.Name,
				Name: sec.Name, CreatedAt: a.when(sec.CreatedAt), UpdatedAt: a.when(sec.UpdatedAt)})
		}
	}
	for _, h := range r.Hooks {
		a.hook(owner, r.Name, h)
	}
	for _, login := range sortedKeys(r.Collaborators) {
		s.AddCollaborator(owner, r.Name, login, r.Collaborators[login])
	}
	for _, is := range r.Issues {
		s.AddIssue(owner, r.Name, IssueSpec{Title: is.Title, Body: is.Body, State: is.State, User: is.User,
			Labels: is.Labels, Assignees: is.Assignees, Comments: is.Comments})
	}
}

func (a *applier) hook(owner, repoName string, h ScenarioHook) {
	a.s.AddWebhook(WebhookSpec{Owner: owner, Repo: repoName, URL: h.URL, Inactive: h.Active != nil && !*h.Active,
		Events: h.Events, InsecureSSL: h.InsecureSSL, Secret: h.Secret, CreatedAt: a.when(h.CreatedAt), LastResponse: h.LastResponse})
}
