package lint_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// claimCases are conditions that can never match a real GitHub claim, or
// match far more than they seem to, and conditions that look close but
// are right. Each is the match of one read-only rule.
var claimCases = []struct {
	name  string
	match string
	want  []string // codes, in order
}{
	{"glob as a value", `repository: "acme/*"`, []string{lint.CodeGlobValue}},
	{"glob as a pattern", `repository: {pattern: "acme/*"}`, []string{lint.CodeGlobPattern}},
	{"glob pattern in a path", `workflow_ref: {pattern: "^acme/api/.github/workflows/*.yml@refs/heads/main$"}`, []string{lint.CodeGlobPattern}},
	{"question mark in a value", `environment: "prod?"`, []string{lint.CodeGlobValue}},
	{"star in a ref value", `ref: "refs/heads/release-*"`, []string{lint.CodeGlobValue}},
	{"short branch", `ref: "main"`, []string{lint.CodeShortRef}},
	{"short tag", `ref: ["refs/heads/main", "v1.2.0"]`, []string{lint.CodeShortRef}},
	{"heads/ without refs/", `ref: "heads/main"`, []string{lint.CodeShortRef}},
	{"unanchored ref pattern", `ref: {pattern: "refs/heads/main"}`, []string{lint.CodeUnanchored}},
	{"ref pattern without $", `ref: {pattern: "^refs/heads/main"}`, []string{lint.CodeUnanchored}},
	{"workflow ref pattern without ^", `workflow_ref: {pattern: "acme/api/\\.github/workflows/d\\.yml@refs/heads/main$"}`, []string{lint.CodeUnanchored}},
	{"alternation anchored on one side only", `ref: {pattern: "^refs/heads/main$|^refs/heads/dev"}`, []string{lint.CodeUnanchored}},
	{"repository pattern without ^", `repository: {pattern: "acme/api$"}`, []string{lint.CodeUnanchored}},
	{"workflow ref without @", `workflow_ref: "acme/api/.github/workflows/deploy.yml"`, []string{lint.CodeWorkflowRefNoAt}},
	{"workflow ref with a short ref", `job_workflow_ref: "acme/ci/.github/workflows/build.yml@main"`, []string{lint.CodeShortRef}},
	{"unknown event, near one", `event_name: "pull-request"`, []string{lint.CodeUnknownEvent}},
	{"unknown event, capitalised", `event_name: ["Push"]`, []string{lint.CodeUnknownEvent}},
	{"homoglyph event", `event_name: "рush"`, []string{lint.CodeUnknownEvent}},
	{"workflow_call is never an event_name", `event_name: "workflow_call"`, []string{lint.CodeUnknownEvent}},
	{"zero-width space", "environment: \"prod\u200b\"", []string{lint.CodeInvisible}},
	{"bidirectional override", "repository: \"acme/\u202eipa\"", []string{lint.CodeInvisible}},
	{"no-break space", "actor: \"octo\u00a0cat\"", []string{lint.CodeInvisible}},
	{"trailing space", `environment: "production "`, []string{lint.CodeInvisible}},
	{"tab in a pattern", `ref: {pattern: "^refs/heads/main\t$"}`, []string{lint.CodeInvisible}},
	{"byte-order mark inside, as a CUE escape", `ref: "\ufeffrefs/heads/main"`, []string{lint.CodeInvisible}},
	{"newline as a CUE escape", `environment: "prod\nuction"`, []string{lint.CodeInvisible}},
	// Right as written.
	{"full refs", `ref: ["refs/heads/main", "refs/tags/v1.0.0"]`, nil},
	{"anchored patterns", `ref: {pattern: "^refs/tags/v[0-9]+$"}, workflow_ref: {pattern: "^(acme/a|acme/b)/\\.github/workflows/x\\.yml@refs/heads/main$"}`, nil},
	{"regexp star after a class", `repository: {pattern: "^acme/[a-z]*$"}`, nil},
	{"repository prefix pattern", `repository: {pattern: "^acme/"}`, nil},
	{"any ref of a workflow", `workflow_ref: {pattern: "^acme/api/\\.github/workflows/deploy\\.yml@"}`, nil},
	{"any branch under release/", `ref: {pattern: "^refs/heads/release/"}`, nil},
	{"reusable workflow at a SHA", `job_workflow_ref: "acme/ci/.github/workflows/b.yml@0123456789abcdef0123456789abcdef01234567"`, nil},
	{"every known event", `event_name: ["push", "workflow_dispatch", "merge_group", "dynamic", "pull_request_target"]`, nil},
	{"non-ASCII that is visible", `actor: "zoë"`, nil},
}

func TestClaimChecks(t *testing.T) {
	t.Parallel()
	var golden strings.Builder
	for _, tt := range claimCases {
		src := "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"r\"\n\tmatch: {" + tt.match +
			"}\n\tgrant: {repositories: [\"caller\"], permissions: contents: \"read\"}\n}]\n"
		s, err := policy.LoadBytes("p.cue", []byte(src))
		require.NoError(t, err, tt.name)
		var got []string
		golden.WriteString("# " + tt.name + "\n")
		for _, d := range lint.Lint(s) {
			got = append(got, d.Code)
			assert.Equal(t, policy.SeverityWarning, d.Severity, tt.name)
			assert.Equal(t, 4, d.Line, "%s: positioned at the condition", tt.name)
			golden.WriteString(d.String() + " [" + d.Code + "]\n")
		}
		assert.Equal(t, tt.want, got, tt.name)
	}
	checkGolden(t, "claims.golden", golden.String())
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	assert.Equal(t, string(want), got)
}

func TestShadowedByImpliedClaims(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, first, second string
		shadowed            bool
	}{
		{"an owner rule shadows a rule on one of its repositories", `repository_owner: "acme"`, `repository: "acme/api"`, true},
		{"and on several", `repository_owner: ["acme", "beta"]`, `repository: ["acme/api", "beta/web"]`, true},
		{"not when one repository is another owner's", `repository_owner: "acme"`, `repository: ["acme/api", "evil/api"]`, false},
		{"not a repository pattern", `repository_owner: "acme"`, `repository: {pattern: "^acme/api$"}`, false},
		{"a branch ref implies ref_type branch", `ref_type: "branch"`, `ref: ["refs/heads/main", "refs/heads/dev"]`, true},
		{"a tag does not", `ref_type: "branch"`, `ref: ["refs/heads/main", "refs/tags/v1"]`, false},
		{"repository_id is not known from a name", `repository_id: "42"`, `repository: "acme/api"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"first\"\n\tmatch: {" + tt.first +
				"}\n\tgrant: {repositories: [\"caller\"], permissions: contents: \"read\"}\n}, {\n\tname: \"second\"\n\tmatch: {" + tt.second +
				"}\n\tgrant: {repositories: [\"caller\"], permissions: issues: \"read\"}\n}]\n"
			s, err := policy.LoadBytes("p.cue", []byte(src))
			require.NoError(t, err)
			var codes []string
			for _, d := range lint.Lint(s) {
				codes = append(codes, d.Code)
			}
			assert.Equal(t, tt.shadowed, slices.Contains(codes, lint.CodeShadowedRule), codes)
		})
	}
}
