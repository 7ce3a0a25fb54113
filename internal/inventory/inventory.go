// Package inventory lists the credentials of GitHub repositories and
// organisations — deploy keys, Actions, Dependabot and Codespaces secrets,
// fine-grained personal access tokens, SSO credential authorizations, App
// installations and webhooks — and records, for every repository and kind,
// whether it could be read in full.
package inventory

import (
	"sort"
	"time"

	"github.com/jitkey/jitkey/internal/policy"
)

// Scope says where a credential lives.
type Scope string

// The scopes a credential can have.
const (
	ScopeRepository   Scope = "repository"
	ScopeOrganization Scope = "organization"
	ScopeEnvironment  Scope = "environment"
)

// Credential is one credential as seen through the API, reduced to the fields
// that show its age, use and scope. It never holds secret material: secret
// values are not readable, webhook secrets are recorded as present or not,
// and webhook URLs keep only scheme and host.
type Credential struct {
	Kind        policy.CredentialKind `json:"kind"`
	ID          string                `json:"id"`   // stable identifier, e.g. "acme/api:deploy_key:42"
	Name        string                `json:"name"` // key title, secret name, token name, app slug, webhook host
	Org         string                `json:"org"`
	Repo        string                `json:"repo,omitempty"` // "owner/name" for repository and environment scope
	Environment string                `json:"environment,omitempty"`
	Scope       Scope                 `json:"scope"`
	RemoteID    int64                 `json:"remote_id,omitempty"` // key, hook, PAT grant, SSO credential or installation id
	Owner       string                `json:"owner,omitempty"`     // who added or owns it
	CreatedAt   time.Time             `json:"created_at,omitzero"`
	UpdatedAt   time.Time             `json:"updated_at,omitzero"` // secrets: last rotation
	LastUsedAt  *time.Time            `json:"last_used_at,omitempty"`
	ExpiresAt   *time.Time            `json:"expires_at,omitempty"`
	Expired     bool                  `json:"expired,omitempty"`
	// Scope of access.
	Write               bool              `json:"write,omitempty"`                // deploy key without read_only
	Visibility          string            `json:"visibility,omitempty"`           // org secrets: all, private, selected
	SelectedRepos       []string          `json:"selected_repos,omitempty"`       // org secrets with selected visibility
	RepositorySelection string            `json:"repository_selection,omitempty"` // app installations, PATs: all, selected/subset
	Permissions         map[string]string `json:"permissions,omitempty"`          // app installations, PATs
	Scopes              []string          `json:"scopes,omitempty"`               // SSO authorizations (OAuth scopes)
	CredentialType      string            `json:"credential_type,omitempty"`      // SSO authorizations
	Suspended           bool              `json:"suspended,omitempty"`            // app installations
	// Webhooks.
	URL         string `json:"url,omitempty"` // scheme://host only
	Active      bool   `json:"active,omitempty"`
	HasSecret   bool   `json:"has_secret,omitempty"`
	InsecureSSL bool   `json:"insecure_ssl,omitempty"`
}

// Target is what a coverage entry is about: "owner/name" for a repository,
// "org:NAME" for an organisation.
func Target(c Credential) string {
	if c.Scope == ScopeOrganization {
		return OrgTarget(c.Org)
	}
	return c.Repo
}

// OrgTarget is the coverage target of an organisation.
func OrgTarget(org string) string { return "org:" + org }

// Status is how completely one kind was read for one target.
type Status string

// The coverage statuses.
const (
	StatusReviewed    Status = "reviewed"     // read in full
	StatusPartial     Status = "partial"      // some pages or sub-resources failed
	StatusNotReviewed Status = "not_reviewed" // could not be read at all
)

// Coverage records how one kind was read for one target.
type Coverage struct {
	Target     string                `json:"target"`
	Kind       policy.CredentialKind `json:"kind"`
	Status     Status                `json:"status"`
	Permission string                `json:"permission,omitempty"` // the permission to add, when access was refused
	Reason     string                `json:"reason,omitempty"`
}

// Repo is one repository in the scan's scope.
type Repo struct {
	FullName   string `json:"full_name"`
	Archived   bool   `json:"archived,omitempty"`
	Fork       bool   `json:"fork,omitempty"`
	OpenIssues int    `json:"open_issues,omitempty"` // -1 when unknown
	Skipped    string `json:"skipped,omitempty"`     // why it was not scanned
}

// Inventory is the result of one scan.
type Inventory struct {
	Org         string       `json:"org,omitempty"`
	Shard       string       `json:"shard,omitempty"`
	ScannedAt   time.Time    `json:"scanned_at"`
	Repos       []Repo       `json:"repos"`
	Credentials []Credential `json:"credentials"`
	Coverage    []Coverage   `json:"coverage"`
	Calls       int          `json:"calls"` // API requests made (pages included)
}

// Complete reports whether kind was read in full for target, so that the
// absence of a credential there means it is really gone.
func (inv *Inventory) Complete(target string, kind policy.CredentialKind) bool {
	for _, c := range inv.Coverage {
		if c.Target == target && c.Kind == kind {
			return c.Status == StatusReviewed
		}
	}
	return false
}

// Partial reports whether any kind of any target was not read in full.
func (inv *Inventory) Partial() bool {
	for _, c := range inv.Coverage {
		if c.Status != StatusReviewed {
			return true
		}
	}
	return false
}

// Gaps returns the coverage entries that were not read in full.
func (inv *Inventory) Gaps() []Coverage {
	var out []Coverage
	for _, c := range inv.Coverage {
		if c.Status != StatusReviewed {
			out = append(out, c)
		}
	}
	return out
}

// Sort puts every list in a stable order, so outputs and merges are deterministic.
func (inv *Inventory) Sort() {
	sort.Slice(inv.Repos, func(i, j int) bool { return inv.Repos[i].FullName < inv.Repos[j].FullName })
	sort.Slice(inv.Credentials, func(i, j int) bool { return inv.Credentials[i].ID < inv.Credentials[j].ID })
	sort.Slice(inv.Coverage, func(i, j int) bool {
		a, b := inv.Coverage[i], inv.Coverage[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Kind < b.Kind
	})
}

// Merge combines inventories of disjoint shards into one. A credential or
// coverage entry seen twice keeps its first copy, except that a coverage entry
// read in full wins over a partial one.
func Merge(parts ...*Inventory) *Inventory {
	out := &Inventory{}
	creds := map[string]bool{}
	repos := map[string]bool{}
	cov := map[string]int{}
	for _, p := range parts {
		if out.Org == "" {
			out.Org = p.Org
		}
		if p.ScannedAt.After(out.ScannedAt) {
			out.ScannedAt = p.ScannedAt
		}
		out.Calls += p.Calls
		for _, r := range p.Repos {
			if !repos[r.FullName] {
				repos[r.FullName] = true
				out.Repos = append(out.Repos, r)
			}
		}
		for _, c := range p.Credentials {
			if !creds[c.ID] {
				creds[c.ID] = true
				out.Credentials = append(out.Credentials, c)
			}
		}
		for _, c := range p.Coverage {
			k := c.Target + "\x00" + string(c.Kind)
			if i, ok := cov[k]; ok {
				if c.Status == StatusReviewed {
					out.Coverage[i] = c
				}
				continue
			}
			cov[k] = len(out.Coverage)
			out.Coverage = append(out.Coverage, c)
		}
	}
	out.Sort()
	return out
}
