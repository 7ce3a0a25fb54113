package ghsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const secondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
const primaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits"

type bucket struct {
	limit  int
	used   int
	reset  time.Time
	minute time.Time
	points int
}

type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// take charges one request to id's bucket and reports the bucket after it.
// ok is false when the primary limit was already exhausted.
func (s *Sim) take(c *call) (b bucket, ok bool) {
	if c.route == "GET /rate_limit" {
		return s.peek(c.id), true
	}
	rl := &s.rl
	rl.mu.Lock()
	defer rl.mu.Unlock()
	bk := s.bucketLocked(c.id)
	if bk.used >= bk.limit {
		return *bk, false
	}
	bk.used++
	return *bk, true
}

func (s *Sim) peek(id identity) bucket {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	return *s.bucketLocked(id)
}

func (s *Sim) bucketLocked(id identity) *bucket {
	now := s.Now()
	bk := s.rl.buckets[id.bucket]
	limit := id.limit
	if s.opts.RateLimit > 0 {
		limit = s.opts.RateLimit
	}
	if bk == nil || !now.Before(bk.reset) {
		bk = &bucket{limit: limit, reset: now.Add(time.Hour).Truncate(time.Second)}
		s.rl.buckets[id.bucket] = bk
	}
	return bk
}

func (rl *rateLimiter) refund(key string) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if bk := rl.buckets[key]; bk != nil && bk.used > 0 {
		bk.used--
	}
}

// ExhaustRateLimit uses up the primary rate limit of every identity seen so far and
// of identities yet to come until the window resets (an hour on the clock).
func (s *Sim) ExhaustRateLimit() {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	for _, bk := range s.rl.buckets {
		bk.used = bk.limit
	}
}

func (s *Sim) primaryLimited(w http.ResponseWriter, c *call) bool {
	bk, ok := s.take(c)
	setRateHeaders(c, bk)
	if ok {
		return false
	}
	s.answerPrimary(w, c, bk.reset)
	return true
}

func (s *Sim) answerPrimary(w http.ResponseWriter, c *call, reset time.Time) {
	if c.header.Get("X-RateLimit-Limit") == "" {
		setRateHeaders(c, s.peek(c.id))
	}
	c.header.Set("X-RateLimit-Remaining", "0")
	c.header.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	msg := "API rate limit exceeded"
	if c.id.tok != nil && c.id.tok.inst != nil {
		msg = "API rate limit exceeded for installation ID " + strconv.FormatInt(c.id.tok.inst.ID, 10) + "."
	}
	body, _ := json.Marshal(map[string]any{"message": msg, "documentation_url": primaryDocs, "status": "403"})
	c.status, c.body = http.StatusForbidden, body
	c.flush(w)
}

func (s *Sim) answerSecondary(w http.ResponseWriter, c *call, status int, retryAfter time.Duration) {
	if status == 0 {
		status = http.StatusForbidden
	}
	if retryAfter <= 0 {
		retryAfter = 60 * time.Second
	}
	setRateHeaders(c, s.peek(c.id))
	c.header.Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
	body, _ := json.Marshal(map[string]any{
		"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		"documentation_url": secondaryDocs, "status": strconv.Itoa(status)})
	c.status, c.body = status, body
	c.flush(w)
}

// secondaryLimited applies the concurrency cap and the points-per-minute limit.
func (s *Sim) secondaryLimited(w http.ResponseWriter, c *call) bool {
	if s.opts.MaxConcurrent > 0 && s.acct.current() > s.opts.MaxConcurrent {
		s.answerSecondary(w, c, http.StatusForbidden, time.Minute)
		return true
	}
	if s.opts.PointsPerMinute <= 0 {
		return false
	}
	cost := 1
	if c.r.Method != http.MethodGet && c.r.Method != http.MethodHead {
		cost = 5
	}
	now := s.Now()
	minute := now.Truncate(time.Minute)
	s.rl.mu.Lock()
	bk := s.bucketLocked(c.id)
	if !bk.minute.Equal(minute) {
		bk.minute, bk.points = minute, 0
	}
	over := bk.points+cost > s.opts.PointsPerMinute
	if !over {
		bk.points += cost
	}
	s.rl.mu.Unlock()
	if over {
		s.answerSecondary(w, c, http.StatusForbidden, minute.Add(time.Minute).Sub(now))
	}
	return over
}

func setRateHeaders(c *call, bk bucket) {
	c.header.Set("X-RateLimit-Limit", strconv.Itoa(bk.limit))
	c.header.Set("X-RateLimit-Remaining", strconv.Itoa(max(bk.limit-bk.used, 0)))
	c.header.Set("X-RateLimit-Used", strconv.Itoa(bk.used))
	c.header.Set("X-RateLimit-Reset", strconv.FormatInt(bk.reset.Unix(), 10))
	c.header.Set("X-RateLimit-Resource", "core")
}
