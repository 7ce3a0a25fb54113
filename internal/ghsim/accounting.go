package ghsim

import (
	"net/http"
	"sync"
)

type accounting struct {
	mu          sync.Mutex
	calls       map[string]int
	writes      int
	inFlight    int
	maxInFlight int
}

func (a *accounting) enter() func() {
	a.mu.Lock()
	a.inFlight++
	if a.inFlight > a.maxInFlight {
		a.maxInFlight = a.inFlight
	}
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		a.inFlight--
		a.mu.Unlock()
	}
}

func (a *accounting) current() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inFlight
}

func (a *accounting) count(route, method string) {
	a.mu.Lock()
	a.calls[route]++
	if method != http.MethodGet && method != http.MethodHead {
		a.writes++
	}
	a.mu.Unlock()
}

// Calls counts API requests per route, keyed "METHOD /template" with OpenAPI path
// templates and without the prefix, e.g. "GET /repos/{owner}/{repo}/keys".
func (s *Sim) Calls() map[string]int {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	out := make(map[string]int, len(s.acct.calls))
	for k, v := range s.acct.calls {
		out[k] = v
	}
	return out
}

// WriteCalls counts API requests with a method other than GET and HEAD.
func (s *Sim) WriteCalls() int {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	return s.acct.writes
}

// MaxInFlight is the largest number of requests the simulator has served at once.
func (s *Sim) MaxInFlight() int {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	return s.acct.maxInFlight
}

// ResetCalls sets the call counters and MaxInFlight back to zero.
func (s *Sim) ResetCalls() {
	s.acct.mu.Lock()
	defer s.acct.mu.Unlock()
	s.acct.calls = map[string]int{}
	s.acct.writes, s.acct.maxInFlight = 0, s.acct.inFlight
}
