package broker

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap puts the middleware around a route: a global rate limit (when
// given), the body cap, the request timeout, and the request's metrics and
// log line.
func (s *Server) wrap(route string, global *limiter, h http.Handler) http.Handler {
	maxBody := s.o.Limits.MaxBodyBytes
	if route == "webhook" {
		maxBody = max(maxBody, 1<<20) // GitHub's workflow_run and push payloads run to tens of KiB
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			d := time.Since(start)
			code := strconv.Itoa(sw.status)
			s.m.Inc("jitkey_broker_http_requests_total", route, code)
			s.m.Observe("jitkey_broker_http_request_duration_seconds", d, route)
			s.log.Debug("request", "route", route, "status", sw.status, "duration_ms", float64(d.Microseconds())/1000)
		}()
		if s.draining.Load() && route == "token" {
			writeProblem(sw, &Problem{Status: http.StatusServiceUnavailable, Class: ClassShuttingDown,
				Message: "this broker replica is shutting down", Fix: "retry: another replica, or this one restarted, will answer"})
			return
		}
		if global != nil && !global.allow("") {
			s.m.Inc("jitkey_broker_exchanges_total", "rate_limited")
			writeProblem(sw, &Problem{Status: http.StatusTooManyRequests, Class: ClassRateLimited,
				Message: "the broker is at its global exchange rate", Fix: "retry after a second; operators raise limits.global_rate"})
			return
		}
		if r.ContentLength > maxBody {
			writeProblem(sw, tooLarge(maxBody))
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
		ctx, cancel := context.WithTimeout(r.Context(), s.o.Limits.RequestTimeout)
		defer cancel()
		h.ServeHTTP(sw, r.WithContext(ctx))
	})
}

func tooLarge(limit int64) *Problem {
	return &Problem{Status: http.StatusRequestEntityTooLarge, Class: ClassTooLarge,
		Message: "the request body is larger than " + strconv.FormatInt(limit, 10) + " bytes",
		Fix:     "send only repositories and permissions; operators raise limits.max_body_bytes"}
}

func (s *Server) declareMetrics() {
	m := s.m
	m.Counter("jitkey_broker_http_requests_total", "HTTP requests by route and status.", "route", "code")
	m.Histogram("jitkey_broker_http_request_duration_seconds", "HTTP request duration by route.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "route")
	m.Histogram("jitkey_broker_exchange_added_seconds", "Time a minted exchange spent in the broker, its mint's round trip to GitHub excluded.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1})
	m.Counter("jitkey_broker_exchanges_total", "Token exchanges by outcome (minted, denied, invalid_token, replayed, rate_limited, bad_request, error).", "outcome")
	m.Counter("jitkey_broker_revocations_total", "Tokens revoked, by what revoked them (job, webhook:workflow_job, webhook:workflow_run, sweeper, broker).", "by")
	m.Counter("jitkey_broker_webhooks_total", "Webhook deliveries by event and result.", "event", "result")
	m.Gauge("jitkey_broker_ledger_entries", "Ledger entries (intents ever recorded), live tokens and dangling intents.", func() []Sample {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := s.o.Ledger.Stats(ctx)
		if err != nil {
			return nil
		}
		return []Sample{{Labels: []string{"state", "all"}, Value: float64(st.Entries)},
			{Labels: []string{"state", "live"}, Value: float64(st.Live)},
			{Labels: []string{"state", "dangling"}, Value: float64(st.Dangling)}}
	})
}
