package policydiff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

// CompareHeld is Compare for a set whose place is known (h: the
// repository whose policy it is, the organisation policy's repository),
// adding to the grants each change to who may change policies (see
// policyChanges), marked PolicyChange.
func CompareHeld(base, head *policy.Set, hunks Hunks, h lint.Holder) Result {
	res := Compare(base, head, hunks)
	if head == nil {
		return res
	}
	if base == nil {
		base = &policy.Set{}
	}
	pl := newPlacer(base, head, hunks)
	for _, c := range policyChanges(base, head, h, res.Grants) {
		c.Pos = pl.place(c.Pos, policy.Pos{}, "")
		res.Grants = append(res.Grants, c)
	}
	return res
}

// policyChanges are the changes to who may change policies: a rule that
// newly grants, or grants more through, administration, contents or
// workflows write on a repository holding a policy (the organisation
// policy's, or, in a repository's own policy, that repository: lint's
// grants-policy-repository and grants-own-policy, waived or not), and
// organisation settings that move the organisation policy, let jobs read
// policies at other refs, or accept another OIDC issuer.
func policyChanges(base, head *policy.Set, h lint.Holder, grants []Change) []Change {
	guarded := map[string]policy.Diagnostic{}
	for _, d := range lint.LintHeld(head, h) {
		if d.Code == lint.CodeGrantsPolicyRepository || d.Code == lint.CodeGrantsOwnPolicy {
			if _, ok := guarded[d.Rule]; !ok {
				guarded[d.Rule] = d
			}
		}
	}
	var out []Change
	seen := map[string]bool{}
	for _, g := range grants {
		d, ok := guarded[g.Rule]
		if !ok || seen[g.Rule] || g.PolicyChange {
			continue
		}
		seen[g.Rule] = true
		out = append(out, Change{Rule: g.Rule, Pos: g.Pos, PolicyChange: true, Sentence: fmt.Sprintf(
			"this change widens who may change policies: %s [%s]", strings.TrimSuffix(d.Message, "."), d.Code)})
	}
	return append(out, organizationChanges(base.Organization, head.Organization)...)
}

// organizationChanges compares the organisation settings that decide
// where policies are read from and whose tokens count.
func organizationChanges(b, r *policy.Organization) []Change {
	if r == nil {
		return nil
	}
	if b == nil {
		b = &policy.Organization{}
	}
	change := func(at policy.Pos, format string, args ...any) Change {
		if at.Line == 0 {
			at = r.Pos
		}
		return Change{Rule: "organization", Pos: at, PolicyChange: true, Sentence: "this change widens who may change policies: " + fmt.Sprintf(format, args...)}
	}
	var out []Change
	if !strings.EqualFold(b.PolicyRepository, r.PolicyRepository) || b.PolicyPath != r.PolicyPath {
		out = append(out, change(r.PolicyPos, "organization.policy moves the organisation policy from %s to %s; whoever can write there decides every grant, so protect it as the old location was",
			location(b), location(r)))
	}
	if more := widerRefs(b.PolicyRefs, r.PolicyRefs); more != "" {
		out = append(out, change(r.PolicyRefs.Pos, "organization.policy_refs lets jobs read their repository's policy at %s (policy-ref) instead of the default branch; whoever can push such a ref writes the policy their jobs are decided by", more))
	}
	var issuers []string
	for _, iss := range r.Issuers {
		if !slices.Contains(b.Issuers, iss) {
			issuers = append(issuers, iss)
		}
	}
	if len(issuers) > 0 {
		out = append(out, change(r.IssuersPos, "organization.issuers now accepts tokens of %s; whoever controls that issuer can present any claims", strings.Join(issuers, ", ")))
	}
	return out
}

func location(o *policy.Organization) string {
	if o.PolicyRepository == "" && o.PolicyPath == "" {
		return "the default (OWNER/.github, .github/jitkey)"
	}
	repo, path := o.PolicyRepository, o.PolicyPath
	if repo == "" {
		repo = "OWNER/.github"
	}
	if path == "" {
		path = ".github/jitkey"
	}
	return repo + ", " + path
}

// widerRefs describes the refs head's policy_refs admits beyond base's:
// values and patterns base did not have ("" when none).
func widerRefs(b, r *policy.Condition) string {
	if r == nil {
		return ""
	}
	var more []string
	for _, v := range r.Values {
		if b == nil || !b.Admits(v) {
			more = append(more, v)
		}
	}
	for _, p := range r.Patterns {
		if b == nil || !slices.Contains(b.Patterns, p) {
			more = append(more, "refs matching /"+p+"/")
		}
	}
	return strings.Join(more, " or ")
}
