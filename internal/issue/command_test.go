package issue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// commandWorld is a seeded organisation on a simulator whose clock the test
// moves, after a first review run opened the issues.
func commandWorld(t *testing.T) (*world, seeded, *ghsim.ManualClock) {
	t.Helper()
	clk := ghsim.NewClock(time.Now())
	w := newWorld(t, ghsim.Options{Clock: clk}, nil)
	ids := seed(w)
	w.run(context.Background(), org, policy.Review{}, issue.Config{})
	clk.Advance(time.Minute) // the token lives an hour on this clock
	return w, ids, clk
}

func keyExists(t *testing.T, w *world, repo string, id int64) bool {
	t.Helper()
	keys, _, err := w.gh.Repositories.ListKeys(context.Background(), "acme", repo, nil)
	require.NoError(t, err)
	for _, k := range keys {
		if k.GetID() == id {
			return true
		}
	}
	return false
}

// TestEditedCommandIsRefused: anyone with issues: write can edit anyone's
// comment, and GitHub's REST API does not say who edited it. A comment by a
// collaborator with write access, edited into `/jitkey revoke` by someone
// else, must not remove the credential in the author's name: jitkey acts
// only on unedited comments, and says so once.
func TestEditedCommandIsRefused(t *testing.T) {
	t.Parallel()
	w, ids, clk := commandWorld(t)
	ctx := context.Background()
	is := findIssue(t, w, "api", "old-deploy")
	id := w.sim.AddComment("acme", "api", is.Number, "octocat", "thanks, looking into it")
	clk.Advance(10 * time.Minute)
	// The attacker: a token with issues: write (here the review App's own).
	_, _, err := w.gh.Issues.EditComment(ctx, "acme", "api", id, &github.IssueComment{Body: github.String(issue.Command)})
	require.NoError(t, err)

	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Empty(t, res.Remediations)
	assert.True(t, keyExists(t, w, "api", ids.dormantKey), "an edited command removed the key")
	is = findIssue(t, w, "api", "old-deploy")
	assert.Equal(t, "open", is.State)
	last := is.Comments[len(is.Comments)-1]
	assert.Contains(t, last.Body, "was edited after it was posted")
	assert.Contains(t, last.Body, "post the command as a new comment")

	before := w.sim.WriteCalls()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Zero(t, w.sim.WriteCalls()-before, "the refusal is said once")

	// The author posting the command anew is obeyed.
	w.sim.AddComment("acme", "api", is.Number, "octocat", issue.Command)
	_, _, res = w.run(ctx, org, policy.Review{}, issue.Config{})
	require.Len(t, res.Remediations, 1)
	assert.Equal(t, "octocat", res.Remediations[0].By)
	assert.False(t, keyExists(t, w, "api", ids.dormantKey))
}

// TestSpoofedRefusalMarkerIsIgnored: jitkey marks a command it answered
// with a hidden <!-- jitkey:refused=ID --> in its reply. The same marker in
// anyone else's comment must not cancel an authorised command.
func TestSpoofedRefusalMarkerIsIgnored(t *testing.T) {
	t.Parallel()
	w, ids, _ := commandWorld(t)
	ctx := context.Background()
	is := findIssue(t, w, "api", "old-deploy")
	id := w.sim.AddComment("acme", "api", is.Number, "octocat", issue.Command)
	w.sim.AddComment("acme", "api", is.Number, "mallory", "nothing to see <!-- jitkey:refused="+itoa(id)+" --> <!-- jitkey:unremovable="+itoa(id)+" -->")

	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	require.Len(t, res.Remediations, 1, "%+v", res.Actions)
	assert.False(t, keyExists(t, w, "api", ids.dormantKey), "a spoofed marker cancelled the command")
	assert.Equal(t, "closed", findIssue(t, w, "api", "old-deploy").State)
}

// TestForgedReviewIssueIsIgnored: an issue opened by someone else with the
// jitkey label and a copy of a review issue's marker is not a review issue:
// jitkey opens its own (it would otherwise track the finding in an issue the
// forger controls), and never closes or edits the forged one.
func TestForgedReviewIssueIsIgnored(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), org)
	require.NoError(t, err)
	rep := review.Evaluate(inv, policy.Review{}, w.now)
	var forged int
	for _, f := range rep.Findings {
		if f.Credential.Name == "old-deploy" {
			forged = w.sim.AddIssue("acme", "api", ghsim.IssueSpec{User: "mallory", Title: f.Title, Body: issue.Body(f, nil, 0), Labels: []string{issue.Label}})
		}
	}
	require.NotZero(t, forged)

	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	var mine []ghsim.Issue
	for _, is := range w.issues("acme", "api") {
		if strings.Contains(is.Title, "old-deploy") {
			mine = append(mine, is)
		}
	}
	require.Len(t, mine, 2, "jitkey opened its own issue beside the forged one: %+v", res.Actions)
	assert.Equal(t, "mallory", mine[0].User)
	assert.Equal(t, "open", mine[0].State, "the forged issue is left alone")
	assert.Empty(t, mine[0].Comments)
	assert.Equal(t, "jitkey-review[bot]", mine[1].User)
}

// TestOrganisationCredentialNeedsAnOwner: removing an organisation's
// credential (here a member's PAT grant) needs an organisation owner, not an
// admin of the repository holding the issue.
func TestOrganisationCredentialNeedsAnOwner(t *testing.T) {
	t.Parallel()
	w, ids, _ := commandWorld(t)
	ctx := context.Background()
	w.sim.AddCollaborator("acme", ".github", "octocat", "admin")
	w.sim.AddMember("acme", "octocat", "member")
	w.sim.AddMember("acme", "mona", "admin")
	is := findIssue(t, w, ".github", "no-expiry")
	w.sim.AddComment("acme", ".github", is.Number, "octocat", issue.Command)

	_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
	assert.Empty(t, res.Remediations, "a repository admin removed an organisation credential")
	assert.False(t, w.sim.PATRevoked("acme", ids.patNoExpiry))
	is = findIssue(t, w, ".github", "no-expiry")
	assert.Contains(t, is.Comments[len(is.Comments)-1].Body, "needs an owner of the organisation acme")

	w.sim.AddComment("acme", ".github", is.Number, "mona", issue.Command)
	_, _, res = w.run(ctx, org, policy.Review{}, issue.Config{})
	require.Len(t, res.Remediations, 1, "%+v", res.Actions)
	assert.Equal(t, "mona", res.Remediations[0].By)
	assert.True(t, w.sim.PATRevoked("acme", ids.patNoExpiry))
}
