package ghsim

import (
	"sync"
	"time"
)

// Clock tells the simulator what time it is. Token expiry, JWT checks, rate-limit
// windows and every timestamp the simulator writes come from it.
type Clock interface {
	Now() time.Time
}

// ManualClock is a Clock that only moves when told to. It is safe for concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a ManualClock reading t0. Tests that also use ghinstallation
// should start it near the real time: ghinstallation signs App JWTs with time.Now.
func NewClock(t0 time.Time) *ManualClock { return &ManualClock{t: t0.UTC()} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }
