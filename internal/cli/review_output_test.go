package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/review"
)

// TestReviewTextRunsNoWorkflowCommand: `review --format text` prints
// credential IDs and error reasons, which credential names and GitHub's
// answers reach. In a workflow run none of it may be taken by the runner as
// a workflow command (read by the runner's rules: leading white space
// trimmed before "::", "##[" anywhere in a line, a lone \r ending a line).
func TestReviewTextRunsNoWorkflowCommand(t *testing.T) {
	t.Parallel()
	hostile := "x\r::add-mask::y ##[set-output name=token]z\n  ::error::pwned"
	out := &reviewOutput{
		Inventory: &inventory.Inventory{
			Coverage: []inventory.Coverage{{Target: "acme/api", Kind: "deploy_key", Status: inventory.StatusPartial, Reason: hostile}},
		},
		Findings: []review.Finding{{Severity: "error", Type: review.Stale, Kind: "actions_secret", IssueRepo: "acme/api",
			Credential: inventory.Credential{ID: "acme/api:environment:" + hostile + ":actions_secret:S"}}},
		Issues: &issue.Result{Actions: []issue.Action{{Op: issue.OpFailed, Repo: "acme/api", Reason: hostile}},
			Remediations: []issue.Remediation{{Credential: hostile, By: "octocat", Error: hostile}}},
	}
	for _, inActions := range []bool{true, false} {
		var stdout bytes.Buffer
		vars := map[string]string{}
		if inActions {
			vars["GITHUB_ACTIONS"] = "true"
		}
		env := Env{Stdout: &stdout, Getenv: func(k string) string { return vars[k] }}
		require.NoError(t, writeReview(env, "text", out))
		text := stdout.String()
		assert.Contains(t, text, "::error::pwned", "the text is kept")
		var cmds []string
		stop := ""
		for _, l := range action.Lines(text) {
			if stop != "" {
				if n, ok := action.CommandName(l, stop); ok && strings.EqualFold(n, stop) {
					stop = ""
				}
				continue
			}
			if n, ok := action.CommandName(l); ok {
				if n == "stop-commands" {
					stop = l[strings.LastIndex(l, "::")+2:]
					continue
				}
				cmds = append(cmds, l)
			}
		}
		if inActions {
			assert.Empty(t, cmds, "in a workflow run, the runner would run: %q", cmds)
		} else {
			assert.NotEmpty(t, cmds, "outside a runner the text is printed as it is")
		}
	}
}
