package source

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Cache keeps what a Reader read, per installation and location, for ttl,
// and reads every location it misses in one call. Invalidate forgets a
// repository at once: call it for a push to its default branch (the push
// webhook), so that a policy change applies to the next decision.
type Cache struct {
	r   Reader
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]cached
}

type cacheKey struct {
	inst int64
	loc  Location
}

type cached struct {
	snap Snapshot
	at   time.Time
}

// NewCache wraps r; now is the clock (nil: time.Now).
func NewCache(r Reader, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{r: r, ttl: ttl, now: now, entries: map[cacheKey]cached{}}
}

// Read answers from the cache, reading the locations it misses (or holds
// for longer than the ttl) in one call to the Reader.
func (c *Cache) Read(ctx context.Context, inst int64, locs []Location) ([]Snapshot, error) {
	out := make([]Snapshot, len(locs))
	var miss []Location
	var missAt []int
	now := c.now()
	c.mu.Lock()
	for i, l := range locs {
		k := cacheKey{inst, normal(l)}
		if e, ok := c.entries[k]; ok && now.Sub(e.at) < c.ttl {
			out[i] = e.snap
			continue
		}
		miss, missAt = append(miss, l), append(missAt, i)
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	got, err := c.r.Read(ctx, inst, miss)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, s := range got {
		out[missAt[j]] = s
		c.entries[cacheKey{inst, normal(miss[j])}] = cached{snap: s, at: now}
	}
	return out, nil
}

// Invalidate forgets every directory read from repository "owner/name".
func (c *Cache) Invalidate(repository string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.EqualFold(k.loc.Repository, repository) {
			delete(c.entries, k)
		}
	}
}

func normal(l Location) Location {
	l.Repository = strings.ToLower(l.Repository)
	return l
}
