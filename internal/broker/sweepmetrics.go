package broker

import (
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/sweep"
)

// sweepState is what the metrics say of the sweeper: when a sweep last
// completed (here, or, when the lock was held, presumably elsewhere).
type sweepState struct {
	mu        sync.Mutex
	started   time.Time
	completed time.Time
}

func (s *Server) declareSweepMetrics() {
	s.sweeps.started = s.o.Now()
	s.m.Counter("jitkey_broker_sweeps_total", "Sweeps by result: ran, locked (another replica sweeps), error.", "result")
	s.m.Counter("jitkey_broker_sweep_github_requests_total", "GitHub calls the sweeper made.")
	s.m.Counter("jitkey_broker_ledger_pruned_total", "Ledger rows (revoked, expired, failed) deleted once older than the retention.")
	s.m.Gauge("jitkey_broker_sweep_lag_seconds", "Seconds since this replica last saw a sweep complete (its own, or the lock held by another replica).", func() []Sample {
		s.sweeps.mu.Lock()
		defer s.sweeps.mu.Unlock()
		last := s.sweeps.completed
		if last.IsZero() {
			last = s.sweeps.started
		}
		return []Sample{{Value: s.o.Now().Sub(last).Seconds()}}
	})
}

// SweepReport records a sweep in the metrics and the log.
func (s *Server) SweepReport(rep sweep.Report, err error) {
	result := "ran"
	switch {
	case err != nil:
		result = "error"
	case !rep.Ran:
		result = "locked"
	}
	s.m.Inc("jitkey_broker_sweeps_total", result)
	s.m.Add("jitkey_broker_sweep_github_requests_total", float64(rep.GitHubCalls))
	s.m.Add("jitkey_broker_ledger_pruned_total", float64(rep.Pruned))
	if err == nil {
		s.sweeps.mu.Lock()
		s.sweeps.completed = s.o.Now()
		s.sweeps.mu.Unlock()
	}
	switch {
	case err != nil:
		s.log.Error("sweep failed", "error", github.Redact(err.Error()))
	case rep.Ran && (rep.Revoked > 0 || rep.Expired > 0 || rep.Dangling > 0 || rep.Pruned > 0 || len(rep.Errors) > 0):
		s.log.Info("sweep", "revoked", rep.Revoked, "expired", rep.Expired, "pruned", rep.Pruned, "jobs_checked", rep.JobsChecked,
			"github_calls", rep.GitHubCalls, "dangling", rep.Dangling, "errors", rep.Errors, "duration_ms", rep.Duration.Milliseconds())
	}
}
