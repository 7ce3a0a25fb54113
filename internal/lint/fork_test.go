package lint_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestForkSubjects holds write-on-pull-request to rules that let pull
// request jobs in through a claim other than event_name or ref, written as
// someone wanting a fork's code to get write would: a sub that admits the
// pull_request subject (which pull_request_target jobs carry too, with the
// base branch's ref), or a workflow_ref that admits a merge ref. Every
// "finds" case but the one with an environment (which the event check
// already caught) got no write-on-pull-request error before this check.
func TestForkSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		match string
		want  bool
	}{
		{"sub pattern on any context of the repository, on main", `sub: {pattern: "^repo:acme/api:.*$"}, ref: "refs/heads/main", ref_protected: true`, true},
		{"sub naming the pull_request subject", `sub: "repo:acme/api:pull_request", ref: "refs/heads/main", ref_protected: true`, true},
		{"sub listing it beside a branch", `sub: ["repo:acme/api:ref:refs/heads/main", "repo:acme/api:pull_request"], ref_protected: true, environment: "production"`, true},
		{"sub alternation", `sub: {pattern: "^repo:acme/api:(environment:production|pull_request)$"}, ref: "refs/heads/main", ref_protected: true`, true},
		{"sub pattern over every repository of the owner", `sub: {pattern: "^repo:acme/[^:]+:"}, ref: "refs/heads/main", ref_protected: true`, true},
		{"sub in the ID form", `sub: {pattern: "^repo:acme@100/api@200:"}, ref: "refs/heads/main", ref_protected: true`, true},
		{"sub unanchored", `repository: "acme/api", sub: {pattern: "acme/api"}, ref: "refs/heads/main", ref_protected: true`, true},
		{"workflow_ref open after @, no ref", `workflow_ref: {pattern: "^acme/api/\\.github/workflows/deploy\\.yml@"}, ref_protected: true`, true},
		{"workflow_ref pinned to a pull request ref", `workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/pull/7/merge"`, true},
		{"job_workflow_ref of a local reusable workflow, no ref", `job_workflow_ref: {pattern: "^acme/api/\\.github/workflows/"}, ref_protected: true`, true},
		{"sub of a branch", `sub: "repo:acme/api:ref:refs/heads/main", ref: "refs/heads/main", ref_protected: true`, false},
		{"sub of an environment", `sub: {pattern: "^repo:acme/api:environment:production$"}, ref: "refs/heads/main", ref_protected: true`, false},
		{"sub admitting pull requests, event_name excluding them", `sub: {pattern: "^repo:acme/api:"}, event_name: ["push", "workflow_dispatch"], ref: "refs/heads/main", ref_protected: true`, false},
		{"workflow_ref open after @, ref pinned to main", `workflow_ref: {pattern: "^acme/api/\\.github/workflows/deploy\\.yml@"}, ref: "refs/heads/main", event_name: "push", ref_protected: true`, false},
		{"workflow_ref pinned to main, no ref", `workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/heads/main", ref_protected: true`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n\tname: \"fork\"\n\trequireVerified: true\n\tmatch: {" + tt.match +
				"}\n\tgrant: {repositories: [\"caller\"], permissions: contents: \"write\"}\n}]\n"
			s, err := policy.LoadBytes("p.cue", []byte(src))
			require.NoError(t, err)
			ds := lint.Lint(s)
			i := slices.IndexFunc(ds, func(d policy.Diagnostic) bool { return d.Code == lint.CodeWriteOnPullRequest })
			if !tt.want {
				assert.Negative(t, i, "%v", ds)
				return
			}
			require.GreaterOrEqual(t, i, 0, "%v", ds)
			assert.Equal(t, policy.SeverityError, ds[i].Severity)
			assert.Equal(t, 5, ds[i].Line, "positioned at the match")
			assert.Contains(t, ds[i].Message, "pull_request")
			assert.False(t, slices.ContainsFunc(ds, func(d policy.Diagnostic) bool { return d.Code == lint.CodeWriteAnyEvent }),
				"the error replaces write-any-event's warning: %v", ds)
		})
	}
}

// TestForkSubjectOutlivesOtherWaivers checks that waiving
// write-unconstrained for a rule pinned by workflow_ref alone does not
// hide that the pin admits pull request jobs; waiving
// write-on-pull-request itself does.
func TestForkSubjectOutlivesOtherWaivers(t *testing.T) {
	t.Parallel()
	src := `apiVersion: "jitkey.dev/v1"
rules: [{
	name: "deploy"
	requireVerified: true
	match: {workflow_ref: {pattern: "^acme/api/\\.github/workflows/deploy\\.yml@"}, ref_protected: true}
	grant: {repositories: ["caller"], permissions: contents: "write"}
}]
waivers: [{code: "write-unconstrained", rule: "deploy", reason: "the workflow is pinned", approver: "@acme/security", expires: "2099-01-01"}]
`
	s, err := policy.LoadBytes("p.cue", []byte(src))
	require.NoError(t, err)
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	errs := func(s *policy.Set) []string {
		var out []string
		for _, d := range lint.Waive(lint.Lint(s), s, now) {
			if d.Severity == policy.SeverityError {
				out = append(out, d.Code)
			}
		}
		return out
	}
	assert.Equal(t, []string{lint.CodeWriteOnPullRequest}, errs(s))
	s.Waivers = append(s.Waivers, policy.Waiver{Code: lint.CodeWriteOnPullRequest, Rule: "deploy", Reason: "previews", Approver: "@acme/security", Expires: now.AddDate(1, 0, 0)})
	assert.Empty(t, errs(s), "write-on-pull-request is waivable")
}
