package broker

import (
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens per second, holding at most burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter is a set of token buckets by key (a repository, or "" for the
// global bucket). Buckets full again are forgotten, so memory follows the
// number of repositories active within a refill period.
type limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

func newLimiter(rate, burst float64, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for key, reporting false when its bucket is empty.
func (l *limiter) allow(key string) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{}
		l.buckets[key] = b
	}
	ok := b.take(now, l.rate, l.burst)
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	if now.Sub(l.swept) > refill {
		for k, b := range l.buckets {
			if now.Sub(b.last) > refill {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	return ok
}

// refund gives back the token taken for key (an exchange refused as a
// replay does not spend its repository's rate).
func (l *limiter) refund(key string) {
	if l == nil || l.rate <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		b.tokens = min(l.burst, b.tokens+1)
	}
}
