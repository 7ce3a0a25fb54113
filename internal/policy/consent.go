package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// OrgPolicyName names the organisation policy in consents and reasons.
const OrgPolicyName = "organization"

// Consent is one repository's permission for a token: the policy that holds
// the rule (OrgPolicyName, or the "owner/name" whose own policy it is) and
// the rule.
type Consent struct {
	Repository string `json:"repository"`
	Policy     string `json:"policy"`
	Rule       string `json:"rule"`
}

// Policies is everything one decision reads: the organisation policy and
// the policies of the repositories involved.
type Policies struct {
	// Owner is the organisation (or user) login the policies belong to.
	Owner string
	// Org is the organisation policy; nil means none was found, and
	// DecideScope denies everything (fail closed).
	Org *Set
	// Repos holds each repository's own policy (its whole .github/jitkey/
	// directory), keyed by lower-case "owner/name"; a repository without a
	// policy has no entry.
	Repos map[string]*Set
	// IDs are repository IDs as read from GitHub, keyed by lower-case
	// "owner/name" (0 or absent: not known).
	IDs map[string]int64
	// OwnerID is the owner's account ID as read from GitHub (0: not known).
	OwnerID int64
	// OrgRepository is the organisation policy's repository ("owner/name"):
	// no token ever writes to it (default OWNER/.github).
	OrgRepository string
}

// policyWrite are the permissions that can change a repository's policy
// files or who may: write on them to the organisation policy's repository
// is never granted.
var policyWrite = []string{"administration", "contents", "workflows"}

// RepoPolicy returns the policy of repository "owner/name", nil if none.
func (p Policies) RepoPolicy(repo string) *Set { return p.Repos[lowerASCII(repo)] }

// CheckRepositoryPolicy reports what a repository's own policy may not
// hold: a ceiling or an organization section (only the organisation policy
// caps and configures).
func CheckRepositoryPolicy(repo string, s *Set) error {
	switch {
	case s == nil:
		return nil
	case s.Ceiling != nil:
		return fmt.Errorf("the policy of %s declares a ceiling at %s: only the organisation policy caps grants; remove it (a repository cannot raise or set its own ceiling)", repo, s.Ceiling.Pos)
	case s.Organization != nil:
		return fmt.Errorf("the policy of %s has an organization section at %s: it belongs in the organisation policy; remove it", repo, s.Organization.Pos)
	}
	return nil
}

// DecideScope decides a request under the organisation-and-consent model.
//
// Every repository of the token must allow it: a rule in that repository's
// own policy, or in the organisation policy, whose match holds for the
// claims, whose grant names the repository ("caller" names the job's own
// repository, "*" every repository of the owner) and whose permissions
// cover the request. A repository's policy consents only for itself; a
// token never spans owners, and its owner is the caller's. When the request
// leaves repositories or permissions out, the first rule matching the
// claims in the caller's policy (then the organisation's) gives them, and
// each repository it names must still consent. Everything lies within the
// organisation ceiling; a repository whose ID differs from the ID the
// organisation binds its name to (or from the job's repository_id claim,
// for the caller) gets nothing. A denial names the repository that refused.
func DecideScope(p Policies, c Claims, r Request) Decision {
	if p.Org == nil {
		return Decision{Reason: "there is no organisation policy, so every request is denied (fail closed); commit one to the organisation's policy repository"}
	}
	if reason := checkRequest(r); reason != "" {
		return Decision{Reason: reason}
	}
	caller := c.Repository
	owner, _, _ := strings.Cut(caller, "/")
	if owner == "" {
		return Decision{Reason: "the job has no repository claim, so no policy applies"}
	}
	if d, bad := callerBound(p, c); bad {
		return d
	}
	repos, perms, scope, d, ok := scopeOf(p, c, r, owner)
	if !ok {
		return d
	}
	out := Decision{Allowed: true, Permissions: perms}
	for _, repo := range repos {
		if reason := writesOrgPolicy(p, owner, repo, perms); reason != "" {
			return Decision{Refused: repo, Reason: reason}
		}
		cons, refusal := consentOf(p, c, repo, perms)
		if refusal.Reason != "" {
			return refusal
		}
		out.Consents = append(out.Consents, cons)
		out.Repositories = append(out.Repositories, cons.Repository)
	}
	out.Repositories = sortUnique(out.Repositories)
	out.Rule = mainRule(out.Consents, caller, scope)
	out.Reason = fmt.Sprintf("%s allowed on %s: %s", describePerms(perms), strings.Join(out.Repositories, ", "), describeConsents(out.Consents))
	return out
}

// writesOrgPolicy refuses write on the organisation policy's repository:
// whoever could write there could grant themselves anything.
func writesOrgPolicy(p Policies, owner, repo string, perms map[string]string) string {
	orgRepo := p.OrgRepository
	if orgRepo == "" {
		orgRepo = owner + "/.github"
	}
	if !strings.EqualFold(repo, orgRepo) {
		return ""
	}
	for _, name := range policyWrite {
		if LevelAtMost("write", perms[name]) {
			return fmt.Sprintf("%s refuses: it holds the organisation policy, and jitkey never grants %s: %s on it (whoever could write there could grant themselves anything); change it through reviewed pull requests", repo, name, perms[name])
		}
	}
	return ""
}

// callerBound denies claims whose repository_id is not the ID bound to the
// caller's name (by the organisation, or as read from GitHub).
func callerBound(p Policies, c Claims) (Decision, bool) {
	if c.RepositoryID == "" {
		return Decision{}, false
	}
	if id, ok := p.Org.Organization.BoundID(c.Repository); ok && strconv.FormatInt(id, 10) != c.RepositoryID {
		return Decision{Refused: c.Repository, Reason: fmt.Sprintf("%s is bound to repository ID %d by the organisation policy, but the job's repository_id is %s: the repository was renamed or re-created, so it inherits no grant; update repository_ids in the organisation policy if this is intended", c.Repository, id, c.RepositoryID)}, true
	}
	if id := p.IDs[lowerASCII(c.Repository)]; id != 0 && strconv.FormatInt(id, 10) != c.RepositoryID {
		return Decision{Refused: c.Repository, Reason: fmt.Sprintf("the policy read for %s belongs to repository ID %d, but the job's repository_id is %s: the repository was renamed or re-created meanwhile; retry the job", c.Repository, id, c.RepositoryID)}, true
	}
	return Decision{}, false
}

// scopeOf is the token's repositories and permissions: the request's, or
// the grant of the first rule matching in the caller's policy, then the
// organisation's.
func scopeOf(p Policies, c Claims, r Request, owner string) ([]string, map[string]string, *Consent, Decision, bool) {
	var repos []string
	for _, repo := range r.Repositories {
		full := qualify(repo, owner)
		if o, _, _ := strings.Cut(full, "/"); !strings.EqualFold(o, owner) {
			return nil, nil, nil, Decision{Refused: full, Reason: fmt.Sprintf("the request names %s, of another owner than the job's (%s): a token covers repositories of the job's owner only", full, owner)}, false
		}
		repos = append(repos, full)
	}
	perms := clone(r.Permissions)
	if len(repos) > 0 && len(perms) > 0 {
		return repos, perms, nil, Decision{}, true
	}
	rule, where := firstMatch(p, c)
	if rule == nil {
		return nil, nil, nil, Decision{
			Reason:     fmt.Sprintf("no rule in the policy of %s or the organisation policy matches these claims, so the request is denied by default", c.Repository),
			NearMisses: nearMisses(append(slices.Clone(rulesOf(p.RepoPolicy(c.Repository))), rulesOf(p.Org)...), c),
		}, false
	}
	scope := &Consent{Policy: where, Rule: rule.Name}
	deny := func(format string, args ...any) Decision {
		return Decision{Rule: rule.Name, Reason: fmt.Sprintf("rule %q (%s) matches, but ", rule.Name, policyLabel(where)) + fmt.Sprintf(format, args...)}
	}
	if len(repos) == 0 {
		if rule.Grant.AllRepositories {
			return nil, nil, nil, deny("it grants every repository and the request names none: set the repositories input to the repositories the job needs"), false
		}
		repos = grantedRepositories(rule.Grant, c, p.IDs)
		if id, ok := unresolvedID(rule.Grant, c, p.IDs); ok {
			return nil, nil, nil, deny("its grant names repository ID %d, and the request names no repositories: a default scope needs names; set the repositories input to the repositories the job needs", id), false
		}
		if len(repos) == 0 {
			return nil, nil, nil, deny("its grant names no repository for these claims"), false
		}
	}
	if len(perms) == 0 {
		perms = clone(rule.Grant.Permissions)
		if len(perms) == 0 {
			return nil, nil, nil, deny("its grant has no permissions"), false
		}
	}
	return repos, perms, scope, Decision{}, true
}

func firstMatch(p Policies, c Claims) (*Rule, string) {
	if s := p.RepoPolicy(c.Repository); s != nil {
		for i := range s.Rules {
			if s.Rules[i].matches(&c) {
				return &s.Rules[i], c.Repository
			}
		}
	}
	for i := range p.Org.Rules {
		if p.Org.Rules[i].matches(&c) {
			return &p.Org.Rules[i], OrgPolicyName
		}
	}
	return nil, ""
}

// consentOf finds the rule that lets the job have perms on repo: in repo's
// own policy, then in the organisation's; or the refusal, naming repo.
func consentOf(p Policies, c Claims, repo string, perms map[string]string) (Consent, Decision) {
	refuse := func(format string, args ...any) (Consent, Decision) {
		return Consent{}, Decision{Refused: repo, Reason: repo + " refuses: " + fmt.Sprintf(format, args...)}
	}
	if id, ok := p.Org.Organization.BoundID(repo); ok {
		if got := p.IDs[lowerASCII(repo)]; got != 0 && got != id {
			return refuse("the organisation policy binds %s to repository ID %d, but the repository now has ID %d (renamed or re-created), so its grants do not carry over; update repository_ids if this is intended", repo, id, got)
		}
	}
	type source struct {
		name string
		set  *Set
	}
	var covering []Rule
	var short string
	for _, src := range []source{{repo, p.RepoPolicy(repo)}, {OrgPolicyName, p.Org}} {
		if src.set == nil {
			continue
		}
		for i := range src.set.Rules {
			rule := &src.set.Rules[i]
			if !covers(rule.Grant, c, repo, src.name, p.Owner, p.IDs) {
				continue
			}
			covering = append(covering, *rule)
			if !rule.matches(&c) {
				continue
			}
			if lack := permsBeyond(perms, rule.Grant.Permissions); lack != "" {
				if short == "" {
					short = fmt.Sprintf("rule %q (%s) matches, but %s", rule.Name, policyLabel(src.name), lack)
				}
				continue
			}
			if reason := beyondOrgCeiling(p.Org.Ceiling, repo, repoID(p.IDs, c, repo), perms); reason != "" {
				return refuse("rule %q (%s) allows it, but %s", rule.Name, policyLabel(src.name), reason)
			}
			return Consent{Repository: repo, Policy: src.name, Rule: rule.Name}, Decision{}
		}
	}
	if short != "" {
		return refuse("%s", short)
	}
	_, d := refuse("no rule in its policy or the organisation policy that grants on %s matches these claims", repo)
	if p.RepoPolicy(repo) == nil {
		d.Reason += fmt.Sprintf(" (%s has no policy of its own)", repo)
	}
	d.NearMisses = nearMisses(covering, c)
	return Consent{}, d
}

// covers reports whether a rule of the policy held by holder grants on repo:
// a repository's policy grants only on that repository.
func covers(g Grant, c Claims, repo, holder, owner string, ids map[string]int64) bool {
	if holder != OrgPolicyName && !strings.EqualFold(holder, repo) {
		return false
	}
	if g.AllRepositories {
		o, _, _ := strings.Cut(repo, "/")
		return strings.EqualFold(o, owner) || owner == ""
	}
	return containsFold(grantedRepositories(g, c, ids), repo)
}

// permsBeyond says which asked permission the grant does not cover.
func permsBeyond(asked, granted map[string]string) string {
	for _, name := range sortedKeys(asked) {
		have := granted[name]
		if have == "" {
			return fmt.Sprintf("it does not grant %s (it grants %s)", name, describePerms(granted))
		}
		if !LevelAtMost(asked[name], have) {
			return fmt.Sprintf("it grants %s: %s, not %s", name, have, asked[name])
		}
	}
	return ""
}

// beyondOrgCeiling applies the organisation ceiling to perms on repo.
func beyondOrgCeiling(c *Ceiling, repo string, id int64, perms map[string]string) string {
	if c == nil {
		return ""
	}
	if reason := beyondCeiling(c, Decision{Repositories: []string{repo}, Permissions: perms}, map[string]int64{lowerASCII(repo): id}); reason != "" {
		return "the organisation " + strings.TrimPrefix(reason, "the ")
	}
	for _, pr := range c.PerRepository {
		if !repoAllowed(repo, pr.Repositories) && (id == 0 || !slices.Contains(pr.RepositoryIDs, id)) {
			continue
		}
		for _, name := range sortedKeys(perms) {
			if limit := pr.Permissions[name]; !LevelAtMost(perms[name], limit) {
				if limit == "" {
					return fmt.Sprintf("the organisation ceiling for %s does not allow %s", repo, name)
				}
				return fmt.Sprintf("the organisation ceiling for %s allows %s: %s at most", repo, name, limit)
			}
		}
	}
	return ""
}

func mainRule(cons []Consent, caller string, scope *Consent) string {
	if scope != nil {
		return scope.Rule
	}
	for _, c := range cons {
		if strings.EqualFold(c.Repository, caller) {
			return c.Rule
		}
	}
	if len(cons) > 0 {
		return cons[0].Rule
	}
	return ""
}

func describeConsents(cons []Consent) string {
	parts := make([]string, len(cons))
	for i, c := range cons {
		parts[i] = fmt.Sprintf("%s by rule %q (%s)", c.Repository, c.Rule, policyLabel(c.Policy))
	}
	return strings.Join(parts, ", ")
}

func policyLabel(holder string) string {
	if holder == OrgPolicyName {
		return "organisation policy"
	}
	return "policy of " + holder
}

func rulesOf(s *Set) []Rule {
	if s == nil {
		return nil
	}
	return s.Rules
}

// Targets lists the repositories a request would cover ("owner/name"):
// the request's, or those of the first rule matching in the caller's
// policy, then the organisation's. A resolver reads their policies before
// DecideScope; nil when there are none yet to name.
func Targets(p Policies, c Claims, r Request) []string {
	owner, _, _ := strings.Cut(c.Repository, "/")
	if p.Org == nil || owner == "" {
		return nil
	}
	repos, _, _, _, ok := scopeOf(p, c, r, owner)
	if !ok {
		return nil
	}
	return repos
}

// repoID is the ID of repository "owner/name": GitHub's answer (ids), or,
// for the job's own repository, its repository_id claim; 0 when unknown.
func repoID(ids map[string]int64, c Claims, repo string) int64 {
	if id := ids[lowerASCII(repo)]; id != 0 {
		return id
	}
	if strings.EqualFold(repo, c.Repository) {
		return claimID(c.RepositoryID)
	}
	return 0
}

// callerIDs is ids with the job's own repository's ID from its claim when
// ids does not hold it.
func callerIDs(c Claims, ids map[string]int64) map[string]int64 {
	id := claimID(c.RepositoryID)
	if id == 0 || c.Repository == "" || ids[lowerASCII(c.Repository)] != 0 {
		return ids
	}
	out := maps.Clone(ids)
	if out == nil {
		out = map[string]int64{}
	}
	out[lowerASCII(c.Repository)] = id
	return out
}

// unresolvedID returns an {id: N} of the grant that no repository known to
// the decision has (the job's own by its claim, or one GitHub answered).
func unresolvedID(g Grant, c Claims, ids map[string]int64) (int64, bool) {
	for _, id := range g.RepositoryIDs {
		if id == claimID(c.RepositoryID) && c.Repository != "" {
			continue
		}
		if !slices.Contains(slices.Collect(maps.Values(ids)), id) {
			return id, true
		}
	}
	return 0, false
}
