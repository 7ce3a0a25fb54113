// Package sweep revokes the broker's tokens whose job ended without the
// broker hearing of it: a webhook GitHub never delivered, or a broker that
// was down when it came. It asks GitHub whether each job holding live
// tokens has completed (the job's check run when the token carried the
// check_run_id claim, else the run attempt), revokes those tokens, marks
// expired ones, reports intents left dangling by a crash, and prunes the
// rows closed longer ago than the retention. With several
// replicas on one database exactly one sweeps at a time: the ledger's lock.
package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/ledger"
)

// RunsAPI reads whether a job or a run attempt has ended (actions:read).
type RunsAPI interface {
	WorkflowJob(ctx context.Context, owner, repo string, jobID int64) (github.RunStatus, error)
	WorkflowRunAttempt(ctx context.Context, owner, repo string, runID, attempt int64) (github.RunStatus, error)
}

// RunsFunc returns a RunsAPI for a repository's installation.
type RunsFunc func(ctx context.Context, owner, repo string) (RunsAPI, error)

// Revoker revokes live tokens and records who revoked them (the broker's
// own path, shared with its webhooks).
type Revoker interface {
	RevokeLive(ctx context.Context, live []ledger.LiveToken, by string) (int, error)
}

// Options configure a Sweeper.
type Options struct {
	Ledger  ledger.Ledger
	Runs    RunsFunc
	Revoker Revoker
	// MinAge skips tokens minted less than this long ago (their job is
	// surely running); 0 asks about every live token.
	MinAge time.Duration
	// Batch bounds the jobs asked about per sweep; 0 means 500.
	Batch int
	// DanglingAfter is how old an intent without an answer must be to be
	// reported; 0 means two minutes.
	DanglingAfter time.Duration
	// Retention is how long revoked, expired and failed rows are kept
	// after they closed; older ones are pruned. 0 keeps them forever.
	Retention time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

// Sweeper runs sweeps.
type Sweeper struct{ o Options }

// New returns a Sweeper.
func New(o Options) *Sweeper {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Batch == 0 {
		o.Batch = 500
	}
	if o.DanglingAfter == 0 {
		o.DanglingAfter = 2 * time.Minute
	}
	return &Sweeper{o: o}
}

// Report is what one sweep did.
type Report struct {
	Ran         bool // false when another replica held the lock
	Expired     int  // tokens marked expired
	JobsChecked int  // jobs asked about
	GitHubCalls int
	Revoked     int
	Dangling    int // intents with no answer, older than DanglingAfter
	Pruned      int // closed rows older than the retention, deleted
	Errors      []string
	Duration    time.Duration
}

// Once sweeps once if no other replica is sweeping.
func (s *Sweeper) Once(ctx context.Context) (Report, error) {
	var rep Report
	start := time.Now()
	ran, err := s.o.Ledger.WithSweepLock(ctx, func(ctx context.Context) error {
		return s.sweep(ctx, &rep)
	})
	rep.Ran, rep.Duration = ran, time.Since(start)
	return rep, err
}

func (s *Sweeper) sweep(ctx context.Context, rep *Report) error {
	now := s.o.Now()
	n, err := s.o.Ledger.Expire(ctx, now)
	if err != nil {
		return fmt.Errorf("mark expired tokens: %w", err)
	}
	rep.Expired = n
	jobs, err := s.o.Ledger.LiveJobs(ctx, now.Add(-s.o.MinAge), s.o.Batch)
	if err != nil {
		return fmt.Errorf("list live jobs: %w", err)
	}
	ended := map[string]bool{} // a run attempt's status, asked once per sweep
	for _, job := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		done, err := s.ended(ctx, job, ended, rep)
		if err != nil {
			rep.Errors = append(rep.Errors, github.Redact(err.Error()))
			continue
		}
		rep.JobsChecked++
		if !done {
			continue
		}
		live, err := s.liveFor(ctx, job)
		if err != nil {
			return fmt.Errorf("live tokens of %s run %d: %w", job.Repository, job.RunID, err)
		}
		k, err := s.o.Revoker.RevokeLive(ctx, live, "sweeper")
		rep.Revoked += k
		if err != nil {
			rep.Errors = append(rep.Errors, github.Redact(err.Error()))
		}
	}
	dangling, err := s.o.Ledger.DanglingIntents(ctx, now.Add(-s.o.DanglingAfter))
	if err != nil {
		return fmt.Errorf("list dangling intents: %w", err)
	}
	if s.o.Retention > 0 {
		// Under the lock, like the rest: one replica prunes.
		rep.Pruned, err = s.o.Ledger.Prune(ctx, now.Add(-s.o.Retention), 0)
		if err != nil {
			return fmt.Errorf("prune the ledger: %w", err)
		}
	}
	rep.Dangling = len(dangling)
	for _, e := range dangling {
		s.o.Log.Error("dangling intent: GitHub was asked for a token and no answer was recorded; it may hold a token the ledger cannot revoke (it expires an hour after it was asked for at the latest)",
			"intent", int64(e.ID), "repository", e.Intent.Job.Repository, "run_id", e.Intent.Job.RunID, "rule", e.Intent.Rule,
			"requested_at", e.Intent.RequestedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// ended asks GitHub whether a job has completed: by its check run when the
// token carried one, else by its run attempt. A job GitHub no longer knows
// (404) has ended.
func (s *Sweeper) ended(ctx context.Context, job ledger.Job, runs map[string]bool, rep *Report) (bool, error) {
	owner, repo, ok := strings.Cut(job.Repository, "/")
	if !ok {
		return true, nil
	}
	key := fmt.Sprintf("%s#%d#%d", job.Repository, job.RunID, job.RunAttempt)
	if job.CheckRunID == 0 {
		if done, seen := runs[key]; seen {
			return done, nil
		}
	}
	api, err := s.o.Runs(ctx, owner, repo)
	if err != nil {
		return false, err
	}
	rep.GitHubCalls++
	var st github.RunStatus
	if job.CheckRunID != 0 {
		st, err = api.WorkflowJob(ctx, owner, repo, job.CheckRunID)
	} else {
		st, err = api.WorkflowRunAttempt(ctx, owner, repo, job.RunID, max(job.RunAttempt, 1))
	}
	if github.ClassOf(err) == github.ClassNotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if job.CheckRunID == 0 {
		runs[key] = st.Completed()
	}
	return st.Completed(), nil
}

// liveFor is the live tokens of a job; tokens without a check run ID
// belong to their run attempt.
func (s *Sweeper) liveFor(ctx context.Context, job ledger.Job) ([]ledger.LiveToken, error) {
	if job.CheckRunID != 0 {
		return s.o.Ledger.LiveTokensForJob(ctx, job)
	}
	all, err := s.o.Ledger.LiveTokensForRun(ctx, job.Repository, job.RunID)
	if err != nil {
		return nil, err
	}
	var out []ledger.LiveToken
	for _, lt := range all {
		if lt.Job.CheckRunID == 0 && lt.Job.RunAttempt == job.RunAttempt {
			out = append(out, lt)
		}
	}
	return out, nil
}

// Run sweeps every interval until ctx ends; after each sweep it calls
// report (for metrics and logs).
func (s *Sweeper) Run(ctx context.Context, interval time.Duration, report func(Report, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := s.Once(ctx)
		if report != nil {
			report(rep, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
