package issue

import (
	"context"
	"sync"
	"time"
)

// Pacer keeps content-creating requests (new issues and comments) within
// GitHub's secondary limits: at most PerMinute in any minute and PerHour in
// any hour. Waits go through the injected sleep, so tests control time.
type Pacer struct {
	PerMinute, PerHour int
	now                func() time.Time
	sleep              func(context.Context, time.Duration) error
	mu                 sync.Mutex
	sent               []time.Time // times of the requests of the last hour
	waited             time.Duration
}

// NewPacer returns a pacer at GitHub's documented limits (80 a minute, 500 an hour).
func NewPacer(now func() time.Time, sleep func(context.Context, time.Duration) error) *Pacer {
	return &Pacer{PerMinute: 80, PerHour: 500, now: now, sleep: sleep}
}

// share divides the budgets among n processes running at once under one
// identity, leaving each at least 1.
func (p *Pacer) share(n int) {
	if n <= 1 {
		return
	}
	p.PerMinute = max(p.PerMinute/n, 1)
	p.PerHour = max(p.PerHour/n, 1)
}

// Wait blocks until one more content-creating request is allowed, and counts it.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		now := p.now()
		p.prune(now)
		d := p.delay(now)
		if d <= 0 {
			p.sent = append(p.sent, now)
			return nil
		}
		p.waited += d
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Waited is the total time spent waiting.
func (p *Pacer) Waited() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waited
}

func (p *Pacer) prune(now time.Time) {
	i := 0
	for i < len(p.sent) && now.Sub(p.sent[i]) >= time.Hour {
		i++
	}
	p.sent = p.sent[i:]
}

func (p *Pacer) delay(now time.Time) time.Duration {
	var d time.Duration
	if p.PerHour > 0 && len(p.sent) >= p.PerHour {
		d = p.sent[len(p.sent)-p.PerHour].Add(time.Hour).Sub(now)
	}
	if p.PerMinute > 0 && len(p.sent) >= p.PerMinute {
		if m := p.sent[len(p.sent)-p.PerMinute].Add(time.Minute).Sub(now); m > d {
			d = m
		}
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
