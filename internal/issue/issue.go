// Package issue keeps one GitHub issue per review finding, idempotently: it
// opens an issue for a new finding, edits it when the evidence changes,
// closes it (saying why) when the finding is gone from a complete scan,
// reopens it when it was closed by hand while the finding persists, and
// carries out the reviewer command `/jitkey revoke`.
package issue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// Label is on every review issue; it is how jitkey finds its issues.
const Label = "jitkey"

// DefaultMaxIssues caps the issues opened per run when neither the policy nor
// the caller says otherwise (the policy language's default).
const DefaultMaxIssues = policy.DefaultMaxIssuesPerRun

// IssuesService is the part of go-github's IssuesService the lifecycle uses.
type IssuesService interface {
	ListByRepo(ctx context.Context, owner string, repo string, opts *github.IssueListByRepoOptions) ([]*github.Issue, *github.Response, error)
	Create(ctx context.Context, owner string, repo string, issue *github.IssueRequest) (*github.Issue, *github.Response, error)
	Edit(ctx context.Context, owner string, repo string, number int, issue *github.IssueRequest) (*github.Issue, *github.Response, error)
	ListComments(ctx context.Context, owner string, repo string, number int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error)
	CreateComment(ctx context.Context, owner string, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
	GetLabel(ctx context.Context, owner string, repo string, name string) (*github.Label, *github.Response, error)
	CreateLabel(ctx context.Context, owner string, repo string, label *github.Label) (*github.Label, *github.Response, error)
}

// RepositoriesService is the part of go-github's RepositoriesService the lifecycle uses.
type RepositoriesService interface {
	GetPermissionLevel(ctx context.Context, owner, repo, user string) (*github.RepositoryPermissionLevel, *github.Response, error)
	GetContents(ctx context.Context, owner, repo, path string, opts *github.RepositoryContentGetOptions) (*github.RepositoryContent, []*github.RepositoryContent, *github.Response, error)
}

// OrganizationsService is the part of go-github's OrganizationsService the
// lifecycle uses: an organisation owner's say over organisation credentials.
type OrganizationsService interface {
	GetOrgMembership(ctx context.Context, user, org string) (*github.Membership, *github.Response, error)
}

// Config tunes a Tracker.
type Config struct {
	// Identity is the login the review writes as: the App's "SLUG[bot]", or
	// the token's user. Only issues it opened are review issues, and only
	// its own comments answer a command; anyone can copy a marker.
	Identity    string
	Review      policy.Review
	MaxIssues   int  // issues opened per run; 0: Review.MaxIssuesPerRun, else DefaultMaxIssues
	DryRun      bool // read and plan, write nothing
	Concurrency int  // concurrent reads; 0: inventory.DefaultConcurrency
	Now         func() time.Time
	Sleep       func(context.Context, time.Duration) error
	Pacer       *Pacer // nil: NewPacer at GitHub's limits, divided by Shards
	// Shards is the number of shards running at once (`--shard i/n` runs n
	// processes under one identity, and GitHub's limits are per identity):
	// the pacing budgets are divided by it, each at least 1. 0 or 1: not
	// sharded. It does not change a Pacer given above.
	Shards int
	Log    *slog.Logger
}

// Tracker runs the lifecycle.
type Tracker struct {
	issues  IssuesService
	repos   RepositoriesService
	orgs    OrganizationsService
	remover Remover
	cfg     Config
	pacer   *Pacer
	log     *slog.Logger

	mu     sync.Mutex
	result Result
	perms  map[string]string // "repo\x00login" -> permission
}

// New returns a Tracker. remover may be nil when nothing may be removed.
func New(issues IssuesService, repos RepositoriesService, orgs OrganizationsService, remover Remover, cfg Config) *Tracker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.MaxIssues <= 0 {
		cfg.MaxIssues = cfg.Review.MaxIssuesPerRun
	}
	if cfg.MaxIssues <= 0 {
		cfg.MaxIssues = DefaultMaxIssues
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = inventory.DefaultConcurrency
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := cfg.Pacer
	if p == nil {
		p = NewPacer(cfg.Now, cfg.Sleep)
		p.share(cfg.Shards)
	}
	return &Tracker{issues: issues, repos: repos, orgs: orgs, remover: remover, cfg: cfg, pacer: p, log: cfg.Log, perms: map[string]string{}}
}

// Op is what the lifecycle did (or, in a dry run, would do) to one issue.
type Op string

// The operations.
const (
	OpCreate  Op = "create"
	OpUpdate  Op = "update"
	OpReopen  Op = "reopen"
	OpClose   Op = "close"
	OpDedupe  Op = "close_duplicate"
	OpRemind  Op = "remind"
	OpRevoke  Op = "revoke"
	OpRefuse  Op = "refuse"
	OpDefer   Op = "defer" // over the cap: not opened this run
	OpFailed  Op = "failed"
	OpUnfiled Op = "unfiled"   // the repository cannot take issues (missing, issues disabled): said once
	OpSkipped Op = "skip_repo" // issues of a repository could not be read
)

// Action is one step of the lifecycle.
type Action struct {
	Op          Op     `json:"op"`
	Repo        string `json:"repo"`
	Number      int    `json:"number,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Title       string `json:"title,omitempty"`
	Reason      string `json:"reason,omitempty"`
	DryRun      bool   `json:"dry_run,omitempty"`
}

// Remediation records a credential removed on a reviewer's command or by policy.
type Remediation struct {
	Credential string    `json:"credential"`
	Kind       string    `json:"kind"`
	By         string    `json:"by"` // login, or "policy auto_remediate"
	Issue      string    `json:"issue"`
	At         time.Time `json:"at"`
	Error      string    `json:"error,omitempty"`
}

// Result is what one Sync did.
type Result struct {
	Actions      []Action      `json:"actions"`
	Remediations []Remediation `json:"remediations,omitempty"`
	Deferred     int           `json:"deferred"` // findings not opened because of the cap
	Created      int           `json:"created"`
	PacedFor     time.Duration `json:"paced_for_ns"`
	Partial      bool          `json:"partial"` // some repository's issues could not be read or written
}

func (t *Tracker) record(a Action) {
	a.DryRun = t.cfg.DryRun
	t.mu.Lock()
	t.result.Actions = append(t.result.Actions, a)
	if a.Op == OpFailed || a.Op == OpSkipped {
		t.result.Partial = true
	}
	t.mu.Unlock()
	t.log.Debug("review issue", "op", a.Op, "repo", a.Repo, "number", a.Number, "reason", a.Reason)
}

// mine reports whether u is the review's own identity.
func (t *Tracker) mine(u *github.User) bool {
	return strings.EqualFold(u.GetLogin(), t.cfg.Identity)
}

func splitRepo(full string) (string, string) {
	o, r, _ := strings.Cut(full, "/")
	return o, r
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// Sync brings the review issues in step with the findings of one scan.
// Issues about a (target, kind) the scan did not read in full are left alone.
func (t *Tracker) Sync(ctx context.Context, inv *inventory.Inventory, rep review.Report) (*Result, error) {
	if t.cfg.Identity == "" {
		return &t.result, errors.New("the review's own login is not known (issue.Config.Identity): without it, anyone's issue or marker would count as jitkey's")
	}
	findings := map[string]review.Finding{}
	for _, f := range rep.Findings {
		findings[f.Fingerprint] = f
	}
	suppressed := map[string]review.Suppressed{}
	for _, s := range rep.Suppressed {
		suppressed[s.Fingerprint] = s
	}
	repos := t.issueRepos(inv, rep)
	states := t.readAll(ctx, repos, findings)
	if err := ctx.Err(); err != nil {
		return &t.result, err
	}
	known := map[string]bool{}
	for _, c := range inv.Credentials {
		known[c.ID] = true
	}
	byRepo := map[string]*repoState{}
	for _, st := range states {
		if st.err == nil {
			byRepo[st.repo] = st
		}
	}
	created := 0
	var syncers []*syncer
	archived := map[string]bool{}
	for _, r := range inv.Repos {
		archived[r.FullName] = r.Archived
	}
	for _, st := range states {
		if st.err != nil {
			t.record(Action{Op: OpSkipped, Repo: st.repo, Reason: st.err.Error()})
			continue
		}
		if archived[st.repo] {
			// GitHub refuses every issue, label and comment write there: say
			// so once when findings belong there, and write nothing.
			t.unfiledArchived(st, findings)
			continue
		}
		s := &syncer{t: t, st: st, inv: inv, findings: findings, suppressed: suppressed, known: known, created: &created, all: byRepo}
		if err := s.run(ctx); err != nil {
			return &t.result, err
		}
		syncers = append(syncers, s)
	}
	// Only now, with every finding's issue opened where it belongs, are the
	// issues left in a former location closed, pointing at the new one.
	for _, s := range syncers {
		if err := s.closeMoved(ctx); err != nil {
			return &t.result, err
		}
	}
	t.result.PacedFor = t.pacer.Waited()
	t.result.Created = created
	return &t.result, nil
}

// whyArchived is why an archived repository takes no issues.
const whyArchived = "is archived, so GitHub keeps it read-only and refuses issues, labels and comments there"

// unfiled says, once per repository, why its findings are only in the
// report, and what to do.
func (t *Tracker) unfiled(st *repoState) {
	if st.reported {
		return
	}
	st.reported = true
	fix := "set review.central_repository in the policy (organisation-level findings go to ORG/.github unless it is set)"
	if st.missing == whyArchived {
		fix = "set review.central_repository in the policy to file them in a repository that is not archived, or unarchive " + st.repo
	}
	t.record(Action{Op: OpUnfiled, Repo: st.repo, Reason: fmt.Sprintf("repository %s %s, so its findings are only in this report: %s", st.repo, st.missing, fix)})
}

func (t *Tracker) unfiledArchived(st *repoState, findings map[string]review.Finding) {
	for _, f := range findings {
		if f.IssueRepo == st.repo {
			st.missing = whyArchived
			t.unfiled(st)
			return
		}
	}
}

// archivedRefusal reports whether err is GitHub's refusal to write to an
// archived repository.
func archivedRefusal(err error) bool {
	return statusOf(err) == http.StatusForbidden && strings.Contains(err.Error(), "archived")
}

// issueRepos lists the repositories whose review issues this run may touch:
// those of the findings, and those where an issue may need closing: every
// repository the scan read in full, ORG/.github when the organisation was
// read in full, and the central repository. The first two are listed even
// when central_repository is set (and the central repository when it is
// not), because issues filed before the setting changed live there and are
// closed with a pointer to the new location (closeMoved). The cost is one
// list call (per 100 review issues) per repository the scan already read,
// skipping those GitHub counts no open issue in; a repository outside the
// scan (another shard, not read in full) is not listed, so its issues are
// never closed by this run. A former central repository outside the scan is
// not known, so its issues stay open.
func (t *Tracker) issueRepos(inv *inventory.Inventory, rep review.Report) []string {
	set := map[string]bool{}
	for _, f := range rep.Findings {
		set[f.IssueRepo] = true
	}
	complete := map[string]bool{}
	for _, c := range inv.Coverage {
		if c.Status == inventory.StatusReviewed {
			complete[c.Target] = true
		}
	}
	if central := t.cfg.Review.CentralRepository; central != "" && len(complete) > 0 {
		set[central] = true
	}
	for _, r := range inv.Repos {
		if r.Skipped == "" && r.OpenIssues != 0 && complete[r.FullName] {
			set[r.FullName] = true
		}
	}
	if inv.Org != "" && complete[inventory.OrgTarget(inv.Org)] {
		set[inv.Org+"/.github"] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// tracked is one review issue with its marker.
// It keeps only what the lifecycle needs: an organisation may have thousands.
type tracked struct {
	number     int
	state      string
	title      string
	comments   int
	created    time.Time
	labels     []string
	marker     Marker
	credential string // the credential ID read from the body's evidence table
}

func trackedOf(is *github.Issue, m Marker, credential string) tracked {
	x := tracked{number: is.GetNumber(), state: is.GetState(), title: is.GetTitle(), comments: is.GetComments(),
		created: is.GetCreatedAt().Time, marker: m, credential: credential}
	for _, l := range is.Labels {
		x.labels = append(x.labels, l.GetName())
	}
	return x
}

func (x tracked) open() bool { return x.state == "open" }

// repoState is what the read phase learned about one repository.
type repoState struct {
	repo     string
	err      error
	byFP     map[string][]tracked // sorted by issue number
	labels   map[string]bool      // labels known to exist
	comments map[int][]*github.IssueComment
	missing  string // why the repository cannot take issues ("" when it can)
	reported bool   // that was reported
}

// readAll lists the review issues of every repository, and the comments of
// open issues that may carry a reviewer command, with bounded concurrency.
func (t *Tracker) readAll(ctx context.Context, repos []string, findings map[string]review.Finding) []*repoState {
	states := make([]*repoState, len(repos))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(t.cfg.Concurrency, max(len(repos), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				states[i] = t.readRepo(ctx, repos[i], findings)
			}
		}()
	}
	for i := range repos {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return states
}

func (t *Tracker) readRepo(ctx context.Context, repo string, findings map[string]review.Finding) *repoState {
	st := &repoState{repo: repo, byFP: map[string][]tracked{}, labels: map[string]bool{}, comments: map[int][]*github.IssueComment{}}
	list, err := t.listIssues(ctx, repo, "all")
	if err != nil {
		switch statusOf(err) {
		case http.StatusNotFound:
			st.missing = "does not exist or the token cannot see it"
			return st
		case http.StatusGone:
			st.missing = "has issues disabled"
			return st
		}
		st.err = fmt.Errorf("list review issues of %s: %w", repo, err)
		return st
	}
	for _, x := range list {
		for _, l := range x.labels {
			st.labels[l] = true
		}
		st.byFP[x.marker.Fingerprint] = append(st.byFP[x.marker.Fingerprint], x)
	}
	for fp, xs := range st.byFP {
		sort.Slice(xs, func(i, j int) bool { return xs[i].number < xs[j].number })
		st.byFP[fp] = xs
		if f, ok := findings[fp]; !ok || f.IssueRepo != repo {
			continue // a command is read only where the finding is filed
		}
		for _, x := range xs {
			if x.open() && x.comments > 0 {
				cs, err := t.listComments(ctx, repo, x.number)
				if err != nil {
					st.err = fmt.Errorf("list comments of %s#%d: %w", repo, x.number, err)
					return st
				}
				st.comments[x.number] = cs
			}
		}
	}
	return st
}

func (t *Tracker) listIssues(ctx context.Context, repo, state string) ([]tracked, error) {
	owner, name := splitRepo(repo)
	opt := &github.IssueListByRepoOptions{State: state, Labels: []string{Label}, Sort: "created", Direction: "asc", ListOptions: github.ListOptions{PerPage: 100}}
	var out []tracked
	var pager inventory.Pager
	for {
		var page []*github.Issue
		var resp *github.Response
		err := t.retry(ctx, func() error {
			var err error
			page, resp, err = t.issues.ListByRepo(ctx, owner, name, opt)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, is := range page {
			if is.IsPullRequest() || !t.mine(is.GetUser()) {
				continue // a copied marker in someone else's issue is not a review issue
			}
			if m, ok := ParseMarker(is.GetBody()); ok {
				out = append(out, trackedOf(is, m, credentialID(is.GetBody())))
			}
		}
		next, err := pager.Next(opt.Page, resp)
		if next == 0 || err != nil {
			return out, err
		}
		opt.Page = next
	}
}

func (t *Tracker) listComments(ctx context.Context, repo string, number int) ([]*github.IssueComment, error) {
	owner, name := splitRepo(repo)
	opt := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var out []*github.IssueComment
	var pager inventory.Pager
	for {
		var page []*github.IssueComment
		var resp *github.Response
		err := t.retry(ctx, func() error {
			var err error
			page, resp, err = t.issues.ListComments(ctx, owner, name, number, opt)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		next, err := pager.Next(opt.Page, resp)
		if next == 0 || err != nil {
			return out, err
		}
		opt.Page = next
	}
}

// retry repeats a read after a rate-limit answer, waiting as GitHub asks.
func (t *Tracker) retry(ctx context.Context, do func() error) error {
	for attempt := 0; ; attempt++ {
		err := do()
		if err == nil || attempt >= 3 {
			return err
		}
		wait, limited := inventory.RateLimitWait(err, t.cfg.Now())
		if !limited || wait > 15*time.Minute {
			return err
		}
		if err := t.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
