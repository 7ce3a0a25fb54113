package review

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time    { return now.AddDate(0, 0, -n) }
func ptr(t time.Time) *time.Time { return &t }

func types(fs []Finding) []Type {
	out := []Type{}
	for _, f := range fs {
		out = append(out, f.Type)
	}
	return out
}

func TestEvaluateKindsAndFindings(t *testing.T) {
	t.Parallel()
	repoKey := func(mod func(*inventory.Credential)) inventory.Credential {
		c := inventory.Credential{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1", Name: "ci", Org: "acme", Repo: "acme/api",
			Scope: inventory.ScopeRepository, RemoteID: 1, CreatedAt: daysAgo(400), LastUsedAt: ptr(daysAgo(1))}
		mod(&c)
		return c
	}
	secret := func(kind policy.CredentialKind, mod func(*inventory.Credential)) inventory.Credential {
		c := inventory.Credential{Kind: kind, ID: "acme/api:" + string(kind) + ":TOKEN", Name: "TOKEN", Org: "acme", Repo: "acme/api",
			Scope: inventory.ScopeRepository, CreatedAt: daysAgo(500), UpdatedAt: daysAgo(10)}
		mod(&c)
		return c
	}
	pat := func(mod func(*inventory.Credential)) inventory.Credential {
		c := inventory.Credential{Kind: policy.KindFineGrainedPAT, ID: "acme:fine_grained_pat:7", Name: "deploy", Org: "acme", Scope: inventory.ScopeOrganization,
			RemoteID: 7, Owner: "octocat", CreatedAt: daysAgo(200), LastUsedAt: ptr(daysAgo(2)), ExpiresAt: ptr(now.AddDate(0, 1, 0)),
			Permissions: map[string]string{"contents": "read"}}
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		cred inventory.Credential
		kind map[policy.CredentialKind]policy.KindRule
		want []Type
	}{
		{"deploy key in use, read-only", repoKey(func(c *inventory.Credential) {}), nil, []Type{}},
		{"deploy key unused 100 days", repoKey(func(c *inventory.Credential) { c.LastUsedAt = ptr(daysAgo(100)) }), nil, []Type{Dormant}},
		{"deploy key never used, old", repoKey(func(c *inventory.Credential) { c.LastUsedAt = nil }), nil, []Type{Dormant}},
		{"deploy key never used, young", repoKey(func(c *inventory.Credential) { c.LastUsedAt = nil; c.CreatedAt = daysAgo(5) }), nil, []Type{}},
		{"write deploy key", repoKey(func(c *inventory.Credential) { c.Write = true }), nil, []Type{OverScoped}},
		{"write deploy key allowed", repoKey(func(c *inventory.Credential) { c.Write = true }),
			map[policy.CredentialKind]policy.KindRule{policy.KindDeployKey: {Enabled: true, AllowWrite: true}}, []Type{}},
		{"kind disabled", repoKey(func(c *inventory.Credential) { c.Write = true; c.LastUsedAt = nil }),
			map[policy.CredentialKind]policy.KindRule{policy.KindDeployKey: {Enabled: false}}, []Type{}},
		{"actions secret rotated", secret(policy.KindActionsSecret, func(c *inventory.Credential) {}), nil, []Type{}},
		{"actions secret stale", secret(policy.KindActionsSecret, func(c *inventory.Credential) { c.UpdatedAt = daysAgo(400) }), nil, []Type{Stale}},
		{"dependabot secret stale", secret(policy.KindDependabotSecret, func(c *inventory.Credential) { c.UpdatedAt = daysAgo(400) }), nil, []Type{Stale}},
		{"codespaces secret stale", secret(policy.KindCodespacesSecret, func(c *inventory.Credential) { c.UpdatedAt = daysAgo(400) }), nil, []Type{Stale}},
		{"environment secret stale", secret(policy.KindActionsSecret, func(c *inventory.Credential) {
			c.Scope, c.Environment, c.UpdatedAt = inventory.ScopeEnvironment, "prod", daysAgo(400)
		}), nil, []Type{Stale}},
		{"org secret visible to all", secret(policy.KindActionsSecret, func(c *inventory.Credential) {
			c.Scope, c.Repo, c.Visibility, c.ID = inventory.ScopeOrganization, "", "all", "acme:actions_secret:TOKEN"
		}), nil, []Type{OverScoped}},
		{"org secret selected", secret(policy.KindActionsSecret, func(c *inventory.Credential) {
			c.Scope, c.Repo, c.Visibility = inventory.ScopeOrganization, "", "selected"
		}), nil, []Type{}},
		{"org secret all allowed", secret(policy.KindActionsSecret, func(c *inventory.Credential) {
			c.Scope, c.Repo, c.Visibility = inventory.ScopeOrganization, "", "all"
		}), map[policy.CredentialKind]policy.KindRule{policy.KindActionsSecret: {Enabled: true, AllowVisibilityAll: true}}, []Type{}},
		{"pat fine", pat(func(c *inventory.Credential) {}), nil, []Type{}},
		{"pat dormant", pat(func(c *inventory.Credential) { c.LastUsedAt = ptr(daysAgo(120)) }), nil, []Type{Dormant}},
		{"pat never used", pat(func(c *inventory.Credential) { c.LastUsedAt = nil }), nil, []Type{Dormant}},
		{"pat without expiry", pat(func(c *inventory.Credential) { c.ExpiresAt = nil }), nil, []Type{Stale}},
		{"pat expired", pat(func(c *inventory.Credential) { c.ExpiresAt = ptr(daysAgo(3)); c.Expired = true }), nil, []Type{Stale}},
		{"pat older than stale_days", pat(func(c *inventory.Credential) {}),
			map[policy.CredentialKind]policy.KindRule{policy.KindFineGrainedPAT: {Enabled: true, StaleDays: 180}}, []Type{Stale}},
		{"pat younger than stale_days", pat(func(c *inventory.Credential) {}),
			map[policy.CredentialKind]policy.KindRule{policy.KindFineGrainedPAT: {Enabled: true, StaleDays: 365}}, []Type{}},
		{"pat admin", pat(func(c *inventory.Credential) {
			c.Permissions = map[string]string{"organization_administration": "write"}
		}), nil, []Type{OverScoped}},
		{"pat beyond max", pat(func(c *inventory.Credential) { c.Permissions = map[string]string{"contents": "write"} }),
			map[policy.CredentialKind]policy.KindRule{policy.KindFineGrainedPAT: {Enabled: true, MaxPermissions: map[string]string{"contents": "read"}}}, []Type{OverScoped}},
		{"sso accessed long ago", inventory.Credential{Kind: policy.KindSSOAuthorization, ID: "acme:sso_authorization:9", Org: "acme",
			Scope: inventory.ScopeOrganization, CreatedAt: daysAgo(300), LastUsedAt: ptr(daysAgo(91))}, nil, []Type{Dormant}},
		{"sso never accessed", inventory.Credential{Kind: policy.KindSSOAuthorization, ID: "acme:sso_authorization:9", Org: "acme",
			Scope: inventory.ScopeOrganization, CreatedAt: daysAgo(31)}, nil, []Type{Dormant}},
		{"sso recent", inventory.Credential{Kind: policy.KindSSOAuthorization, ID: "acme:sso_authorization:9", Org: "acme",
			Scope: inventory.ScopeOrganization, CreatedAt: daysAgo(300), LastUsedAt: ptr(daysAgo(3))}, nil, []Type{}},
		{"app on all repositories", inventory.Credential{Kind: policy.KindAppInstallation, ID: "acme:app_installation:ci", Org: "acme",
			Scope: inventory.ScopeOrganization, RepositorySelection: "all"}, nil, []Type{OverScoped}},
		{"app beyond max permissions", inventory.Credential{Kind: policy.KindAppInstallation, ID: "acme:app_installation:ci", Org: "acme",
			Scope: inventory.ScopeOrganization, RepositorySelection: "selected", Permissions: map[string]string{"contents": "write", "issues": "read"}},
			map[policy.CredentialKind]policy.KindRule{policy.KindAppInstallation: {Enabled: true, MaxPermissions: map[string]string{"contents": "read", "issues": "write"}}}, []Type{OverScoped}},
		{"app selected within max", inventory.Credential{Kind: policy.KindAppInstallation, ID: "acme:app_installation:ci", Org: "acme",
			Scope: inventory.ScopeOrganization, RepositorySelection: "selected", Permissions: map[string]string{"contents": "read"}},
			map[policy.CredentialKind]policy.KindRule{policy.KindAppInstallation: {Enabled: true, MaxPermissions: map[string]string{"contents": "read"}}}, []Type{}},
		{"webhook without secret", inventory.Credential{Kind: policy.KindWebhook, ID: "acme/api:webhook:3", Org: "acme", Repo: "acme/api",
			Scope: inventory.ScopeRepository, URL: "https://hooks.example"}, nil, []Type{Insecure}},
		{"webhook insecure ssl", inventory.Credential{Kind: policy.KindWebhook, ID: "acme:webhook:3", Org: "acme",
			Scope: inventory.ScopeOrganization, HasSecret: true, InsecureSSL: true}, nil, []Type{Insecure}},
		{"webhook fine", inventory.Credential{Kind: policy.KindWebhook, ID: "acme/api:webhook:3", Org: "acme", Repo: "acme/api",
			Scope: inventory.ScopeRepository, HasSecret: true}, nil, []Type{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := &inventory.Inventory{Credentials: []inventory.Credential{tt.cred}}
			rep := Evaluate(inv, policy.Review{Kinds: tt.kind}, now)
			assert.Equal(t, tt.want, types(rep.Findings))
			for _, f := range rep.Findings {
				assert.Equal(t, Fingerprint(tt.cred.ID, f.Type), f.Fingerprint)
				adv := AdviceFor(f)
				assert.NotEmpty(t, adv.Why)
				assert.NotEmpty(t, adv.Fix)
				assert.Contains(t, adv.Exemption, tt.cred.ID)
				assert.Contains(t, f.Title, "[jitkey]")
				assert.NotEmpty(t, f.IssueRepo)
				assert.Len(t, f.EvidenceHash, 16)
			}
		})
	}
}

func TestExemptions(t *testing.T) {
	t.Parallel()
	key := inventory.Credential{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1", Org: "acme", Repo: "acme/api",
		Scope: inventory.ScopeRepository, CreatedAt: daysAgo(400), Write: true}
	ex := func(finding string, expires time.Time) policy.Exemption {
		return policy.Exemption{Kind: policy.KindDeployKey, Credential: key.ID, Finding: finding, Reason: "migration", Approver: "lead", Expires: expires}
	}
	tests := []struct {
		name       string
		exemptions []policy.Exemption
		want       []Type
		suppressed int
		expired    bool
	}{
		{"none", nil, []Type{Dormant, OverScoped}, 0, false},
		{"active for one finding", []policy.Exemption{ex("over_scoped", now.AddDate(0, 0, 10))}, []Type{Dormant}, 1, false},
		{"active wildcard", []policy.Exemption{ex("*", now.AddDate(0, 0, 10))}, []Type{}, 2, false},
		{"expired", []policy.Exemption{ex("over_scoped", daysAgo(1))}, []Type{Dormant, OverScoped}, 0, true},
		{"other credential", []policy.Exemption{{Kind: policy.KindDeployKey, Credential: "acme/api:deploy_key:2", Finding: "*", Expires: now.AddDate(1, 0, 0)}},
			[]Type{Dormant, OverScoped}, 0, false},
		{"expired and renewed", []policy.Exemption{ex("over_scoped", daysAgo(1)), ex("over_scoped", now.AddDate(0, 1, 0))}, []Type{Dormant}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep := Evaluate(&inventory.Inventory{Credentials: []inventory.Credential{key}}, policy.Review{Exemptions: tt.exemptions}, now)
			assert.Equal(t, tt.want, types(rep.Findings))
			assert.Len(t, rep.Suppressed, tt.suppressed)
			var sawExpired bool
			for _, f := range rep.Findings {
				if f.ExpiredExemption != nil {
					sawExpired = true
					assert.Contains(t, f.Title, "exemption expired")
				}
			}
			assert.Equal(t, tt.expired, sawExpired)
		})
	}
}

func TestFingerprintAndEvidenceStable(t *testing.T) {
	t.Parallel()
	key := inventory.Credential{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1", Org: "acme", Repo: "acme/api",
		Scope: inventory.ScopeRepository, CreatedAt: daysAgo(400), LastUsedAt: ptr(daysAgo(200))}
	inv := &inventory.Inventory{Credentials: []inventory.Credential{key}}
	a := Evaluate(inv, policy.Review{}, now)
	b := Evaluate(inv, policy.Review{}, now.AddDate(0, 0, 7)) // a week later, nothing changed
	require.Len(t, a.Findings, 1)
	require.Len(t, b.Findings, 1)
	assert.Equal(t, a.Findings[0].Fingerprint, b.Findings[0].Fingerprint)
	assert.Equal(t, a.Findings[0].EvidenceHash, b.Findings[0].EvidenceHash, "evidence must not depend on the clock")

	used := key
	used.LastUsedAt = ptr(daysAgo(150)) // used again, still dormant: new evidence, same fingerprint
	c := Evaluate(&inventory.Inventory{Credentials: []inventory.Credential{used}}, policy.Review{}, now)
	require.Len(t, c.Findings, 1)
	assert.Equal(t, a.Findings[0].Fingerprint, c.Findings[0].Fingerprint)
	assert.NotEqual(t, a.Findings[0].EvidenceHash, c.Findings[0].EvidenceHash)
	assert.NotEqual(t, Fingerprint(key.ID, Dormant), Fingerprint(key.ID, Stale))
	assert.NotEqual(t, Fingerprint("acme/api:deploy_key:1", Dormant), Fingerprint("acme/api:deploy_key:2", Dormant))
}

func TestIssueRepo(t *testing.T) {
	t.Parallel()
	repoCred := inventory.Credential{Org: "acme", Repo: "acme/api"}
	orgCred := inventory.Credential{Org: "acme", Scope: inventory.ScopeOrganization}
	assert.Equal(t, "acme/api", issueRepo(repoCred, policy.Review{}))
	assert.Equal(t, "acme/.github", issueRepo(orgCred, policy.Review{}))
	assert.Equal(t, "acme/security", issueRepo(repoCred, policy.Review{CentralRepository: "acme/security"}))
}

func TestEnabledKinds(t *testing.T) {
	t.Parallel()
	ks := EnabledKinds(policy.Review{Kinds: map[policy.CredentialKind]policy.KindRule{policy.KindWebhook: {Enabled: false}}})
	assert.NotContains(t, ks, policy.KindWebhook)
	assert.Contains(t, ks, policy.KindDeployKey)
	assert.Len(t, ks, 7)
}
