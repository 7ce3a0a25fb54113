package ghsim

import (
	"encoding/json"
	"math/rand" //nolint:gosec // faults are drawn from a seeded generator so that tests are reproducible
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultKind is what goes wrong.
type FaultKind string

const (
	FaultStatus500          FaultKind = "status"    // a 5xx answer (Status, default 500)
	FaultReset              FaultKind = "reset"     // the connection is closed without an answer
	FaultTimeout            FaultKind = "timeout"   // no answer until the client gives up (or TimeoutCap)
	FaultSlow               FaultKind = "slow"      // Latency before a normal answer
	FaultTruncated          FaultKind = "truncated" // half the body, then the connection closes
	FaultHostile            FaultKind = "hostile"   // 200 with Body, or Size bytes of JSON, or invalid JSON
	FaultRateLimitPrimary   FaultKind = "ratelimit" // 403, x-ratelimit-remaining: 0, reset in an hour
	FaultRateLimitSecondary FaultKind = "secondary" // 403 or 429 (Status) with retry-after (RetryAfter)
	// FaultPageLoop answers normally, but the last page's link header has a
	// rel="next" back to page 1 (a one-page listing links to itself), as a
	// broken proxy or a hostile server might.
	FaultPageLoop FaultKind = "pageloop"
	// FaultHold acts on the request (a mint creates its token), then holds
	// the answer for Latency, or until the client goes away: a step stopped
	// while GitHub's answer is on its way.
	FaultHold FaultKind = "hold"
)

// FaultSpec injects a fault into requests matching Method and Path.
type FaultSpec struct {
	Method string // "" matches every method
	// Path is a route template without the prefix, as in Calls(), e.g.
	// "/app/installations/{installation_id}/access_tokens"; "" matches every route.
	Path string
	Kind FaultKind
	// Probability in (0,1] applies the fault to that share of matching requests,
	// drawn from the seeded generator; 0 means every matching request.
	Probability float64
	// Count limits the fault to that many injections; 0 means no limit.
	Count int
	// After lets that many matching requests through before the fault
	// applies (a mint's policy-read token before the mint itself).
	After      int
	Status     int           // FaultStatus500 and FaultRateLimitSecondary
	Latency    time.Duration // FaultSlow, FaultHold
	RetryAfter time.Duration // FaultRateLimitSecondary, default 60 s
	Body       []byte        // FaultHostile
	Size       int           // FaultHostile: a JSON body of about this many bytes
}

type fault struct {
	FaultSpec
	used, passed int
}

type faults struct {
	mu   sync.Mutex
	list []*fault
	rnd  *rand.Rand
}

// Fault adds a fault. Faults are tried in the order added; the first that fires wins.
func (s *Sim) Fault(spec FaultSpec) {
	s.flt.mu.Lock()
	defer s.flt.mu.Unlock()
	s.flt.list = append(s.flt.list, &fault{FaultSpec: spec})
}

// ClearFaults removes every fault.
func (s *Sim) ClearFaults() {
	s.flt.mu.Lock()
	defer s.flt.mu.Unlock()
	s.flt.list = nil
}

func (f *faults) pick(method, route string) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	tmpl := route[strings.IndexByte(route, ' ')+1:]
	for _, ft := range f.list {
		if (ft.Method != "" && !strings.EqualFold(ft.Method, method)) || (ft.Path != "" && ft.Path != tmpl) {
			continue
		}
		if ft.Count > 0 && ft.used >= ft.Count {
			continue
		}
		if ft.passed < ft.After {
			ft.passed++
			continue
		}
		if ft.Probability > 0 && f.rnd.Float64() >= ft.Probability {
			continue
		}
		ft.used++
		return ft
	}
	return nil
}

// before applies faults that replace the handler; it reports whether it answered.
func (f *fault) before(s *Sim, w http.ResponseWriter, r *http.Request, c *call) bool {
	switch f.Kind {
	case FaultStatus500:
		st := f.Status
		if st == 0 {
			st = http.StatusInternalServerError
		}
		body, _ := json.Marshal(map[string]any{"message": "Server Error", "documentation_url": docsURL, "status": strconv.Itoa(st)})
		c.status, c.body = st, body
		setRateHeaders(c, s.peek(c.id))
		c.flush(w)
	case FaultReset:
		resetConn(w)
	case FaultTimeout:
		limit := s.opts.TimeoutCap
		if limit == 0 {
			limit = 30 * time.Second
		}
		s.sleep(r, limit)
		resetConn(w)
	case FaultSlow:
		s.sleep(r, f.Latency)
		return false
	case FaultRateLimitPrimary:
		s.answerPrimary(w, c, s.Now().Add(time.Hour))
	case FaultRateLimitSecondary:
		s.answerSecondary(w, c, f.Status, f.RetryAfter)
	default:
		return false
	}
	return true
}

// after applies faults that spoil a computed answer; it reports whether it answered.
func (f *fault) after(s *Sim, w http.ResponseWriter, c *call) bool {
	switch f.Kind {
	case FaultHold:
		s.sleep(c.r, f.Latency)
		return false
	case FaultTruncated:
		full := len(c.body)
		h := w.Header()
		for k, v := range c.header {
			h[k] = v
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(full))
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body[:full/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	case FaultPageLoop:
		if link := c.header.Get("Link"); !strings.Contains(link, `rel="next"`) {
			q := c.r.URL.Query()
			q.Set("page", "1")
			u := url.URL{Scheme: "http", Host: c.r.Host, Path: c.r.URL.Path, RawQuery: q.Encode()}
			c.header.Set("Link", strings.TrimPrefix(link+", <"+u.String()+`>; rel="next"`, ", "))
		}
		return false
	case FaultHostile:
		switch {
		case f.Body != nil:
			c.body = f.Body
		case f.Size > 0:
			c.body = []byte(`{"message":"` + strings.Repeat("A", f.Size) + `"}`)
		default:
			c.body = []byte(`{"id": 1, "token": ghs_not_json, <html>`)
		}
		c.status = http.StatusOK
		c.header.Del("ETag")
		c.flush(w)
		return true
	}
	return false
}

// resetConn closes the client's connection without an answer, with a TCP reset where possible.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
