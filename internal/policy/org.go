package policy

import (
	"cuelang.org/go/cue"
)

// Organization is the part of a policy set only the organisation policy
// may hold (see schemas/policy.cue, #Organization).
type Organization struct {
	// PolicyRepository and PolicyPath move the organisation policy away from
	// its default location (ORG/.github, .github/jitkey/); empty: default.
	PolicyRepository string `json:"policy_repository,omitempty"`
	PolicyPath       string `json:"policy_path,omitempty"`
	// Issuers are the accepted OIDC issuers; empty: GitHub's.
	Issuers []string `json:"issuers,omitempty"`
	// PolicyRefs are the refs a job may read repository policies at; nil:
	// only the default branch.
	PolicyRefs *Condition `json:"policy_refs,omitempty"`
	// RepositoryIDs binds "owner/name" (lower case) to the repository's ID.
	RepositoryIDs map[string]int64 `json:"repository_ids,omitempty"`
	Pos           Pos              `json:"pos"`
	// PolicyPos and IssuersPos are where policy and issuers are written
	// (zero when absent), for the grant diff.
	PolicyPos  Pos `json:"-"`
	IssuersPos Pos `json:"-"`
}

// RepositoryCeiling caps the repositories it names (by name, "owner/*" or
// ID) at Permissions.
type RepositoryCeiling struct {
	Repositories  []string          `json:"repositories,omitempty"`
	RepositoryIDs []int64           `json:"repository_ids,omitempty"`
	Permissions   map[string]string `json:"permissions"`
}

// AllowsRef reports whether the organisation lets a job read repository
// policies at ref (policy-ref); the default branch ("") is always allowed.
func (o *Organization) AllowsRef(ref string) bool {
	if ref == "" {
		return true
	}
	return o != nil && o.PolicyRefs != nil && o.PolicyRefs.Admits(ref)
}

// BoundID returns the ID the organisation binds repository "owner/name" to.
func (o *Organization) BoundID(repo string) (int64, bool) {
	if o == nil {
		return 0, false
	}
	id, ok := o.RepositoryIDs[lowerASCII(repo)]
	return id, ok
}

// idOf is the ID the organisation binds repo to; 0 when none.
func (o *Organization) idOf(repo string) int64 {
	id, _ := o.BoundID(repo)
	return id
}

func (d *decoder) organization(v cue.Value, at vpath) *Organization {
	o := &Organization{Pos: d.pos(at)}
	if p, ok := lookup(v, "policy"); ok {
		pp := at.field("policy")
		o.PolicyRepository, o.PolicyPath = d.strField(p, pp, "repository", ""), d.strField(p, pp, "path", "")
		o.PolicyPos = d.at(p, pp)
	}
	if f, ok := lookup(v, "issuers"); ok {
		o.Issuers = d.strings(f, at.field("issuers"))
		o.IssuersPos = d.at(f, at.field("issuers"))
	}
	if f, ok := lookup(v, "policy_refs"); ok {
		c := d.condition("organization", "policy_ref", f, at.field("policy_refs"))
		o.PolicyRefs = &c
	}
	if f, ok := lookup(v, "repository_ids"); ok {
		o.RepositoryIDs = map[string]int64{}
		d.fields(f, at.field("repository_ids"), func(name string, f cue.Value, p vpath) {
			o.RepositoryIDs[lowerASCII(name)] = int64(d.integer(f, p))
		})
	}
	return o
}

func (d *decoder) perRepository(v cue.Value, at vpath) []RepositoryCeiling {
	var out []RepositoryCeiling
	d.each(v, at, func(_ int, e cue.Value, p vpath) {
		rc := RepositoryCeiling{}
		if f, ok := lookup(e, "repositories"); ok {
			names, ids := d.repositories(f, p.field("repositories"))
			rc.Repositories, rc.RepositoryIDs = names, append(rc.RepositoryIDs, ids...)
		}
		if f, ok := lookup(e, "repository_ids"); ok {
			d.each(f, p.field("repository_ids"), func(_ int, n cue.Value, np vpath) {
				rc.RepositoryIDs = append(rc.RepositoryIDs, int64(d.integer(n, np)))
			})
		}
		pf, _ := lookup(e, "permissions")
		rc.Permissions = d.stringMap(pf, p.field("permissions"))
		out = append(out, rc)
	})
	return out
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// CodeRepositoryCeiling marks a repository policy holding what only the
// organisation policy may: a ceiling or an organization section.
const CodeRepositoryCeiling = "repository-ceiling"

// AboveCeiling reports every grant of s beyond the organisation ceiling c
// (another set's), positioned at the grant.
func AboveCeiling(s *Set, c *Ceiling) []Diagnostic {
	if s == nil || c == nil {
		return nil
	}
	var out []Diagnostic
	for _, r := range s.Rules {
		for _, name := range permissionsAbove(r.Grant.Permissions, c) {
			level, limit := r.Grant.Permissions[name], c.Permissions[name]
			if limit == "" {
				out = append(out, r.Grant.Pos.diag(CodeAboveCeiling, r.Name,
					"rule %q grants %s: %s, but the organisation ceiling at %s does not allow %s; remove it, or ask the organisation to raise its ceiling", r.Name, name, level, c.Pos, name))
				continue
			}
			out = append(out, r.Grant.Pos.diag(CodeAboveCeiling, r.Name,
				"rule %q grants %s: %s, but the organisation ceiling at %s allows at most %s; lower the grant", r.Name, name, level, c.Pos, limit))
		}
	}
	return out
}

// permissionsAbove lists, in name order, the permissions of perms that the
// ceiling c does not allow at all (no limit) or allows only at a lower level.
func permissionsAbove(perms map[string]string, c *Ceiling) []string {
	var above []string
	for _, name := range sortedKeys(perms) {
		if limit := c.Permissions[name]; limit == "" || !LevelAtMost(perms[name], limit) {
			above = append(above, name)
		}
	}
	return above
}
