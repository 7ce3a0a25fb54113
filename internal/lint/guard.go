package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// The codes of the self-escalation guards.
const (
	CodeGrantsPolicyRepository = "grants-policy-repository"
	CodeGrantsOwnPolicy        = "grants-own-policy"
)

// policyWrite are the permissions that change a repository's policy files
// or who may: administration, contents, workflows.
var policyWrite = []string{"administration", "contents", "workflows"}

func guardChecks() []CheckInfo {
	return []CheckInfo{
		{CodeGrantsPolicyRepository, policy.SeverityError, "administration, contents or workflows write granted on the organisation policy's repository: whoever holds it could grant themselves anything"},
		{CodeGrantsOwnPolicy, policy.SeverityError, "administration, contents or workflows write granted on the repository whose policy holds the rule: a job could rewrite the policy that consents for it"},
	}
}

// Holder says where a policy set lives.
type Holder struct {
	// Repository is the "owner/name" whose .github/jitkey/ holds the set;
	// empty: not known (only repositories named ".github" are then checked).
	Repository string
	// OrgRepository is the organisation policy's repository when its
	// organization section moves it; OWNER/.github (OWNER taken from
	// Repository) is guarded too, since the location is read from there.
	OrgRepository string
	// Org reports whether the set is the organisation policy.
	Org bool
	// IDs are the repository IDs the organisation binds names to
	// (organization.repository_ids, lower-case "owner/name" -> ID), for
	// grants that name a repository by ID.
	IDs map[string]int64
}

// idHolder names the repository the organisation binds ID id to; "" when
// it binds none.
func (h Holder) idHolder(id int64) string {
	for name, bound := range h.IDs {
		if bound == id {
			return name
		}
	}
	return ""
}

func (h Holder) owner() string {
	for _, r := range []string{h.Repository, h.OrgRepository} {
		if o, _, ok := strings.Cut(r, "/"); ok {
			return o
		}
	}
	return ""
}

// policyRepositories are the repositories no grant may write: the
// organisation policy's, and OWNER/.github, where its location is read
// from ("" when the owner is not known: any ".github" repository).
func (h Holder) policyRepositories() []string {
	def := ""
	if o := h.owner(); o != "" {
		def = o + "/.github"
	}
	if h.OrgRepository == "" || strings.EqualFold(h.OrgRepository, def) {
		return []string{def}
	}
	return []string{h.OrgRepository, def}
}

// LintHeld is Lint with the guards that need to know where the set lives:
// grants-policy-repository and grants-own-policy.
func LintHeld(s *policy.Set, h Holder) []policy.Diagnostic {
	out := Lint(s)
	if s == nil {
		return out
	}
	for _, r := range s.Rules {
		out = append(out, guards(r, h)...)
	}
	Sort(out)
	return out
}

func guards(r policy.Rule, h Holder) []policy.Diagnostic {
	perms := policyWrites(r.Grant)
	if len(perms) == 0 {
		return nil
	}
	what := strings.Join(perms, ", ")
	gpos := pos(r.Grant.Pos, r.Pos)
	var out []policy.Diagnostic
	// Only the organisation policy consents for its own repository; a set
	// whose holder is not known is checked for ".github" names only.
	known := h.Repository != "" || h.OrgRepository != ""
	for _, orgRepo := range h.policyRepositories() {
		how, ok := grantsOn(r, orgRepo, h.owner(), true)
		if !ok && h.Org {
			how, ok = grantsByID(r, orgRepo, h, false)
		}
		if !ok || !h.Org && (known || !strings.HasPrefix(how, "repository ")) {
			continue
		}
		out = append(out, diag(gpos, CodeGrantsPolicyRepository, r.Name,
			"rule %q grants write on %s to %s; %s holds the organisation policy, and whoever could write there could grant themselves anything (the mint refuses it); remove %s from the grant, or narrow the rule so it cannot reach %s",
			r.Name, what, how, orgDesc(orgRepo), what, orgDesc(orgRepo)))
		break
	}
	if !h.Org && h.Repository != "" {
		how, ok := grantsOn(r, h.Repository, h.owner(), false)
		if !ok {
			how, ok = grantsByID(r, h.Repository, h, true)
		}
		if ok {
			out = append(out, diag(gpos, CodeGrantsOwnPolicy, r.Name,
				"rule %q grants write on %s to %s, and %s's .github/jitkey/ holds this rule: a job could rewrite the policy that consents for it; remove %s from the grant, or grant it from the organisation policy with a protected ref and an environment with required reviewers",
				r.Name, what, how, h.Repository, what))
		}
	}
	return out
}

func orgDesc(repo string) string {
	if repo == "" {
		return "a .github repository"
	}
	return repo
}

// policyWrites returns the policy-changing permissions the grant gives at
// write or admin, in policyWrite order.
func policyWrites(g policy.Grant) []string {
	var out []string
	for _, name := range policyWrite {
		if l := g.Permissions[name]; l == "write" || l == "admin" {
			out = append(out, name)
		}
	}
	return out
}

// grantsOn reports whether the rule's grant may name repo, and how: by
// name (in any case), by "*", or by "caller" when the rule's repository
// condition admits repo (in a repository's own policy, orgPolicy false, a "caller" grant
// with no repository condition counts too). An empty repo checks names
// against any ".github" repository.
func grantsOn(r policy.Rule, repo, owner string, orgPolicy bool) (string, bool) {
	g := r.Grant
	if g.AllRepositories || slices.Contains(g.Repositories, "*") {
		return `every repository ("*")`, true
	}
	for _, name := range g.Repositories {
		q := name
		if !strings.Contains(q, "/") && owner != "" {
			q = owner + "/" + q
		}
		if (repo != "" && strings.EqualFold(q, repo)) || (repo == "" && strings.EqualFold(lastPart(q), ".github")) {
			return "repository " + name, true
		}
	}
	if !g.Caller || repo == "" {
		return "", false
	}
	c, ok := condition(r, "repository")
	if !ok {
		// A repository's own policy consents only for itself: its "caller"
		// is the holder whenever the grant takes effect.
		return `"caller" (which can be ` + repo + ")", !orgPolicy
	}
	if admitsFold(c, repo) {
		return `"caller" (the rule matches ` + repo + ")", true
	}
	return "", false
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// admitsFold reports whether the condition admits repo in any case: by a
// value equal but for case, or a pattern matching it as written or in lower
// case.
func admitsFold(c policy.Condition, repo string) bool {
	for _, v := range c.Values {
		if strings.EqualFold(v, repo) {
			return true
		}
	}
	for _, v := range []string{repo, strings.ToLower(repo)} {
		p := policy.Condition{Claim: c.Claim, Patterns: c.Patterns}
		if p.Admits(v) {
			return true
		}
	}
	return false
}

// grantsByID reports whether the grant names repo by ID: an {id: N} the
// organisation binds to repo, or, when unknown is true (a repository's
// own policy, whose grants take effect only on itself), an ID it binds to
// no repository at all.
func grantsByID(r policy.Rule, repo string, h Holder, unknown bool) (string, bool) {
	for _, id := range r.Grant.RepositoryIDs {
		switch holder := h.idHolder(id); {
		case strings.EqualFold(holder, repo):
			return fmt.Sprintf("repository %s (bound to %s)", policy.IDName(id), repo), true
		case holder == "" && unknown:
			return fmt.Sprintf("repository %s (which can be %s: a repository's policy grants only on itself)", policy.IDName(id), repo), true
		}
	}
	return "", false
}
