package review

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// DefaultRules are the thresholds used for a kind the policy does not
// mention: the policy language's documented defaults.
func DefaultRules() map[policy.CredentialKind]policy.KindRule { return policy.DefaultKindRules() }

// Rules returns the rule of every kind: the policy's, else the default.
func Rules(rv policy.Review) map[policy.CredentialKind]policy.KindRule {
	rules := DefaultRules()
	for k, r := range rv.Kinds {
		rules[k] = r
	}
	return rules
}

// EnabledKinds lists the kinds a review reads, sorted.
func EnabledKinds(rv policy.Review) []policy.CredentialKind {
	var out []policy.CredentialKind
	for k, r := range Rules(rv) {
		if r.Enabled {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var kindNames = map[policy.CredentialKind]string{
	policy.KindDeployKey:        "deploy key",
	policy.KindActionsSecret:    "Actions secret",
	policy.KindDependabotSecret: "Dependabot secret",
	policy.KindCodespacesSecret: "Codespaces secret",
	policy.KindFineGrainedPAT:   "fine-grained personal access token",
	policy.KindSSOAuthorization: "SSO credential authorization",
	policy.KindAppInstallation:  "App installation",
	policy.KindWebhook:          "webhook",
}

// KindName is the human name of a kind.
func KindName(k policy.CredentialKind) string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return string(k)
}

// Where says where a credential lives, for titles.
func Where(c inventory.Credential) string {
	switch c.Scope {
	case inventory.ScopeEnvironment:
		return fmt.Sprintf("%s (environment %s)", c.Repo, c.Environment)
	case inventory.ScopeOrganization:
		return "organisation " + c.Org
	}
	return c.Repo
}

func newFinding(c inventory.Credential, t Type, severity, summary string, evidence ...Fact) Finding {
	adj := map[Type]string{Dormant: "dormant", Stale: "stale", OverScoped: "over-scoped", Insecure: "insecure"}[t]
	title := fmt.Sprintf("[jitkey] %s %s %q in %s", adj, KindName(c.Kind), c.Name, Where(c))
	base := []Fact{{"Credential", c.ID}, {"Where", Where(c)}}
	return Finding{Type: t, Severity: severity, Title: title, Summary: summary, Evidence: append(base, evidence...)}
}

// check applies one kind's rule to one credential.
func check(c inventory.Credential, r policy.KindRule, now time.Time) []Finding {
	var out []Finding
	switch c.Kind {
	case policy.KindDeployKey:
		out = appendIf(out, dormant(c, r, now))
		if c.Write && !r.AllowWrite {
			out = append(out, newFinding(c, OverScoped, "error",
				"This deploy key can push to the repository, and the review policy allows read-only deploy keys only.",
				Fact{"Access", "read and write"}, Fact{"Added by", orNone(c.Owner)}, Fact{"Created", day(c.CreatedAt)}))
		}
	case policy.KindActionsSecret, policy.KindDependabotSecret, policy.KindCodespacesSecret:
		if r.StaleDays > 0 && daysBetween(c.UpdatedAt, now) > r.StaleDays {
			out = append(out, newFinding(c, Stale, "warning",
				fmt.Sprintf("This secret was last set on %s, more than %d days ago.", day(c.UpdatedAt), r.StaleDays),
				Fact{"Created", day(c.CreatedAt)}, Fact{"Last rotated", day(c.UpdatedAt)}))
		}
		if c.Scope == inventory.ScopeOrganization && c.Visibility == "all" && !r.AllowVisibilityAll {
			out = append(out, newFinding(c, OverScoped, "error",
				"This organisation secret is visible to every repository of the organisation, including new ones.",
				Fact{"Visibility", "all repositories"}))
		}
	case policy.KindFineGrainedPAT:
		out = appendIf(out, dormant(c, r, now))
		out = appendIf(out, patStale(c, r, now))
		out = appendIf(out, patScope(c, r))
	case policy.KindSSOAuthorization:
		out = appendIf(out, dormant(c, r, now))
	case policy.KindAppInstallation:
		out = appendIf(out, appScope(c, r))
	case policy.KindWebhook:
		var facts []Fact
		if r.RequireSecret && !c.HasSecret {
			facts = append(facts, Fact{"Secret", "none: deliveries are not signed"})
		}
		if r.RequireSSL && c.InsecureSSL {
			facts = append(facts, Fact{"SSL verification", "off (insecure_ssl is \"1\")"})
		}
		if len(facts) > 0 {
			facts = append(facts, Fact{"URL", c.URL}, Fact{"Active", fmt.Sprint(c.Active)})
			out = append(out, newFinding(c, Insecure, "error",
				"This webhook's deliveries can be forged or intercepted.", facts...))
		}
	}
	return out
}

func appendIf(out []Finding, f *Finding) []Finding {
	if f != nil {
		out = append(out, *f)
	}
	return out
}

// dormant: used, but not for DormantDays; or never used and older than NeverUsedDays.
func dormant(c inventory.Credential, r policy.KindRule, now time.Time) *Finding {
	verb := map[policy.CredentialKind]string{policy.KindSSOAuthorization: "accessed"}[c.Kind]
	if verb == "" {
		verb = "used"
	}
	if c.LastUsedAt != nil {
		if r.DormantDays > 0 && daysBetween(*c.LastUsedAt, now) > r.DormantDays {
			f := newFinding(c, Dormant, "warning",
				fmt.Sprintf("This %s was last %s on %s, more than %d days ago.", KindName(c.Kind), verb, day(*c.LastUsedAt), r.DormantDays),
				Fact{"Last " + verb, day(*c.LastUsedAt)}, Fact{"Created", day(c.CreatedAt)}, Fact{"Owner", orNone(c.Owner)})
			return &f
		}
		return nil
	}
	limit := r.NeverUsedDays
	if limit == 0 {
		limit = r.DormantDays
	}
	if limit > 0 && !c.CreatedAt.IsZero() && daysBetween(c.CreatedAt, now) > limit {
		f := newFinding(c, Dormant, "warning",
			fmt.Sprintf("This %s was never %s since it was created on %s, more than %d days ago.", KindName(c.Kind), verb, day(c.CreatedAt), limit),
			Fact{"Last " + verb, "never"}, Fact{"Created", day(c.CreatedAt)}, Fact{"Owner", orNone(c.Owner)})
		return &f
	}
	return nil
}

func patStale(c inventory.Credential, r policy.KindRule, now time.Time) *Finding {
	switch {
	case c.Expired || (c.ExpiresAt != nil && !now.Before(*c.ExpiresAt)):
		f := newFinding(c, Stale, "warning",
			"This token has expired but still holds an access grant to the organisation.",
			Fact{"Expired", expiry(c)}, Fact{"Owner", orNone(c.Owner)})
		return &f
	case c.ExpiresAt == nil && r.RequireExpiry:
		f := newFinding(c, Stale, "warning",
			"This token never expires, and the review policy requires an expiry date.",
			Fact{"Expires", "never"}, Fact{"Owner", orNone(c.Owner)})
		return &f
	case r.StaleDays > 0 && !c.CreatedAt.IsZero() && daysBetween(c.CreatedAt, now) > r.StaleDays:
		f := newFinding(c, Stale, "warning",
			fmt.Sprintf("This token was granted access on %s, more than %d days ago, and has not been replaced since.", day(c.CreatedAt), r.StaleDays),
			Fact{"Access granted", day(c.CreatedAt)}, Fact{"Owner", orNone(c.Owner)})
		return &f
	}
	return nil
}

func expiry(c inventory.Credential) string {
	if c.ExpiresAt == nil {
		return "yes"
	}
	return day(*c.ExpiresAt)
}

// beyond lists the permissions of have above max (absent from max = not allowed).
func beyond(have, maxp map[string]string) []string {
	var out []string
	for name, level := range have {
		limit, ok := maxp[name]
		if !ok || !levelAtMost(level, limit) {
			out = append(out, fmt.Sprintf("%s: %s", name, level))
		}
	}
	sort.Strings(out)
	return out
}

func patScope(c inventory.Credential, r policy.KindRule) *Finding {
	var facts []Fact
	if !r.AllowAdmin {
		var admin []string
		for name, level := range c.Permissions {
			if level == "admin" || ((name == "administration" || name == "organization_administration") && level == "write") {
				admin = append(admin, name+": "+level)
			}
		}
		sort.Strings(admin)
		if len(admin) > 0 {
			facts = append(facts, Fact{"Administrative permissions", strings.Join(admin, ", ")})
		}
	}
	if r.MaxPermissions != nil {
		if b := beyond(c.Permissions, r.MaxPermissions); len(b) > 0 {
			facts = append(facts, Fact{"Beyond the allowed permissions", strings.Join(b, ", ")})
		}
	}
	if len(facts) == 0 {
		return nil
	}
	facts = append(facts, Fact{"Repository selection", orNone(c.RepositorySelection)}, Fact{"Owner", orNone(c.Owner)})
	f := newFinding(c, OverScoped, "error", "This token holds more permissions than the review policy allows.", facts...)
	return &f
}

func appScope(c inventory.Credential, r policy.KindRule) *Finding {
	var facts []Fact
	if c.RepositorySelection == "all" && !r.AllowAllRepositories {
		facts = append(facts, Fact{"Repository selection", "all repositories, including future ones"})
	}
	if r.MaxPermissions != nil {
		if b := beyond(c.Permissions, r.MaxPermissions); len(b) > 0 {
			facts = append(facts, Fact{"Beyond the allowed permissions", strings.Join(b, ", ")})
		}
	}
	if len(facts) == 0 {
		return nil
	}
	f := newFinding(c, OverScoped, "error", "This App installation can reach more than the review policy allows.", facts...)
	return &f
}

func orNone(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// policyText prints the rule that applied, as the CUE a reviewer would edit.
func policyText(k policy.CredentialKind, r policy.KindRule) string {
	var parts []string
	add := func(name string, v any) { parts = append(parts, fmt.Sprintf("%s: %v", name, v)) }
	add("enabled", r.Enabled)
	if r.DormantDays > 0 {
		add("dormant_days", r.DormantDays)
	}
	if r.NeverUsedDays > 0 {
		add("never_used_days", r.NeverUsedDays)
	}
	if r.StaleDays > 0 {
		add("stale_days", r.StaleDays)
	}
	for _, b := range []struct {
		name string
		v    bool
	}{{"allow_write", r.AllowWrite}, {"allow_visibility_all", r.AllowVisibilityAll}, {"allow_all_repositories", r.AllowAllRepositories},
		{"allow_admin", r.AllowAdmin}, {"require_expiry", r.RequireExpiry}, {"require_secret", r.RequireSecret}, {"require_ssl", r.RequireSSL}} {
		if b.v {
			add(b.name, true)
		}
	}
	if len(r.MaxPermissions) > 0 {
		var ps []string
		for n, l := range r.MaxPermissions {
			ps = append(ps, fmt.Sprintf("%s: %q", n, l))
		}
		sort.Strings(ps)
		parts = append(parts, "max_permissions: {"+strings.Join(ps, ", ")+"}")
	}
	return fmt.Sprintf("review: kinds: %s: {%s}", k, strings.Join(parts, ", "))
}

// exemptionCUE is the snippet to add to the policy through a pull request.
func exemptionCUE(c inventory.Credential, t Type) string {
	return fmt.Sprintf(`review: exemptions: [{
	kind:       %q
	credential: %q
	finding:    %q
	reason:     "why this is acceptable"
	approver:   "your-login"
	expires:    "YYYY-MM-DD" // the finding returns, as an expired exemption, after this date
}]`, c.Kind, c.ID, t)
}
