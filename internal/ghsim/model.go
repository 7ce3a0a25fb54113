package ghsim

import (
	"crypto/rsa"
	"sort"
	"strings"
	"time"
)

// account is an organisation or a user.
type account struct {
	Login  string
	ID     int64
	Type   string // "Organization" or "User"
	Repos  []*repo
	byName map[string]*repo // lower-case name -> repository

	Secrets   map[SecretKind][]*secret
	Hooks     []*webhook
	PATs      []*pat
	SSO       []*ssoAuth
	Members   map[string]string // organisations: lower-case login -> admin (an owner) | member
	CreatedAt time.Time

	Enterprise   string // slug of the enterprise owning the organisation, if any
	EnterpriseID int64
}

type repo struct {
	ID            int64
	Owner         *account
	Name          string
	DefaultBranch string
	Private       bool
	Archived      bool
	Fork          bool
	Visibility    string
	Description   string
	CreatedAt     time.Time
	PushedAt      time.Time

	Files         map[string]map[string][]byte // ref -> path -> content
	Keys          []*deployKey
	Secrets       map[SecretKind][]*secret
	Envs          []*environment
	Hooks         []*webhook
	Collaborators map[string]string // login -> admin|maintain|write|triage|read
	Properties    map[string]string // custom property name -> value, emitted in job tokens as repo_property_NAME
	Issues        []*issue
	Labels        []*label
	Comments      []*comment
}

func (r *repo) FullName() string { return r.Owner.Login + "/" + r.Name }

type appState struct {
	App
	key *rsa.PublicKey
}

type installation struct {
	ID          int64
	App         *appState
	Account     *account
	Permissions map[string]string
	Selection   string         // "all" or "selected"
	Repos       map[int64]bool // selected repository IDs
	Events      []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SuspendedAt *time.Time
}

func (in *installation) covers(r *repo) bool {
	if r.Owner != in.Account {
		return false
	}
	return in.Selection == "all" || in.Repos[r.ID]
}

type deployKey struct {
	ID        int64
	Key       string
	Title     string
	ReadOnly  bool
	Verified  bool
	CreatedAt time.Time
	AddedBy   string
	LastUsed  *time.Time
}

type secret struct {
	Name       string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Visibility string  // org secrets: all, private, selected
	Selected   []int64 // org secrets with visibility selected: repository IDs
}

type environment struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Secrets   []*secret
}

type webhook struct {
	ID           int64
	Name         string
	Active       bool
	Events       []string
	URL          string
	ContentType  string
	InsecureSSL  string
	HasSecret    bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastResponse *HookResponse
}

type pat struct {
	ID                  int64
	TokenID             int64
	Owner               string
	TokenName           string
	ExpiresAt           *time.Time
	LastUsedAt          *time.Time
	AccessGrantedAt     time.Time
	RepositorySelection string // all, subset, none
	Repositories        []int64
	Permissions         PATPermissions
	Revoked             bool
}

type ssoAuth struct {
	CredentialID   int64
	Login          string
	CredentialType string
	TokenLastEight string
	AuthorizedAt   time.Time
	AccessedAt     *time.Time
	Scopes         []string
	ExpiresAt      *time.Time
	Fingerprint    string
}

type issue struct {
	ID          int64
	Number      int
	Title       string
	Body        string
	State       string // open, closed
	StateReason string
	User        string
	Labels      []string
	Assignees   []string
	Comments    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    *time.Time
}

type comment struct {
	ID        int64
	Issue     int
	Body      string
	User      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

type label struct {
	ID          int64
	Name        string
	Color       string
	Description string
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lower(s string) string { return strings.ToLower(s) }
