package issue_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestPaginationLoopClosesNothing: when the listing of review issues (or of
// an issue's comments) answers with a rel="next" link back to a page already
// read, the repository's issues are skipped with the reason, nothing is
// closed for a finding the run did not see, and each page is asked for once
// (the old code asked until the deadline).
func TestPaginationLoopClosesNothing(t *testing.T) {
	t.Parallel()
	for _, route := range []string{"/repos/{owner}/{repo}/issues", "/repos/{owner}/{repo}/issues/{issue_number}/comments"} {
		t.Run(route, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghsim.Options{}, nil)
			ids := seed(w)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w.run(ctx, org, policy.Review{}, issue.Config{})
			gone := findIssue(t, w, "api", "old-deploy")
			_, err := w.gh.Repositories.DeleteKey(ctx, "acme", "api", ids.dormantKey)
			require.NoError(t, err)
			// a comment on every open issue of acme/api, so that its comments are read
			for _, is := range w.issues("acme", "api") {
				_, _, err := w.gh.Issues.CreateComment(ctx, "acme", "api", is.Number, &ghComment{Body: str("noted")})
				require.NoError(t, err)
			}
			w.sim.Fault(ghsim.FaultSpec{Method: "GET", Path: route, Kind: ghsim.FaultPageLoop})
			w.sim.ResetCalls()
			_, _, res := w.run(ctx, org, policy.Review{}, issue.Config{})
			require.NoError(t, ctx.Err())
			assert.True(t, res.Partial)
			var skipped []string
			for _, a := range res.Actions {
				assert.NotEqual(t, issue.OpClose, a.Op, "%+v", a)
				if a.Op == issue.OpSkipped {
					skipped = append(skipped, a.Repo)
					assert.Contains(t, a.Reason, "pagination loops")
				}
			}
			assert.Contains(t, skipped, "acme/api")
			assert.Equal(t, "open", findIssue(t, w, "api", "old-deploy").State, "issue #%d closed on a listing that looped", gone.Number)
			assert.Less(t, w.sim.Calls()["GET "+route], 20, "each page asked for once")
		})
	}
}
