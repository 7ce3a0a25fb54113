package lint_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

// guardCases are rules as someone trying to widen their own reach would
// write them, in the organisation policy (org) or in acme/api's own policy.
var guardCases = []struct {
	name  string
	org   bool
	match string
	grant string
	want  []string
}{
	{"org: names the policy repository", true, `repository: "acme/api"`, `repositories: ["acme/.github"], permissions: contents: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: names it in upper case", true, `repository: "acme/api"`, `repositories: ["ACME/.GitHub"], permissions: workflows: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: every repository", true, `repository: "acme/api"`, `repositories: "*", permissions: contents: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: caller matched by name in another case", true, `repository: "Acme/.github"`, `repositories: ["caller"], permissions: contents: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: caller matched by a pattern", true, `repository: {pattern: "^acme/[.a-z]+$"}`, `repositories: ["caller"], permissions: contents: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: caller matched by a case-insensitive pattern", true, `repository: {pattern: "(?i)^ACME/\\.GITHUB$"}`, `repositories: ["caller"], permissions: contents: "write"`, []string{lint.CodeGrantsPolicyRepository}},
	{"org: caller of any repository is left to the mint", true, `repository_owner: "acme"`, `repositories: ["caller"], permissions: contents: "write"`, nil},
	{"org: read on the policy repository", true, `repository: "acme/api"`, `repositories: ["acme/.github"], permissions: contents: "read"`, nil},
	{"org: other write on the policy repository", true, `repository: "acme/api"`, `repositories: ["acme/.github"], permissions: statuses: "write"`, nil},
	{"org: a look-alike name", true, `repository: "acme/api"`, `repositories: ["acme/.github-private"], permissions: contents: "write"`, nil},
	{"repo: caller, any job", false, `event_name: "push"`, `repositories: ["caller"], permissions: contents: "write"`, []string{lint.CodeGrantsOwnPolicy}},
	{"repo: caller, its own jobs", false, `repository: "acme/api"`, `repositories: ["caller"], permissions: workflows: "write"`, []string{lint.CodeGrantsOwnPolicy}},
	{"repo: names itself in another case", false, `repository: "acme/infra"`, `repositories: ["ACME/API"], permissions: administration: "write"`, []string{lint.CodeGrantsOwnPolicy}},
	{"repo: every repository", false, `repository: "acme/infra"`, `repositories: "*", permissions: contents: "write"`, []string{lint.CodeGrantsOwnPolicy}},
	{"repo: caller, other repositories' jobs", false, `repository: {pattern: "^acme/(web|docs)$"}`, `repositories: ["caller"], permissions: contents: "write"`, nil},
	{"repo: read on itself", false, `repository: "acme/api"`, `repositories: ["caller"], permissions: contents: "read"`, nil},
}

func TestGuards(t *testing.T) {
	t.Parallel()
	var golden strings.Builder
	for _, tt := range guardCases {
		src := "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"r\"\n\tmatch: {" + tt.match +
			"}\n\tgrant: {" + tt.grant + "}\n}]\n"
		s, err := policy.LoadBytes("p.cue", []byte(src))
		require.NoError(t, err, tt.name)
		h := lint.Holder{Repository: "acme/api"}
		if tt.org {
			h = lint.Holder{Repository: "acme/.github", Org: true}
		}
		golden.WriteString("# " + tt.name + "\n")
		var got []string
		for _, d := range lint.LintHeld(s, h) {
			if d.Code != lint.CodeGrantsPolicyRepository && d.Code != lint.CodeGrantsOwnPolicy {
				continue
			}
			got = append(got, d.Code)
			assert.Equal(t, policy.SeverityError, d.Severity, tt.name)
			assert.Equal(t, 5, d.Line, "%s: positioned at the grant", tt.name)
			golden.WriteString(d.String() + " [" + d.Code + "]\n")
		}
		assert.Equal(t, tt.want, got, tt.name)
	}
	checkGolden(t, "guards.golden", golden.String())
}

func TestGuardsHolder(t *testing.T) {
	t.Parallel()
	grant := func(repos ...string) *policy.Set {
		return &policy.Set{Rules: []policy.Rule{{Name: "r", Pos: at(1), Match: []policy.Condition{vals("repository", 2, "acme/api")},
			Grant: policy.Grant{Repositories: repos, Permissions: map[string]string{"contents": "write"}, Pos: at(3)}}}}
	}
	byID := func(id int64) *policy.Set {
		s := grant()
		s.Rules[0].Grant.RepositoryIDs = []int64{id}
		return s
	}
	codes := func(ds []policy.Diagnostic) []string {
		var out []string
		for _, d := range ds {
			if strings.HasPrefix(d.Code, "grants-") {
				out = append(out, d.Code)
			}
		}
		return out
	}
	tests := []struct {
		name string
		set  *policy.Set
		h    lint.Holder
		want []string
	}{
		{"moved organisation policy", grant("acme/policies"), lint.Holder{Repository: "acme/.github", OrgRepository: "acme/policies", Org: true}, []string{lint.CodeGrantsPolicyRepository}},
		{"moved: .github still says where it lives", grant("acme/.github"), lint.Holder{Repository: "acme/.github", OrgRepository: "acme/policies", Org: true}, []string{lint.CodeGrantsPolicyRepository}},
		{"moved: both named, one finding", grant("acme/.github", "acme/policies"), lint.Holder{Repository: "acme/.github", OrgRepository: "acme/policies", Org: true}, []string{lint.CodeGrantsPolicyRepository}},
		{"moved: another repository", grant("acme/web"), lint.Holder{Repository: "acme/.github", OrgRepository: "acme/policies", Org: true}, nil},
		{"holder not known: a .github name", grant("acme/.github"), lint.Holder{}, []string{lint.CodeGrantsPolicyRepository}},
		{"holder not known: every repository", grant("*"), lint.Holder{}, nil},
		{"a repository policy cannot consent for the organisation's", grant("acme/.github"), lint.Holder{Repository: "acme/api"}, nil},
		// A repository named by ID ({id: N}), as someone hiding the name would.
		{"org: the policy repository's ID", byID(5), lint.Holder{Repository: "acme/.github", Org: true, IDs: map[string]int64{"acme/.github": 5}}, []string{lint.CodeGrantsPolicyRepository}},
		{"org: the moved policy repository's ID", byID(6), lint.Holder{Repository: "acme/.github", OrgRepository: "acme/policies", Org: true, IDs: map[string]int64{"acme/policies": 6}}, []string{lint.CodeGrantsPolicyRepository}},
		{"org: another repository's ID", byID(7), lint.Holder{Repository: "acme/.github", Org: true, IDs: map[string]int64{"acme/.github": 5, "acme/web": 7}}, nil},
		{"org: an ID it binds to nothing is left to the mint", byID(8), lint.Holder{Repository: "acme/.github", Org: true}, nil},
		{"repo: its own ID", byID(9), lint.Holder{Repository: "acme/api", IDs: map[string]int64{"acme/api": 9}}, []string{lint.CodeGrantsOwnPolicy}},
		{"repo: an ID bound to nothing can only be itself", byID(10), lint.Holder{Repository: "acme/api"}, []string{lint.CodeGrantsOwnPolicy}},
		{"repo: another repository's ID asks, it does not grant", byID(11), lint.Holder{Repository: "acme/api", IDs: map[string]int64{"acme/infra": 11}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, codes(lint.LintHeld(tt.set, tt.h)))
		})
	}
}

func TestGuardsWaived(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &policy.Set{Rules: []policy.Rule{{Name: "release", Pos: at(1), Match: []policy.Condition{vals("repository", 2, "acme/api")},
		Grant: policy.Grant{Caller: true, Permissions: map[string]string{"contents": "write"}, Pos: at(3)}}},
		Waivers: []policy.Waiver{{Code: lint.CodeGrantsOwnPolicy, Rule: "release", Approver: "@acme/security", Reason: "tags releases", Expires: now.Add(24 * time.Hour), Pos: at(9)}}}
	ds := lint.Waive(lint.LintHeld(s, lint.Holder{Repository: "acme/api"}), s, now)
	i := slices.IndexFunc(ds, func(d policy.Diagnostic) bool { return d.Code == lint.CodeGrantsOwnPolicy })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, policy.SeverityNotice, ds[i].Severity)
}
