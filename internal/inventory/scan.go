package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/policy"
)

// DefaultConcurrency is how many requests a scan keeps in flight. GitHub
// allows at most 100 concurrent requests per App installation or user, shared
// with everything else using the same identity (the mint and revoke steps of
// running jobs, other scheduled reviews, shards of this one in a matrix). 16
// leaves five sixths of that for them, is enough to hide a 20-300 ms request
// latency (2,000 repositories x 7 reads at 20 ms finish in under 20 s), and
// keeps the per-endpoint rate of the secondary limit (900 points per minute)
// reachable only on very fast answers, where the retry-after wait handles it.
const DefaultConcurrency = 16

// Options says what to scan.
type Options struct {
	Org             string   // the organisation: its repositories (unless Repos is set or OrgOnly) and its org-level credentials
	Repos           []string // explicit "owner/name" repositories; named repositories are scanned even if archived or forks
	OrgOnly         bool     // with Org: its own credentials only, its repositories are not listed (Repos are still read)
	IncludeArchived bool
	IncludeForks    bool
	Shard           Shard
	Kinds           []policy.CredentialKind // nil: every kind
	Concurrency     int                     // 0: DefaultConcurrency
	Checkpoint      *Checkpoint             // optional: skip targets already scanned, record those finished
	// Progress, if set, is called after each target with the count done and the total.
	Progress func(done, total int, target string)
	Now      func() time.Time
	// Sleep waits out rate limits; nil uses a timer. It returns ctx.Err() when cancelled.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxRateLimitWait caps one wait on a rate limit; a longer reset makes the kind partial. 0: 15 minutes.
	MaxRateLimitWait time.Duration
}

// Result is the scan of one target (a repository or an organisation).
type Result struct {
	Target      string       `json:"target"`
	Credentials []Credential `json:"credentials"`
	Coverage    []Coverage   `json:"coverage"`
}

func (r Result) complete() bool {
	for _, c := range r.Coverage {
		if c.Status != StatusReviewed {
			return false
		}
	}
	return true
}

// Scanner reads credentials through a Client.
type Scanner struct {
	c     Client
	opts  Options
	calls atomic.Int64
}

// Scan lists the repositories in scope, then reads every kind of credential
// of every repository (and of the organisation) with bounded concurrency.
// Errors reading one kind of one target are recorded in the coverage, never
// returned; Scan fails only when the scope itself cannot be listed or ctx ends.
func Scan(ctx context.Context, c Client, opts Options) (*Inventory, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.MaxRateLimitWait <= 0 {
		opts.MaxRateLimitWait = 15 * time.Minute
	}
	s := &Scanner{c: c, opts: opts}
	inv := &Inventory{Org: opts.Org, ScannedAt: opts.Now().UTC(), Shard: opts.Shard.String()}
	repos, err := s.listRepos(ctx)
	if err != nil {
		return nil, err
	}
	var targets []string
	if opts.Org != "" && opts.Shard.Index == 0 && s.anyOrgKind() {
		targets = append(targets, OrgTarget(opts.Org))
	}
	for _, r := range repos {
		if r.Skipped == "" {
			targets = append(targets, r.FullName)
		}
	}
	inv.Repos = repos
	results, err := s.scanAll(ctx, targets)
	for _, r := range results {
		inv.Credentials = append(inv.Credentials, r.Credentials...)
		inv.Coverage = append(inv.Coverage, r.Coverage...)
	}
	inv.Calls = int(s.calls.Load())
	inv.Sort()
	return inv, err
}

func (s *Scanner) scanAll(ctx context.Context, targets []string) ([]Result, error) {
	results := make([]Result, len(targets))
	jobs := make(chan int)
	var done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(s.opts.Concurrency, max(len(targets), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = s.scanTarget(ctx, targets[i])
				n := done.Add(1)
				if s.opts.Progress != nil {
					s.opts.Progress(int(n), len(targets), targets[i])
				}
			}
		}()
	}
feed:
	for i := range targets {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return results, fmt.Errorf("scan interrupted after %d of %d targets: %w", done.Load(), len(targets), err)
	}
	return results, nil
}

func (s *Scanner) scanTarget(ctx context.Context, target string) Result {
	if cp := s.opts.Checkpoint; cp != nil {
		if r, ok := cp.Done(target); ok {
			return r
		}
	}
	var r Result
	if org, ok := strings.CutPrefix(target, "org:"); ok {
		r = s.scanOrg(ctx, org)
	} else {
		owner, name, _ := strings.Cut(target, "/")
		r = s.scanRepo(ctx, owner, name)
	}
	r.Target = target
	if cp := s.opts.Checkpoint; cp != nil && r.complete() && ctx.Err() == nil {
		_ = cp.Record(r) // a checkpoint that cannot be written only costs a rescan
	}
	return r
}

func (s *Scanner) wants(k policy.CredentialKind) bool {
	if s.opts.Kinds == nil {
		return true
	}
	for _, x := range s.opts.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func (s *Scanner) anyOrgKind() bool {
	for _, k := range []policy.CredentialKind{policy.KindActionsSecret, policy.KindDependabotSecret, policy.KindCodespacesSecret,
		policy.KindFineGrainedPAT, policy.KindSSOAuthorization, policy.KindAppInstallation, policy.KindWebhook} {
		if s.wants(k) {
			return true
		}
	}
	return false
}

// listRepos returns the repositories in scope, sorted, with those skipped marked.
func (s *Scanner) listRepos(ctx context.Context) ([]Repo, error) {
	var out []Repo
	if len(s.opts.Repos) > 0 {
		seen := map[string]bool{}
		for _, full := range s.opts.Repos {
			owner, name, ok := strings.Cut(full, "/")
			if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
				return nil, fmt.Errorf("repository %q is not owner/name", full)
			}
			if seen[strings.ToLower(full)] {
				continue
			}
			seen[strings.ToLower(full)] = true
			r := Repo{FullName: full, OpenIssues: -1}
			if !s.opts.Shard.Has(full) {
				r.Skipped = "other shard"
			}
			out = append(out, r)
		}
	} else if s.opts.Org != "" && !s.opts.OrgOnly {
		opt := &github.RepositoryListByOrgOptions{Type: "all", Sort: "full_name", ListOptions: github.ListOptions{PerPage: 100}}
		all, err := paginate(ctx, s, func(lo github.ListOptions) ([]*github.Repository, *github.Response, error) {
			opt.ListOptions = lo
			return s.c.Repositories.ListByOrg(ctx, s.opts.Org, opt)
		})
		if err != nil {
			return nil, fmt.Errorf("list repositories of %s: %w (the token needs metadata: read on the organisation's repositories)", s.opts.Org, err)
		}
		for _, gr := range all {
			r := Repo{FullName: gr.GetFullName(), Archived: gr.GetArchived(), Fork: gr.GetFork(), OpenIssues: gr.GetOpenIssuesCount()}
			switch {
			case r.Archived && !s.opts.IncludeArchived:
				r.Skipped = "archived"
			case r.Fork && !s.opts.IncludeForks:
				r.Skipped = "fork"
			case !s.opts.Shard.Has(r.FullName):
				r.Skipped = "other shard"
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FullName < out[j].FullName })
	return out, nil
}

// paginate follows NextPage with per_page=100, counting each page as a call
// and waiting out rate limits. A link back to a page already read, or past
// MaxPages, ends it with a *PageError: the listing is incomplete.
func paginate[T any](ctx context.Context, s *Scanner, fetch func(github.ListOptions) ([]T, *github.Response, error)) ([]T, error) {
	var out []T
	var pager Pager
	lo := github.ListOptions{PerPage: 100}
	for {
		var (
			items []T
			resp  *github.Response
		)
		err := s.call(ctx, func() error {
			var err error
			items, resp, err = fetch(lo)
			return err
		})
		if err != nil {
			return out, err
		}
		out = append(out, items...)
		next, err := pager.Next(lo.Page, resp)
		if next == 0 || err != nil {
			return out, err
		}
		lo.Page = next
	}
}

// call makes one request, retrying it after a rate-limit answer (waiting
// for retry-after or the reset time, up to MaxRateLimitWait) at most 3 times.
func (s *Scanner) call(ctx context.Context, do func() error) error {
	for attempt := 0; ; attempt++ {
		s.calls.Add(1)
		err := do()
		if err == nil || attempt >= 3 {
			return err
		}
		wait, limited := RateLimitWait(err, s.opts.Now())
		if !limited || wait > s.opts.MaxRateLimitWait {
			return err
		}
		if err := s.opts.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// RateLimitWait says how long to wait before retrying after err, and whether err is a rate limit at all.
func RateLimitWait(err error, now time.Time) (time.Duration, bool) {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return max(rl.Rate.Reset.Time.Sub(now)+time.Second, time.Second), true
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil {
			return max(*ab.RetryAfter, time.Second), true
		}
		return time.Minute, true
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == 429 {
		return time.Minute, true
	}
	return 0, false
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
