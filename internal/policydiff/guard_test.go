package policydiff_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policydiff"
)

// TestPolicyChanges checks which changes count as widening who may change
// policies, and that narrowing does not.
func TestPolicyChanges(t *testing.T) {
	t.Parallel()
	org := func(o policy.Organization) *policy.Set { return &policy.Set{Organization: &o} }
	refs := func(p ...string) *policy.Condition { return &policy.Condition{Claim: "policy_ref", Patterns: p} }
	write := func(repos ...string) *policy.Set {
		return &policy.Set{Rules: []policy.Rule{{Name: "sync", Pos: policy.Pos{File: "p.cue", Line: 2}, RequireVerified: true,
			Match: []policy.Condition{{Claim: "repository", Values: []string{"acme/api"}}, {Claim: "environment", Values: []string{"sync"}}},
			Grant: policy.Grant{Repositories: repos, Permissions: map[string]string{"contents": "write"}}}}}
	}
	orgHolder := lint.Holder{Repository: "acme/.github", Org: true}
	tests := []struct {
		name       string
		base, head *policy.Set
		h          lint.Holder
		want       []string // rules of the policy changes
	}{
		{"same settings", org(policy.Organization{PolicyRefs: refs("^a$")}), org(policy.Organization{PolicyRefs: refs("^a$")}), orgHolder, nil},
		{"policy refs allowed", org(policy.Organization{}), org(policy.Organization{PolicyRefs: refs("^a$")}), orgHolder, []string{"organization"}},
		{"policy refs narrowed", org(policy.Organization{PolicyRefs: refs("^a$", "^b$")}), org(policy.Organization{PolicyRefs: refs("^a$")}), orgHolder, nil},
		{"policy refs removed", org(policy.Organization{PolicyRefs: refs("^a$")}), org(policy.Organization{}), orgHolder, nil},
		{"policy moved back", org(policy.Organization{PolicyRepository: "acme/p"}), org(policy.Organization{PolicyRepository: "acme/p", PolicyPath: "x"}), orgHolder, []string{"organization"}},
		{"issuer removed", org(policy.Organization{Issuers: []string{"https://a", "https://b"}}), org(policy.Organization{Issuers: []string{"https://a"}}), orgHolder, nil},
		{"write on another repository", write("acme/web"), write("acme/web", "acme/infra"), orgHolder, nil},
		{"write on the policy repository added", write("acme/web"), write("acme/web", "acme/.github"), orgHolder, []string{"sync"}},
		{"write on the policy repository unchanged", write("acme/.github"), write("acme/.github"), orgHolder, nil},
		{"a repository's own policy writes itself", &policy.Set{}, write("acme/api"), lint.Holder{Repository: "acme/api"}, []string{"sync"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, c := range policydiff.CompareHeld(tt.base, tt.head, nil, tt.h).Grants {
				if c.PolicyChange {
					got = append(got, c.Rule)
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
