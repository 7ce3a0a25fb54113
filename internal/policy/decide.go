package policy

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MaxNearMisses is how many non-matching rules a denial explains.
const MaxNearMisses = 3

// Decide returns the verdict for a job with claims c asking for r.
//
// Rules are tried in order (file order, then order within the file). The
// first rule whose conditions all hold decides: if the request lies within
// its grant (every repository granted, every permission at most the
// granted level) the request is allowed, otherwise it is denied; later
// rules are not tried. A rule with requireVerified never matches claims
// that were not verified. An empty request means the rule's whole grant.
// "caller" in a grant is the claims' repository. The result must also lie
// within the ceiling. Anything else is denied, and every denial says why;
// when no rule matches, NearMisses lists the closest rules (fewest failed
// conditions) with each failed condition.
func Decide(s *Set, c Claims, r Request) Decision {
	if s == nil || len(s.Rules) == 0 {
		return Decision{Reason: "the policy set has no rules, so every request is denied"}
	}
	if reason := checkRequest(r); reason != "" {
		return Decision{Reason: reason}
	}
	for i := range s.Rules {
		if s.Rules[i].matches(&c) {
			return decideRule(s, &s.Rules[i], c, r)
		}
	}
	return Decision{
		Reason:     "no rule matches these claims, so the request is denied by default",
		NearMisses: nearMisses(s.Rules, c),
	}
}

// checkRequest rejects a request naming an unknown permission or level.
func checkRequest(r Request) string {
	for _, name := range sortedKeys(r.Permissions) {
		level := r.Permissions[name]
		levels, ok := permissionLevels[name]
		if !ok {
			return fmt.Sprintf("the request names unknown permission %q; use a GitHub App permission name such as contents or pull_requests (%s)", name, PermissionsSource)
		}
		if !slices.Contains(levels, level) {
			return fmt.Sprintf("the request asks for %s: %q, but %s accepts only %s", name, level, name, strings.Join(levels, ", "))
		}
	}
	for _, repo := range r.Repositories {
		if repo == "" || strings.Count(repo, "/") > 1 || strings.ContainsAny(repo, "* \t") {
			return fmt.Sprintf("the request names repository %q; write owner/name or name", repo)
		}
	}
	return ""
}

func decideRule(s *Set, rule *Rule, c Claims, r Request) Decision {
	deny := func(format string, args ...any) Decision {
		return Decision{Rule: rule.Name, Reason: fmt.Sprintf("rule %q matches, but ", rule.Name) + fmt.Sprintf(format, args...)}
	}
	granted := grantedRepositories(rule.Grant, c, nil)
	d := Decision{Allowed: true, Rule: rule.Name}
	if len(r.Repositories) == 0 {
		d.Repositories = granted
		d.AllRepositories = rule.Grant.AllRepositories
	} else {
		owner := c.RepositoryOwner
		if owner == "" {
			owner, _, _ = strings.Cut(c.Repository, "/")
		}
		for _, repo := range r.Repositories {
			full := qualify(repo, owner)
			if !rule.Grant.AllRepositories && !containsFold(granted, full) {
				return deny("it does not grant repository %s (it grants %s)", full, describeRepos(rule.Grant, granted))
			}
			d.Repositories = append(d.Repositories, full)
		}
	}
	if len(r.Permissions) == 0 {
		// An empty request is the rule's grant: a token request without
		// permissions would get everything the installation has.
		d.Permissions = clone(rule.Grant.Permissions)
	} else {
		for _, name := range sortedKeys(r.Permissions) {
			want, have := r.Permissions[name], rule.Grant.Permissions[name]
			if have == "" {
				return deny("it does not grant %s (it grants %s)", name, describePerms(rule.Grant.Permissions))
			}
			if !LevelAtMost(want, have) {
				return deny("it grants %s: %s, not %s", name, have, want)
			}
		}
		d.Permissions = clone(r.Permissions)
	}
	if len(d.Permissions) == 0 {
		return deny("its grant has no permissions")
	}
	if len(d.Repositories) == 0 && !d.AllRepositories {
		return deny("its grant names no repository for these claims (the job has no repository claim)")
	}
	if reason := beyondCeiling(s.Ceiling, d, callerIDs(c, nil)); reason != "" {
		return deny("%s", reason)
	}
	d.Repositories = sortUnique(d.Repositories)
	d.Reason = fmt.Sprintf("rule %q allows %s on %s", rule.Name, describePerms(d.Permissions), describeDecisionRepos(d))
	return d
}

// beyondCeiling says how d exceeds the ceiling c; ids are the repository
// IDs known (GitHub's answers and the job's claim), for {id: N} entries.
func beyondCeiling(c *Ceiling, d Decision, ids map[string]int64) string {
	if c == nil {
		return ""
	}
	for _, name := range sortedKeys(d.Permissions) {
		if limit := c.Permissions[name]; !LevelAtMost(d.Permissions[name], limit) {
			if limit == "" {
				return fmt.Sprintf("the ceiling does not allow %s", name)
			}
			return fmt.Sprintf("the ceiling allows %s: %s at most", name, limit)
		}
	}
	if c.Repositories == nil {
		return ""
	}
	if d.AllRepositories {
		return "the ceiling limits repositories and the grant is every repository"
	}
	for _, repo := range d.Repositories {
		if !repoAllowed(repo, c.Repositories) && !slices.Contains(c.RepositoryIDs, ids[lowerASCII(repo)]) {
			return fmt.Sprintf("the ceiling does not list repository %s", repo)
		}
	}
	return ""
}

// grantedRepositories resolves "caller" to the claims' repository.
// grantedRepositories is what the grant names for claims c: its names,
// the job's repository for "caller", and for each {id: N} the repository
// that has that ID: the job's own when its repository_id claim is N, and
// any repository GitHub answered with ID N (ids, lower-case "owner/name"
// -> ID; nil when GitHub was not asked). An ID no one has is left out: it
// names no repository the decision knows.
func grantedRepositories(g Grant, c Claims, ids map[string]int64) []string {
	out := slices.Clone(g.Repositories)
	if g.Caller && c.Repository != "" {
		out = append(out, c.Repository)
	}
	if len(g.RepositoryIDs) == 0 {
		return out
	}
	if c.Repository != "" && slices.Contains(g.RepositoryIDs, claimID(c.RepositoryID)) {
		out = append(out, c.Repository)
	}
	for _, name := range slices.Sorted(maps.Keys(ids)) {
		if id := ids[name]; id != 0 && slices.Contains(g.RepositoryIDs, id) {
			out = append(out, name)
		}
	}
	return out
}

// claimID is a repository_id claim as a number; 0 when absent or not one.
func claimID(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// qualify makes "name" into "owner/name" with the calling owner.
func qualify(repo, owner string) string {
	if strings.Contains(repo, "/") || owner == "" {
		return repo
	}
	return owner + "/" + repo
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortUnique(list []string) []string {
	sort.Strings(list)
	return slices.Compact(list)
}

func describePerms(m map[string]string) string {
	if len(m) == 0 {
		return "no permissions"
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+":"+m[k])
	}
	return strings.Join(parts, ", ")
}

func describeRepos(g Grant, granted []string) string {
	if g.AllRepositories {
		return "every repository"
	}
	for _, id := range g.RepositoryIDs {
		granted = append(granted, "repository ID "+strconv.FormatInt(id, 10))
	}
	if len(granted) == 0 {
		return "no repository"
	}
	return strings.Join(granted, ", ")
}

func describeDecisionRepos(d Decision) string {
	if d.AllRepositories {
		return "every repository of the installation"
	}
	return strings.Join(d.Repositories, ", ")
}
