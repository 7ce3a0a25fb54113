package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/ghsim"
)

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	m.Counter("x_total", "Things.", "outcome")
	m.Histogram("d_seconds", "Durations.", []float64{0.01, 0.1}, "route")
	m.Gauge("g", "A gauge.", func() []Sample { return []Sample{{Labels: []string{"state", `a"b\`}, Value: 2}} })
	m.Inc("x_total", "minted")
	m.Add("x_total", 2, "denied")
	m.Inc("nope_total") // undeclared: ignored
	m.Observe("d_seconds", 5*time.Millisecond, "token")
	m.Observe("d_seconds", 50*time.Millisecond, "token")
	m.Observe("d_seconds", time.Second, "token")
	var b strings.Builder
	_, err := m.WriteTo(&b)
	assert.NoError(t, err)
	assert.Equal(t, `# HELP d_seconds Durations.
# TYPE d_seconds histogram
d_seconds_bucket{route="token",le="0.01"} 1
d_seconds_bucket{route="token",le="0.1"} 2
d_seconds_bucket{route="token",le="+Inf"} 3
d_seconds_sum{route="token"} 1.055
d_seconds_count{route="token"} 3
# HELP x_total Things.
# TYPE x_total counter
x_total{outcome="denied"} 2
x_total{outcome="minted"} 1
# HELP g A gauge.
# TYPE g gauge
g{state="a\"b\\"} 2
`, b.String())
	assert.Equal(t, 2.0, m.Value("x_total", "denied"))
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newLimiter(2, 2, func() time.Time { return now })
	assert.True(t, l.allow("a"))
	assert.True(t, l.allow("a"))
	assert.False(t, l.allow("a"), "burst of 2 spent")
	assert.True(t, l.allow("b"), "buckets are per key")
	now = now.Add(500 * time.Millisecond)
	assert.True(t, l.allow("a"), "refilled at 2 per second")
	assert.False(t, l.allow("a"))
	now = now.Add(time.Hour)
	assert.True(t, l.allow("c"))
	l.mu.Lock()
	assert.Len(t, l.buckets, 1, "idle buckets are forgotten")
	l.mu.Unlock()
	var off *limiter
	assert.True(t, off.allow("x"), "no limiter, no limit")
}

func TestSignedByGitHub(t *testing.T) {
	t.Parallel()
	s := &Server{o: Options{WebhookSecret: []byte("0123456789abcdef0123"), PreviousWebhookSecret: []byte("previous-secret-4567")}}
	body := []byte(`{"action":"completed"}`)
	signed := func(sig string, body []byte) bool {
		ok, _ := s.signedByGitHub(sig, body)
		return ok
	}
	good := ghsim.SignWebhook(s.o.WebhookSecret, body)
	ok, previous := s.signedByGitHub(good, body)
	assert.True(t, ok)
	assert.False(t, previous)
	ok, previous = s.signedByGitHub(ghsim.SignWebhook(s.o.PreviousWebhookSecret, body), body)
	assert.True(t, ok, "the previous secret verifies while it is configured")
	assert.True(t, previous)
	assert.False(t, signed(ghsim.SignWebhook([]byte("0123456789abcdef012"), body), body), "a near miss of the secret")
	assert.False(t, signed(good, append(body, ' ')), "the body was changed")
	assert.False(t, signed(strings.ToUpper(good[:7])+good[7:], body))
	assert.False(t, signed("", body))
	assert.False(t, signed("sha1=abc", body))
	assert.False(t, signed("sha256=zz", body))
	s.o.PreviousWebhookSecret = nil
	assert.False(t, signed(ghsim.SignWebhook([]byte("previous-secret-4567"), body), body), "removed from the configuration, the previous secret no longer verifies")
	assert.False(t, signed(ghsim.SignWebhook(nil, body), body), "an empty key never verifies")
}
