package issue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// TestArchivedSinceTheScanIsUnfiled: a repository archived between the scan
// and the issue writes makes GitHub refuse every write there (403
// "Repository was archived so is read-only."), whichever the review was
// about to do: create its label, open an issue, comment and close one whose
// finding is gone, reopen one closed while the finding persists. Each is
// reported once as unfiled with the fix, never as a failed review, and
// nothing more is tried there.
func TestArchivedSinceTheScanIsUnfiled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		before func(t *testing.T, w *world, ids seeded) // after a first review filed acme/web's issues (nil: no first review)
	}{
		{name: "the review label"},
		{name: "a new issue", before: func(t *testing.T, w *world, _ seeded) {
			w.sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "web", Title: "new-unused", ReadOnly: true, CreatedAt: ago(w, 200)})
		}},
		{name: "closing an issue whose finding is gone", before: func(t *testing.T, w *world, ids seeded) {
			_, err := w.gh.Repositories.DeleteKey(ctx, "acme", "web", ids.writeKey)
			require.NoError(t, err)
		}},
		{name: "reopening an issue closed while its finding persists", before: func(t *testing.T, w *world, _ seeded) {
			is := w.issues("acme", "web")
			require.NotEmpty(t, is)
			_, _, err := w.gh.Issues.Edit(ctx, "acme", "web", is[0].Number, &ghIssueReq{State: str("closed")})
			require.NoError(t, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			ids := seed(w)
			if tt.before != nil {
				w.run(ctx, org, policy.Review{}, issue.Config{})
				require.NotEmpty(t, w.issues("acme", "web"), "the first review files acme/web's findings")
				tt.before(t, w, ids)
			}
			before := w.sim.Issues("acme", "web")
			res := w.runArchivingAfterScan(ctx, "web")

			var unfiled []issue.Action
			for _, a := range res.Actions {
				if a.Repo != "acme/web" {
					continue
				}
				assert.NotEqual(t, issue.OpFailed, a.Op, "a refusal because of archiving is no failure: %+v", a)
				if a.Op == issue.OpUnfiled {
					unfiled = append(unfiled, a)
				}
			}
			require.Len(t, unfiled, 1, "said once: %+v", res.Actions)
			assert.Contains(t, unfiled[0].Reason, "is archived")
			assert.Contains(t, unfiled[0].Reason, "central_repository")
			assert.Contains(t, unfiled[0].Reason, "unarchive acme/web")
			assert.False(t, res.Partial)
			assert.Equal(t, before, w.sim.Issues("acme", "web"), "nothing changed in the archived repository")
		})
	}
}

// runArchivingAfterScan is one review whose scan sees acme/NAME unarchived,
// archived by its admin before the issues are written.
func (w *world) runArchivingAfterScan(ctx context.Context, name string) *issue.Result {
	w.t.Helper()
	scan := org
	scan.Now = func() time.Time { return w.now }
	inv, err := inventory.Scan(ctx, inventory.NewClient(w.gh), scan)
	require.NoError(w.t, err)
	w.sim.SetArchived("acme", name, true)
	rep := review.Evaluate(inv, policy.Review{}, w.now)
	tr := issue.New(w.gh.Issues, w.gh.Repositories, w.gh.Organizations, issue.NewRemover(w.gh),
		issue.Config{Review: policy.Review{}, Now: func() time.Time { return w.now }, Identity: identity})
	res, err := tr.Sync(ctx, inv, rep)
	require.NoError(w.t, err)
	return res
}
