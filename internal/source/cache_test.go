package source_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/source"
)

// countingReader answers every location with a snapshot naming the read.
type countingReader struct{ reads, locs int }

func (c *countingReader) Read(_ context.Context, _ int64, locs []source.Location) ([]source.Snapshot, error) {
	c.reads++
	c.locs += len(locs)
	out := make([]source.Snapshot, len(locs))
	for i, l := range locs {
		out[i] = source.Snapshot{Location: l, Found: true, Repository: l.Repository, Commit: string(rune('a' + c.reads))}
	}
	return out, nil
}

// TestCache serves what it read until the ttl or an invalidation, and reads
// only what it misses, in one call.
func TestCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &countingReader{}
	c := source.NewCache(r, 5*time.Minute, func() time.Time { return now })
	org, api, infra := source.OrgLocation("acme"), source.Location{Repository: "acme/api", Path: source.DefaultPath}, source.Location{Repository: "acme/infra", Path: source.DefaultPath}
	ctx := context.Background()

	first, err := c.Read(ctx, 1, []source.Location{org, api})
	require.NoError(t, err)
	assert.Equal(t, 1, r.reads)
	again, err := c.Read(ctx, 1, []source.Location{org, api, infra})
	require.NoError(t, err)
	assert.Equal(t, 2, r.reads, "one call for what was missed")
	assert.Equal(t, 3, r.locs, "acme/infra only")
	assert.Equal(t, first[0].Commit, again[0].Commit, "served from the cache")

	c.Invalidate("ACME/api") // a push to acme/api's default branch
	_, err = c.Read(ctx, 1, []source.Location{org, api})
	require.NoError(t, err)
	assert.Equal(t, 3, r.reads)
	assert.Equal(t, 4, r.locs, "acme/api read again, the organisation policy still cached")

	_, err = c.Read(ctx, 2, []source.Location{org})
	require.NoError(t, err)
	assert.Equal(t, 4, r.reads, "another installation reads for itself")

	now = now.Add(6 * time.Minute)
	_, err = c.Read(ctx, 1, []source.Location{org})
	require.NoError(t, err)
	assert.Equal(t, 5, r.reads, "past the ttl, read again")
}
