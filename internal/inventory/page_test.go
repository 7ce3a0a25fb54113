package inventory_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/ghsim"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
)

// TestScanStopsPaginationLoops: an answer whose rel="next" link points back
// to a page already read (page 1 from page 1, or page 1 from page 2) makes
// the scan stop that listing at once, say why, and count it as not reviewed,
// instead of sending requests until the rate limit runs out (5,001 requests
// on the old code).
func TestScanStopsPaginationLoops(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		keys  int // deploy keys on acme/api: 150 is two pages
		fault ghsim.FaultSpec
		calls int // requests to the looping route: every page once, over both repositories
	}{
		{"page 1 links to itself", 1, ghsim.FaultSpec{Path: "/repos/{owner}/{repo}/keys", Kind: ghsim.FaultPageLoop}, 2},
		{"page 2 links back to page 1", 150, ghsim.FaultSpec{Path: "/repos/{owner}/{repo}/keys", Kind: ghsim.FaultPageLoop}, 3},
		{"the organisation's repositories loop", 1, ghsim.FaultSpec{Path: "/orgs/{org}/repos", Kind: ghsim.FaultPageLoop}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRLWorld(t)
			for i := 1; i < tc.keys; i++ {
				w.sim.AddDeployKey(ghsim.DeployKeySpec{Owner: "acme", Repo: "api", Title: "extra-" + strconv.Itoa(i), ReadOnly: true})
			}
			c := w.client(t)
			w.sim.Fault(tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			inv, err := inventory.Scan(ctx, c, inventory.Options{
				Org: "acme", Kinds: []policy.CredentialKind{policy.KindDeployKey},
				Concurrency: 1, Now: w.sim.Now,
			})
			require.NoError(t, ctx.Err(), "the scan followed the loop until the test's deadline")
			route := "GET " + tc.fault.Path
			assert.Equal(t, tc.calls, w.sim.Calls()[route], "requests to the looping listing: each page once")
			if tc.fault.Path == "/orgs/{org}/repos" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "pagination loops")
				return
			}
			require.NoError(t, err)
			assert.True(t, inv.Partial())
			require.Len(t, inv.Gaps(), 2, "every repository's keys loop")
			for _, g := range inv.Gaps() {
				assert.Contains(t, g.Reason, "pagination loops")
				assert.Contains(t, g.Reason, "points back to page 1")
				assert.False(t, inv.Complete(g.Target, policy.KindDeployKey))
			}
		})
	}
}

// TestPagerCaps: links that go on forever stop at MaxPages.
func TestPagerCaps(t *testing.T) {
	t.Parallel()
	var p inventory.Pager
	page, n := 1, 0
	for {
		next, err := p.Next(page, &github.Response{Response: &http.Response{}, NextPage: page + 1})
		n++
		if err != nil {
			var pe *inventory.PageError
			require.ErrorAs(t, err, &pe)
			assert.False(t, pe.Loop)
			assert.Contains(t, err.Error(), "cap of 1000 pages")
			break
		}
		require.Less(t, n, inventory.MaxPages+1)
		page = next
	}
	assert.Equal(t, inventory.MaxPages, n)
	var q inventory.Pager
	next, err := q.Next(0, &github.Response{Response: &http.Response{}})
	assert.NoError(t, err)
	assert.Zero(t, next, "no next link: done")
}
