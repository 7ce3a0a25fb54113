package broker

import (
	"net/http"
	"strconv"
	"sync"
)

// GitHubTransport counts the broker's GitHub calls by method and status and
// keeps the rate-limit headroom GitHub last reported per resource
// (x-ratelimit-remaining of x-ratelimit-resource), as metrics.
func (m *Metrics) GitHubTransport(next http.RoundTripper) http.RoundTripper {
	m.Counter("jitkey_broker_github_requests_total", "GitHub API requests by method and status.", "method", "code")
	g := &headroom{left: map[string]float64{}}
	m.Gauge("jitkey_broker_github_ratelimit_remaining", "Requests left in GitHub's rate-limit window, as last reported, by resource.", g.samples)
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
			if left, perr := strconv.ParseFloat(resp.Header.Get("X-Ratelimit-Remaining"), 64); perr == nil {
				res := resp.Header.Get("X-Ratelimit-Resource")
				if res == "" {
					res = "core"
				}
				g.set(res, left)
			}
		}
		m.Inc("jitkey_broker_github_requests_total", r.Method, code)
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type headroom struct {
	mu   sync.Mutex
	left map[string]float64
}

func (h *headroom) set(res string, v float64) {
	h.mu.Lock()
	h.left[res] = v
	h.mu.Unlock()
}

func (h *headroom) samples() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sample
	for _, k := range sortedKeys(h.left) {
		out = append(out, Sample{Labels: []string{"resource", k}, Value: h.left[k]})
	}
	return out
}
