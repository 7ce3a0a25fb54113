package issue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// centralRepos are where the tests below may file issues.
var centralRepos = []string{"api", "web", ".github", "security", "audit"}

// seedCentral is seed plus two repositories that can serve as the central one.
func seedCentral(w *world) seeded {
	ids := seed(w)
	w.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "security", Private: true})
	w.sim.AddRepo(ghsim.RepoSpec{Owner: "acme", Name: "audit", Private: true})
	return ids
}

// reviewIssue is a review issue with where it lives.
type reviewIssue struct {
	ghsim.Issue
	repo   string // owner/name
	marker issue.Marker
}

func (r reviewIssue) ref() string { return fmt.Sprintf("%s#%d", r.repo, r.Number) }

func everyIssue(w *world) []reviewIssue {
	var out []reviewIssue
	for _, name := range centralRepos {
		for _, is := range w.issues("acme", name) {
			m, _ := issue.ParseMarker(is.Body)
			out = append(out, reviewIssue{Issue: is, repo: "acme/" + name, marker: m})
		}
	}
	return out
}

// assertOneOpenWhereFiled checks that each finding has exactly one open issue,
// in the repository it is filed in, and returns them by fingerprint.
func assertOneOpenWhereFiled(t *testing.T, w *world, rep review.Report) map[string]reviewIssue {
	t.Helper()
	open := map[string]reviewIssue{}
	for _, is := range everyIssue(w) {
		if is.State != "open" {
			continue
		}
		_, dup := open[is.marker.Fingerprint]
		assert.False(t, dup, "two open issues for %s: %s", is.Title, is.ref())
		open[is.marker.Fingerprint] = is
	}
	require.Len(t, rep.Findings, len(want))
	for _, f := range rep.Findings {
		is, ok := open[f.Fingerprint]
		if assert.True(t, ok, "no open issue for %s", f.Title) {
			assert.Equal(t, f.IssueRepo, is.repo, f.Title)
		}
	}
	assert.Len(t, open, len(rep.Findings), "no open issue without a finding")
	return open
}

func TestCentralRepositoryChangeMovesIssues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		central []string // the setting of each run, "" for unset
		issues  int      // review issues in all after the last run
	}{
		{name: "set", central: []string{"", "acme/security"}, issues: 2 * len(want)},
		{name: "unset", central: []string{"acme/security", ""}, issues: 2 * len(want)},
		{name: "changed", central: []string{"acme/security", "acme/audit"}, issues: 2 * len(want)},
		// back in their own repositories, the first issues are reopened, not opened again
		{name: "set then unset", central: []string{"", "acme/security", ""}, issues: 2 * len(want)},
		{name: "changed twice", central: []string{"acme/security", "acme/audit", "acme/security"}, issues: 2 * len(want)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			seedCentral(w)
			ctx := context.Background()
			var rep review.Report
			var open map[string]reviewIssue
			for i, c := range tt.central {
				var res *issue.Result
				_, rep, res = w.run(ctx, org, policy.Review{CentralRepository: c}, issue.Config{})
				assert.False(t, res.Partial, "run %d: %+v", i+1, res.Actions)
				open = assertOneOpenWhereFiled(t, w, rep)
			}
			all := everyIssue(w)
			assert.Len(t, all, tt.issues)
			closed := 0
			for _, is := range all {
				if is.State == "open" {
					continue
				}
				closed++
				assert.Equal(t, "not_planned", is.StateReason, is.ref())
				require.NotEmpty(t, is.Comments, is.ref())
				to := open[is.marker.Fingerprint]
				assert.Equal(t, fmt.Sprintf("This finding is now tracked in %s (the review policy's `central_repository` changed).", to.ref()),
					is.Comments[len(is.Comments)-1].Body, is.ref())
			}
			assert.Equal(t, tt.issues-len(want), closed)

			before := w.sim.WriteCalls()
			_, _, res := w.run(ctx, org, policy.Review{CentralRepository: tt.central[len(tt.central)-1]}, issue.Config{})
			assert.Zero(t, w.sim.WriteCalls()-before, "an unchanged run writes nothing: %+v", res.Actions)
			assert.Empty(t, res.Actions)
		})
	}
}

func TestCentralRepositoryMoveBackReopensWithReason(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seedCentral(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	w.run(ctx, org, policy.Review{CentralRepository: "acme/security"}, issue.Config{})
	w.run(ctx, org, policy.Review{}, issue.Config{})
	is := findIssue(t, w, "api", "old-deploy")
	assert.Equal(t, "open", is.State)
	require.NotEmpty(t, is.Comments)
	last := is.Comments[len(is.Comments)-1].Body
	assert.Contains(t, last, "`central_repository` changed, so this finding is tracked here again (acme/security#")
	assert.NotContains(t, last, "do not close the issue by hand", "nobody closed it by hand")
}

func TestCentralRepositoryMoveWaitsForTheNewIssue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		central string
		cfg     issue.Config
		moved   int // old issues closed by the second run
	}{
		{name: "cap", central: "acme/security", cfg: issue.Config{MaxIssues: 5}, moved: 5},
		{name: "central repository missing", central: "acme/nowhere", moved: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			seedCentral(w)
			ctx := context.Background()
			w.run(ctx, org, policy.Review{}, issue.Config{})
			_, rep, res := w.run(ctx, org, policy.Review{CentralRepository: tt.central}, tt.cfg)
			closes := 0
			for _, a := range res.Actions {
				if a.Op == issue.OpClose {
					closes++
				}
			}
			assert.Equal(t, tt.moved, closes, "%+v", res.Actions)
			// every finding keeps exactly one open issue, old or new
			perFP := map[string]int{}
			for _, is := range everyIssue(w) {
				if is.State == "open" {
					perFP[is.marker.Fingerprint]++
				}
			}
			for _, f := range rep.Findings {
				assert.Equal(t, 1, perFP[f.Fingerprint], f.Title)
			}
			if tt.cfg.MaxIssues > 0 {
				// the following runs move the rest, the cap's worth at a time
				for i := 0; i < 4; i++ {
					_, rep, _ = w.run(ctx, org, policy.Review{CentralRepository: tt.central}, tt.cfg)
				}
				assertOneOpenWhereFiled(t, w, rep)
			}
		})
	}
}

func TestCentralRepositoryMoveOnPartialScan(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	ids := seedCentral(w)
	ctx := context.Background()
	w.run(ctx, org, policy.Review{}, issue.Config{})
	_, err := w.gh.Repositories.DeleteKey(ctx, "acme", "api", ids.dormantKey)
	require.NoError(t, err)
	w.sim.Fault(ghsim.FaultSpec{Method: "GET", Path: "/repos/{owner}/{repo}/keys", Kind: ghsim.FaultStatus500, Status: 502})
	inv, rep, res := w.run(ctx, org, policy.Review{CentralRepository: "acme/security"}, issue.Config{})
	require.True(t, inv.Partial())
	// deploy keys were not read: their issues are neither moved nor closed
	for _, title := range []string{"old-deploy", "never-used", "pusher"} {
		repo := "web"
		if title == "old-deploy" {
			repo = "api"
		}
		is := findIssue(t, w, repo, title)
		assert.Equal(t, "open", is.State, title)
		assert.Empty(t, is.Comments, title)
	}
	for _, is := range w.issues("acme", "security") {
		m, _ := issue.ParseMarker(is.Body)
		assert.NotEqual(t, string(policy.KindDeployKey), m.Kind, is.Title)
	}
	// the rest moved
	assert.Len(t, rep.Findings, len(want)-3)
	assert.Len(t, w.issues("acme", "security"), len(want)-3)
	for _, a := range res.Actions {
		if a.Op == issue.OpClose {
			assert.True(t, strings.Contains(a.Reason, "now tracked in acme/security#"), "%+v", a)
		}
	}
}

func TestPolicyOwnersAreAssigned(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	ctx := context.Background()
	rv := policy.Review{Owners: []string{"@mallory", "acme/security-team", "octocat", "sec@example.com"}}
	w.run(ctx, org, rv, issue.Config{})
	all := allIssues(w)
	require.Len(t, all, len(want))
	for _, is := range all {
		// the policy's owners win over CODEOWNERS (acme/api's is "* @octocat @acme/security")
		assert.Equal(t, []string{"mallory", "octocat"}, is.Assignees, is.Title)
		assert.Contains(t, is.Body, "@mallory")
		assert.Contains(t, is.Body, "@acme/security-team", "a team is mentioned, not assigned")
		assert.NotContains(t, is.Body, "@acme/security ", "CODEOWNERS is not read when the policy names owners")
		assert.NotContains(t, is.Body, "sec@example.com")
	}
	assert.Zero(t, w.sim.Calls()["GET /repos/{owner}/{repo}/contents/{path}"], "CODEOWNERS not read")
}

func TestUnassignableOwnerDoesNotBlockTheIssue(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghsim.Options{}, nil)
	seed(w)
	// GitHub answers 422 when an assignee cannot be assigned
	w.sim.Fault(ghsim.FaultSpec{Method: "POST", Path: "/repos/{owner}/{repo}/issues", Kind: ghsim.FaultStatus500, Status: 422, Count: 1})
	_, _, res := w.run(context.Background(), org, policy.Review{Owners: []string{"octocat"}}, issue.Config{})
	assert.Equal(t, len(want), res.Created)
	assert.False(t, res.Partial, "%+v", res.Actions)
	unassigned := 0
	for _, is := range allIssues(w) {
		if len(is.Assignees) == 0 {
			unassigned++
		}
	}
	assert.Equal(t, 1, unassigned, "the refused issue is opened without assignees, the rest keep theirs")
}

// ghsim, like GitHub, creates a label named in a new issue; jitkey creates
// its labels first so that they carry its colour and description, so the
// test counts the label API calls.
func TestMissingLabelsAreCreatedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		labels []string
	}{
		{name: "jitkey label", labels: nil},
		{name: "with the policy's labels", labels: []string{"security", "triage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			seed(w)
			ctx := context.Background()
			rv := policy.Review{Labels: tt.labels}
			w.run(ctx, org, rv, issue.Config{})
			names := append([]string{issue.Label}, tt.labels...)
			repos := []string{"api", "web", ".github"} // where issues were opened
			calls := w.sim.Calls()
			assert.Equal(t, len(names)*len(repos), calls["POST /repos/{owner}/{repo}/labels"])
			assert.Equal(t, len(names)*len(repos), calls["GET /repos/{owner}/{repo}/labels/{name}"], "asked once per repository")
			for _, repo := range repos {
				for _, n := range names {
					l, _, err := w.gh.Issues.GetLabel(ctx, "acme", repo, n)
					require.NoError(t, err)
					assert.Equal(t, "d93f0b", l.GetColor(), "created by jitkey, not implied by the new issue")
					assert.Equal(t, "credential review finding, kept by jitkey", l.GetDescription())
				}
			}
			for _, is := range allIssues(w) {
				assert.ElementsMatch(t, names, is.Labels, is.Title)
			}
			// the labels are seen on the issues from then on: not asked again
			calls = w.sim.Calls() // after the GETs above
			w.run(ctx, org, rv, issue.Config{})
			assert.Equal(t, calls["GET /repos/{owner}/{repo}/labels/{name}"], w.sim.Calls()["GET /repos/{owner}/{repo}/labels/{name}"])
			assert.Equal(t, calls["POST /repos/{owner}/{repo}/labels"], w.sim.Calls()["POST /repos/{owner}/{repo}/labels"])
		})
	}
}
