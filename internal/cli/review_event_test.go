package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/review"
)

// commentEvent makes the run an issue_comment run: the payload of comment
// by octocat on acme/repo#number, as the issue is now in the simulator.
// edit may change the payload.
func (w *reviewWorld) commentEvent(t *testing.T, repo string, number int, comment string, edit func(ev map[string]any)) {
	t.Helper()
	is := w.issue(t, repo, number)
	labels := []map[string]string{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]string{"name": l})
	}
	ev := map[string]any{
		"action":     "created",
		"issue":      map[string]any{"number": number, "state": is.State, "title": is.Title, "body": is.Body, "labels": labels},
		"comment":    map[string]any{"id": 1, "body": comment, "user": map[string]any{"login": "octocat", "type": "User"}},
		"repository": map[string]any{"full_name": "acme/" + repo},
	}
	if edit != nil {
		edit(ev)
	}
	data, err := json.Marshal(ev)
	require.NoError(t, err)
	path := filepath.Join(w.dir, "event.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	w.vars["GITHUB_EVENT_NAME"], w.vars["GITHUB_EVENT_PATH"] = "issue_comment", path
}

// scheduled makes the next run a scheduled one again.
func (w *reviewWorld) scheduled() {
	delete(w.vars, "GITHUB_EVENT_NAME")
	delete(w.vars, "GITHUB_EVENT_PATH")
}

// findings reads the findings of the whole organisation without touching issues.
func (w *reviewWorld) findings(t *testing.T) reviewOutput {
	t.Helper()
	code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json", "--no-issues")
	require.Equal(t, ExitOK, code, stderr)
	return decodeReview(t, stdout)
}

func coverageTargets(o reviewOutput) []string {
	var out []string
	for _, c := range o.Inventory.Coverage {
		out = append(out, c.Target+" "+string(c.Kind))
	}
	return out
}

// TestReviewOnCommentRevokes is `/jitkey revoke` in a run triggered by the
// comment: only the commented issue's target and kind are read, the
// credential is removed and the issue closed. Issues about what the narrowed
// run did not read stay as they are, even one whose credential is gone;
// the one about a gone credential of the same target and kind, read in
// full, is closed.
func TestReviewOnCommentRevokes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, kind, cred  string
		collaborator      [2]string // repository, role of octocat; "org", "admin": an owner of acme
		coverage          []string
		removedFromOutput func(t *testing.T, w *reviewWorld, f review.Finding)
		notCalled         []string
	}{
		{
			name: "deploy key", kind: "deploy_key", cred: "old-deploy", collaborator: [2]string{"api", "write"},
			coverage:  []string{"acme/api deploy_key"},
			notCalled: []string{"GET /orgs/{org}/repos", "GET /repos/{owner}/{repo}/hooks", "GET /repos/{owner}/{repo}/actions/secrets", "GET /orgs/{org}/personal-access-tokens"},
			removedFromOutput: func(t *testing.T, w *reviewWorld, f review.Finding) {
				w.scheduled()
				code, stdout, stderr := w.review(t, "--repo", "acme/api", "--format", "json", "--no-issues")
				require.Equal(t, ExitOK, code, stderr)
				for _, c := range decodeReview(t, stdout).Inventory.Credentials {
					assert.NotEqual(t, f.Credential.ID, c.ID, "the deploy key was deleted")
				}
			},
		},
		{
			name: "organisation PAT", kind: "fine_grained_pat", cred: "forever", collaborator: [2]string{"org", "admin"},
			coverage:  []string{"org:acme fine_grained_pat"},
			notCalled: []string{"GET /orgs/{org}/repos", "GET /repos/{owner}/{repo}/keys", "GET /orgs/{org}/hooks", "GET /orgs/{org}/actions/secrets"},
			removedFromOutput: func(t *testing.T, w *reviewWorld, f review.Finding) {
				assert.True(t, w.sim.PATRevoked("acme", f.Credential.RemoteID), "the PAT's access was revoked")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newReviewWorld(t)
			if tc.collaborator[0] == "org" {
				w.sim.AddMember("acme", "octocat", tc.collaborator[1])
			} else {
				w.sim.AddCollaborator("acme", tc.collaborator[0], "octocat", tc.collaborator[1])
			}
			all := w.findings(t)
			f := findingOf(t, all, tc.kind, tc.cred)
			repo := strings.TrimPrefix(f.IssueRepo, "acme/")
			asked := w.seedIssue(t, f, "/jitkey revoke")
			goneHere := w.seedIssue(t, goneCopy(f))                                                          // same target and kind: read in full
			goneOther := w.seedIssue(t, goneCopy(findingOf(t, all, "webhook", "https://hooks.example.com"))) // acme/api webhooks: not read
			otherStill := w.seedIssue(t, findingOf(t, all, "actions_secret", "OLD_TOKEN"))                   // acme/docs: not read
			w.sim.ResetCalls()

			w.commentEvent(t, repo, asked, "/jitkey revoke\n\nunused since the migration", nil)
			code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json")
			require.Equal(t, ExitOK, code, stderr)
			assert.Contains(t, stderr, "reviewing "+tc.kind+" of "+inventoryTarget(f)+" only")
			o := decodeReview(t, stdout)
			assert.Equal(t, tc.coverage, coverageTargets(o), "only the issue's target and kind are read")
			calls := w.sim.Calls()
			for _, route := range tc.notCalled {
				assert.Zero(t, calls[route], route)
			}
			require.Len(t, o.Issues.Remediations, 1)
			assert.Equal(t, "octocat", o.Issues.Remediations[0].By)
			assert.Equal(t, f.Credential.ID, o.Issues.Remediations[0].Credential)
			assert.Empty(t, o.Issues.Remediations[0].Error)

			done := w.issue(t, repo, asked)
			assert.Equal(t, "closed", done.State)
			assert.Contains(t, done.Comments[len(done.Comments)-1].Body, "as asked by @octocat")
			assert.Equal(t, "closed", w.issue(t, repo, goneHere).State, "a gone credential of the target and kind read in full")
			assert.Equal(t, "open", w.issue(t, "api", goneOther).State, "webhooks were not read: absence proves nothing")
			assert.Empty(t, w.issue(t, "api", goneOther).Comments)
			assert.Equal(t, "open", w.issue(t, "docs", otherStill).State)
			assert.Empty(t, w.sim.ValidTokens(), "the review token is revoked")
			tc.removedFromOutput(t, w, f)
		})
	}
}

func inventoryTarget(f review.Finding) string {
	if f.Credential.Repo != "" {
		return f.Credential.Repo
	}
	return "org:" + f.Credential.Org
}

// TestReviewOnCommentRefuses: a commenter without write access gets one
// reply, and nothing is removed.
func TestReviewOnCommentRefuses(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	f := findingOf(t, w.findings(t), "deploy_key", "pusher")
	n := w.seedIssue(t, f, "/jitkey revoke")
	w.sim.ResetCalls()
	w.commentEvent(t, "web", n, "/jitkey revoke", nil)
	code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json")
	require.Equal(t, ExitOK, code, stderr)
	o := decodeReview(t, stdout)
	assert.Empty(t, o.Issues.Remediations)
	is := w.issue(t, "web", n)
	assert.Equal(t, "open", is.State)
	require.Len(t, is.Comments, 2)
	assert.Contains(t, is.Comments[1].Body, "@octocat, `/jitkey revoke` needs write access to acme/web; nothing was removed")
	assert.Equal(t, 1, w.contentWrites(), "one reply, nothing else written")
	assert.Zero(t, w.sim.Calls()["DELETE /repos/{owner}/{repo}/keys/{key_id}"])

	// The reply itself triggers the workflow again (its body names the
	// command): that run does nothing.
	w.sim.ResetCalls()
	w.commentEvent(t, "web", n, is.Comments[1].Body, nil)
	code, _, stderr = w.review(t, "--org", "acme")
	require.Equal(t, ExitOK, code, stderr)
	assert.Contains(t, stderr, "nothing to do")
	assert.Empty(t, w.sim.Calls())
}

// TestReviewOnCommentNothingToDo: any other comment ends the run at once,
// from the event payload alone: no API call at all (no token is minted).
func TestReviewOnCommentNothingToDo(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	all := w.findings(t)
	open := w.seedIssue(t, findingOf(t, all, "deploy_key", "old-deploy"))
	hook := findingOf(t, all, "webhook", "https://hooks.example.com")
	closed := w.sim.AddIssue("acme", "api", ghsim.IssueSpec{Title: hook.Title, State: "closed", Body: issue.Body(hook, nil, 0), Labels: []string{issue.Label}})
	plain := w.sim.AddIssue("acme", "api", ghsim.IssueSpec{Title: "flaky test", Body: "it fails on Tuesdays"})
	foreign := goneCopy(findingOf(t, all, "deploy_key", "old-deploy"))
	foreign.Credential.Repo, foreign.Credential.Org = "other/api", "other"
	outside := w.sim.AddIssue("acme", "api", ghsim.IssueSpec{Title: "forged", Body: issue.Body(foreign, nil, 0), Labels: []string{issue.Label}})
	unlabelled := w.sim.AddIssue("acme", "api", ghsim.IssueSpec{Title: "copied", Body: w.issue(t, "api", open).Body})
	ledger := len(w.sim.Ledger())
	w.sim.ResetCalls()

	for _, tc := range []struct {
		name    string
		number  int
		comment string
		edit    func(map[string]any)
		says    string
	}{
		{"another comment", open, "LGTM, but let's wait for Monday", nil, "is not the reviewer command"},
		{"command not on the first line", open, "please\n/jitkey revoke", nil, "is not the reviewer command"},
		{"command with more on its line", open, "/jitkey revoke now", nil, "is not the reviewer command"},
		{"not a review issue", plain, "/jitkey revoke", nil, "is not a jitkey review issue"},
		{"review marker without the label", unlabelled, "/jitkey revoke", nil, "is not a jitkey review issue"},
		{"closed review issue", closed, "/jitkey revoke", nil, "is closed"},
		{"target outside --org", outside, "/jitkey revoke", nil, "outside this review's --org and --repo"},
		{"pull request", open, "/jitkey revoke", func(ev map[string]any) {
			ev["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "https://example.invalid/pulls/1"}
		}, "is a pull request"},
		{"deleted comment", open, "/jitkey revoke", func(ev map[string]any) { ev["action"] = "deleted" }, "was deleted"},
	} {
		w.commentEvent(t, "api", tc.number, tc.comment, tc.edit)
		code, stdout, stderr := w.review(t, "--org", "acme", "--format", "json")
		assert.Equal(t, ExitOK, code, "%s: %s", tc.name, stderr)
		assert.Contains(t, stderr, "jitkey review: nothing to do: ", tc.name)
		assert.Contains(t, stderr, tc.says, tc.name)
		assert.Empty(t, stdout, tc.name)
		assert.Empty(t, w.sim.Calls(), "%s: no API call", tc.name)
	}
	assert.Equal(t, ledger, len(w.sim.Ledger()), "no token minted")
	for _, is := range w.sim.Issues("acme", "api") {
		assert.Empty(t, is.Comments, is.Title)
	}
}

func TestReviewOnCommentSetupErrors(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	w.vars["GITHUB_EVENT_NAME"] = "issue_comment"
	code, _, stderr := w.review(t, "--org", "acme")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "GITHUB_EVENT_PATH is not set")

	w.vars["GITHUB_EVENT_PATH"] = filepath.Join(w.dir, "missing.json")
	code, _, stderr = w.review(t, "--org", "acme")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "read the issue_comment event")

	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "bad.json"), []byte("{not json"), 0o600))
	w.vars["GITHUB_EVENT_PATH"] = "bad.json"
	code, _, stderr = w.review(t, "--org", "acme")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "not an event payload")
	assert.Empty(t, w.sim.Calls())
}
