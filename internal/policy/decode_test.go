package policy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

// TestDecodeWhatCUEEvaluates: each file is valid (cue vet -c accepts it)
// and means one thing once unified with the schema; jitkey must act on that
// meaning. Before decoding the unified value, each of these fell back to a
// zero value: the first three opened access, the rest closed it silently.
func TestDecodeWhatCUEEvaluates(t *testing.T) {
	t.Parallel()
	const grant = `grant: {repositories: ["caller"], permissions: {contents: "read"}}`
	rules := func(body string) string {
		return "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"a\"\n" + body + "\n}]\n"
	}
	review := func(body string) string { return "apiVersion: \"jitkey.dev/v1\"\nreview: " + body + "\n" }
	tests := []struct {
		name  string
		file  string
		src   string
		check func(t *testing.T, s *policy.Set)
	}{
		{"fail open: a typo in one branch of a match disjunction", "p.cue",
			rules(`match: {repository: "acme/api"} | {repository: "acme/api", event_nmae: "push"}` + "\n" + grant), //nolint:misspell // the typo is the test
			func(t *testing.T, s *policy.Set) {
				require.Len(t, s.Rules[0].Match, 1, "the branch with the typo is not a #Match; the other one is the match")
				assert.Equal(t, "repository", s.Rules[0].Match[0].Claim)
				assert.Equal(t, []string{"acme/api"}, s.Rules[0].Match[0].Values)
			}},
		{"fail open: requireVerified: true | \"yes\"", "p.cue",
			rules("requireVerified: true | \"yes\"\nmatch: {}\n" + grant),
			func(t *testing.T, s *policy.Set) { assert.True(t, s.Rules[0].RequireVerified) }},
		{"fail open: review require_secret: true | \"yes\"", "p.cue",
			review(`kinds: webhook: require_secret: true | "yes"`),
			func(t *testing.T, s *policy.Set) {
				assert.True(t, s.Review.Kinds[policy.KindWebhook].RequireSecret)
			}},
		{"fail closed: ref_type: *\"tag\" | \"branch\"", "p.cue",
			rules("match: ref_type: *\"tag\" | \"branch\"\n" + grant),
			func(t *testing.T, s *policy.Set) {
				assert.Equal(t, []policy.Condition{{Claim: "ref_type", Values: []string{"tag"}, Pos: s.Rules[0].Match[0].Pos}}, s.Rules[0].Match)
			}},
		{"fail closed: environment: \"staging\" | \"\"", "p.cue",
			rules("match: environment: \"staging\" | \"\"\n" + grant),
			func(t *testing.T, s *policy.Set) {
				assert.Equal(t, []string{"staging"}, s.Rules[0].Match[0].Values)
			}},
		{"fail closed: contents: \"read\" | \"admin\"", "p.cue",
			rules("match: {}\ngrant: {repositories: [\"caller\"], permissions: {contents: \"read\" | \"admin\"}}"),
			func(t *testing.T, s *policy.Set) {
				assert.Equal(t, map[string]string{"contents": "read"}, s.Rules[0].Grant.Permissions)
			}},
		{"fail closed: dormant_days: 60 | 0", "p.cue",
			review(`kinds: deploy_key: dormant_days: 60 | 0`),
			func(t *testing.T, s *policy.Set) {
				assert.Equal(t, 60, s.Review.Kinds[policy.KindDeployKey].DormantDays)
			}},
		{"fail closed: exemption expires: \"2027-06-30\" | 20270630", "p.cue",
			review(`exemptions: [{kind: "webhook", credential: "x", finding: "*", reason: "r", approver: "bob", expires: "2027-06-30" | 20270630}]`),
			func(t *testing.T, s *policy.Set) {
				require.Len(t, s.Review.Exemptions, 1)
				assert.Equal(t, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), s.Review.Exemptions[0].Expires)
			}},
		{"fail closed: a test's allow: true | \"yes\"", "p_test.cue",
			"apiVersion: \"jitkey.dev/v1\"\ntests: [{name: \"t\", claims: {}, expect: allow: true | \"yes\"}]\n",
			func(t *testing.T, s *policy.Set) {
				require.Len(t, s.Tests, 1)
				assert.True(t, s.Tests[0].Expect.Allow)
			}},
		{"a default the schema settles: renotify enabled: *false | true", "p.cue",
			review(`renotify: enabled: *false | true`),
			func(t *testing.T, s *policy.Set) { assert.False(t, s.Review.Renotify.Enabled) }},
		{"a definition and a comprehension", "p.cue",
			"apiVersion: \"jitkey.dev/v1\"\n#env: [\"staging\", \"production\"]\nrules: [for e in #env {name: e, match: environment: e, " + grant + "}]\n",
			func(t *testing.T, s *policy.Set) {
				require.Len(t, s.Rules, 2)
				assert.Equal(t, "production", s.Rules[1].Name)
				assert.Equal(t, []string{"production"}, s.Rules[1].Match[0].Values)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := policy.LoadBytes(tt.file, []byte(tt.src))
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

// TestDecodeNotConcrete: a value CUE cannot settle to one concrete value
// is an error at its position that says what to write instead.
func TestDecodeNotConcrete(t *testing.T) {
	t.Parallel()
	const grant = `grant: {repositories: ["caller"], permissions: {contents: "read"}}`
	tests := []struct {
		name, src string
		line, col int
		contains  string
	}{
		{"either-of between plain strings", "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"a\"\n\tmatch: event_name: \"push\" | \"workflow_dispatch\"\n\t" + grant + "\n}]\n",
			4, 21, "`|` is CUE's either-of, not a list: write [\"push\", \"workflow_dispatch\"]"},
		{"either-of between levels", "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"a\"\n\tmatch: {}\n\tgrant: {repositories: [\"caller\"], permissions: {contents: \"read\" | \"write\"}}\n}]\n",
			5, 60, "choose one of \"read\", \"write\""},
		{"either-of between numbers", "apiVersion: \"jitkey.dev/v1\"\nreview: kinds: deploy_key: dormant_days: 30 | 60\n",
			2, 42, "choose one of 30, 60"},
		{"a bare type", "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"a\"\n\tmatch: ref: string\n\t" + grant + "\n}]\n",
			4, 9, "give this field a concrete value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := loadErrors(t, "p.cue", tt.src)[0]
			assert.Equal(t, [2]int{tt.line, tt.col}, [2]int{d.Line, d.Col}, d.Message)
			assert.Contains(t, d.Message, tt.contains)
		})
	}
}
