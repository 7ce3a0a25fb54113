package ghsim

import (
	"crypto/rsa"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"
)

// App is a registered GitHub App.
type App struct {
	ID            int64
	ClientID      string
	Slug          string
	Name          string
	Owner         string
	PrivateKey    *rsa.PrivateKey
	PrivateKeyPEM []byte
}

// AppSpec describes an App to register. Zero fields get generated values.
type AppSpec struct {
	ID         int64
	ClientID   string
	Slug       string
	Name       string
	Owner      string          // the owning account's login, "ghsim" when empty
	PrivateKey *rsa.PrivateKey // nil: a process-cached generated key
}

// AddApp registers an App and returns it with its private key.
func (s *Sim) AddApp(spec AppSpec) *App {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := spec.ID
	if id == 0 {
		id = s.newID()
	}
	key := spec.PrivateKey
	if key == nil {
		key = cachedKey(1 + len(s.apps))
	}
	a := &appState{App: App{ID: id, ClientID: spec.ClientID, Slug: spec.Slug, Name: spec.Name, Owner: spec.Owner, PrivateKey: key, PrivateKeyPEM: encodeKeyPEM(key)}, key: &key.PublicKey}
	if a.Slug == "" {
		a.Slug = "app-" + strconv.FormatInt(id, 10)
	}
	if a.Name == "" {
		a.Name = a.Slug
	}
	if a.Owner == "" {
		a.Owner = "ghsim"
	}
	if a.ClientID == "" {
		a.ClientID = fmt.Sprintf("Iv23li%014d", id)
	}
	s.apps[id] = a
	out := a.App
	return &out
}

func (s *Sim) addAccount(login, typ string) *account {
	if a := s.accounts[lower(login)]; a != nil {
		return a
	}
	a := &account{Login: login, ID: s.newID(), Type: typ, Secrets: map[SecretKind][]*secret{}, CreatedAt: s.Now(),
		byName: map[string]*repo{}, Members: map[string]string{}}
	s.accounts[lower(login)] = a
	return a
}

// AddOrg adds an organisation (or returns the existing one's ID).
func (s *Sim) AddOrg(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAccount(login, "Organization").ID
}

// SetEnterprise puts organisation login (created when missing) in the
// enterprise slug and returns the enterprise's ID; job tokens of its
// repositories then carry enterprise and enterprise_id.
func (s *Sim) SetEnterprise(login, slug string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.addAccount(login, "Organization")
	a.Enterprise = slug
	for _, o := range s.accounts {
		if o.Enterprise == slug && o.EnterpriseID != 0 {
			a.EnterpriseID = o.EnterpriseID
			return a.EnterpriseID
		}
	}
	a.EnterpriseID = s.newID()
	return a.EnterpriseID
}

// AddUser adds a user account (or returns the existing one's ID).
func (s *Sim) AddUser(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAccount(login, "User").ID
}

// RepoSpec describes a repository. Its owner is created as an organisation when missing.
type RepoSpec struct {
	ID            int64
	Owner         string
	Name          string
	DefaultBranch string // "main" when empty
	Private       bool
	Archived      bool
	Fork          bool
	Visibility    string // public, private or internal; derived from Private when empty
	Description   string
	CreatedAt     time.Time
	// Properties are the repository's custom properties that the
	// organisation includes in job tokens (claims repo_property_NAME).
	Properties map[string]string
}

// Repo identifies a repository in the simulator.
type Repo struct {
	ID            int64
	Owner         string
	OwnerID       int64
	Name          string
	FullName      string
	DefaultBranch string
}

// AddRepo adds a repository.
func (s *Sim) AddRepo(spec RepoSpec) Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.addAccount(spec.Owner, "Organization")
	r := s.repoByName(spec.Owner, spec.Name)
	if r == nil {
		r = &repo{ID: spec.ID, Owner: owner, Name: spec.Name, Files: map[string]map[string][]byte{},
			Secrets: map[SecretKind][]*secret{}, Collaborators: map[string]string{}}
		if r.ID == 0 {
			r.ID = s.newID()
		}
		owner.Repos = append(owner.Repos, r)
		owner.byName[lower(r.Name)] = r
		s.repoByID[r.ID] = r
	}
	r.DefaultBranch = spec.DefaultBranch
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	r.Private, r.Archived, r.Fork, r.Description = spec.Private, spec.Archived, spec.Fork, spec.Description
	r.Visibility = spec.Visibility
	r.Properties = maps.Clone(spec.Properties)
	if r.Visibility == "" {
		r.Visibility = "public"
		if r.Private {
			r.Visibility = "private"
		}
	}
	r.Private = r.Visibility != "public"
	r.CreatedAt = orNow(spec.CreatedAt, s.Now())
	r.PushedAt = r.CreatedAt
	return Repo{ID: r.ID, Owner: owner.Login, OwnerID: owner.ID, Name: r.Name, FullName: r.FullName(), DefaultBranch: r.DefaultBranch}
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC()
}

// InstallSpec describes an installation of an App on an account.
type InstallSpec struct {
	ID          int64
	Permissions map[string]string // metadata: read is always added
	// Repositories selects repositories by name; nil installs on all of them.
	Repositories []string
	Events       []string
	CreatedAt    time.Time
	Suspended    bool
}

// Installation identifies an installation.
type Installation struct {
	ID        int64
	AppID     int64
	Account   string
	AccountID int64
}

// Install installs App appID on the account (created as an organisation when missing).
// It panics when the App or a selected repository does not exist.
func (s *Sim) Install(appID int64, accountLogin string, spec InstallSpec) Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	app := s.apps[appID]
	if app == nil {
		panic(fmt.Sprintf("ghsim: Install: no app %d: register it first with AddApp", appID))
	}
	acc := s.addAccount(accountLogin, "Organization")
	in := &installation{ID: spec.ID, App: app, Account: acc, Permissions: map[string]string{"metadata": "read"},
		Selection: "all", Repos: map[int64]bool{}, Events: spec.Events}
	if in.ID == 0 {
		in.ID = s.newID()
	}
	for k, v := range spec.Permissions {
		in.Permissions[k] = v
	}
	if spec.Repositories != nil {
		in.Selection = "selected"
		for _, name := range spec.Repositories {
			r := s.repoByName(accountLogin, name)
			if r == nil {
				panic(fmt.Sprintf("ghsim: Install: no repository %s/%s", accountLogin, name))
			}
			in.Repos[r.ID] = true
		}
	}
	in.CreatedAt = orNow(spec.CreatedAt, s.Now())
	in.UpdatedAt = in.CreatedAt
	if spec.Suspended {
		t := s.Now()
		in.SuspendedAt = &t
	}
	if in.Events == nil {
		in.Events = []string{}
	}
	s.installs[in.ID] = in
	return Installation{ID: in.ID, AppID: appID, Account: acc.Login, AccountID: acc.ID}
}

// PutFile stores a file at ref (a branch, tag or SHA) of a repository.
func (s *Sim) PutFile(owner, repoName, ref, path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	if r.Files[ref] == nil {
		r.Files[ref] = map[string][]byte{}
	}
	r.Files[ref][strings.TrimPrefix(path, "/")] = append([]byte(nil), data...)
}

// RemoveFile deletes a file at ref of a repository (a commit deleting it).
func (s *Sim) RemoveFile(owner, repoName, ref, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(owner, repoName)
	delete(r.Files[ref], strings.TrimPrefix(path, "/"))
}

func (s *Sim) mustRepo(owner, name string) *repo {
	r := s.repoByName(owner, name)
	if r == nil {
		panic("ghsim: no repository " + owner + "/" + name + ": add it first (AddRepo, or repos in the scenario)")
	}
	return r
}

func (s *Sim) mustOrg(login string) *account {
	a := s.accounts[lower(login)]
	if a == nil {
		panic("ghsim: no account " + login + ": add it first (AddOrg, or orgs in the scenario)")
	}
	return a
}

func cut(s, sep string) (string, string, bool) { return strings.Cut(s, sep) }

// Apps lists the registered Apps in ID order.
func (s *Sim) Apps() []*App {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*App
	for _, a := range s.apps {
		cp := a.App
		out = append(out, &cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Installations lists the installations in ID order.
func (s *Sim) Installations() []Installation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Installation
	for _, in := range s.installs {
		out = append(out, Installation{ID: in.ID, AppID: in.App.ID, Account: in.Account.Login, AccountID: in.Account.ID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetArchived archives (or unarchives) a repository, as its admin does in
// the settings: archived, it answers every write with GitHub's 403
// "Repository was archived so is read-only.".
func (s *Sim) SetArchived(owner, name string, archived bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(owner, name).Archived = archived
}
