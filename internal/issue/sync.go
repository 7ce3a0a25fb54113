package issue

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

// syncer brings one repository's review issues in step. Its writes are
// made one at a time (GitHub asks for serial writes), content-creating ones
// through the pacer.
type syncer struct {
	t          *Tracker
	st         *repoState
	inv        *inventory.Inventory
	findings   map[string]review.Finding
	suppressed map[string]review.Suppressed
	known      map[string]bool
	created    *int
	owners     []string // assignees, resolved once per repository
	mention    []string // owners for the body (Body mentions the logins and teams)
	ownersDone bool
	mine       []int                 // issues this run created here
	all        map[string]*repoState // every repository read, for findings that moved
}

func (s *syncer) run(ctx context.Context) error {
	s.dedupe(ctx)
	var fps []string
	for fp, f := range s.findings {
		if f.IssueRepo == s.st.repo {
			fps = append(fps, fp)
		}
	}
	sort.Strings(fps)
	for _, fp := range fps {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.keep(ctx, s.findings[fp])
	}
	s.closeGone(ctx)
	s.dedupeMine(ctx)
	return ctx.Err()
}

// dedupe closes every open issue of a fingerprint but the oldest: two runs
// at the same time may both have opened one.
func (s *syncer) dedupe(ctx context.Context) {
	for fp, xs := range s.st.byFP {
		var keep *tracked
		for i := range xs {
			if !xs[i].open() {
				continue
			}
			if keep == nil {
				keep = &xs[i]
				continue
			}
			if s.close(ctx, xs[i], fmt.Sprintf("Duplicate of #%d, which tracks the same finding (fingerprint `%s`).", keep.number, fp), "not_planned", OpDedupe) {
				xs[i].state = "closed"
			}
		}
	}
}

// current returns the open issue of fp, else the oldest closed one.
func (s *syncer) current(fp string) (tracked, bool) {
	xs := s.st.byFP[fp]
	for _, x := range xs {
		if x.open() {
			return x, true
		}
	}
	if len(xs) > 0 {
		return xs[0], true
	}
	return tracked{}, false
}

func (s *syncer) keep(ctx context.Context, f review.Finding) {
	x, ok := s.current(f.Fingerprint)
	switch {
	case !ok:
		s.create(ctx, f)
	case x.open():
		if s.command(ctx, f, x) || s.autoRemediate(ctx, f, x) {
			return
		}
		if x.marker.Evidence != f.EvidenceHash || x.title != f.Title {
			s.edit(ctx, x, f, x.marker.Reminders, nil, OpUpdate, "evidence changed")
		}
		s.remind(ctx, f, x)
	default:
		state := "open"
		if at, ok := s.elsewhere(f.Fingerprint); ok {
			// moved back here (central_repository changed): closeMoved closes the other one
			if s.edit(ctx, x, f, 0, &state, OpReopen, "tracked here again: the central repository changed") {
				s.mark(x, "open")
				s.comment(ctx, x.number, fmt.Sprintf("Reopened by `jitkey review`: the review policy's `central_repository` changed, "+
					"so this finding is tracked here again (%s is closed with a pointer here).", at))
			}
			return
		}
		if s.edit(ctx, x, f, 0, &state, OpReopen, "closed while the finding persists") {
			s.mark(x, "open")
			s.comment(ctx, x.number, fmt.Sprintf("Reopened by `jitkey review`: the finding is still there (%s).\n\n"+
				"If this credential is acceptable as it is, do not close the issue by hand: add an exemption to the review policy "+
				"(the CUE snippet under \"How to exempt it\" above) in a pull request, and the next review closes this issue.", f.Summary))
		}
	}
}

// mark records the new state of issue x, for closeMoved.
func (s *syncer) mark(x tracked, state string) {
	for i, y := range s.st.byFP[x.marker.Fingerprint] {
		if y.number == x.number {
			s.st.byFP[x.marker.Fingerprint][i].state = state
		}
	}
}

func (s *syncer) labels() []string {
	ls := append([]string{Label}, s.t.cfg.Review.Labels...)
	sort.Strings(ls[1:])
	return ls
}

func (s *syncer) create(ctx context.Context, f review.Finding) {
	if *s.created >= s.t.cfg.MaxIssues {
		s.t.mu.Lock()
		s.t.result.Deferred++
		s.t.mu.Unlock()
		s.t.record(Action{Op: OpDefer, Repo: s.st.repo, Fingerprint: f.Fingerprint, Title: f.Title, Reason: fmt.Sprintf("cap of %d new issues per run reached", s.t.cfg.MaxIssues)})
		return
	}
	if s.st.missing != "" {
		s.t.unfiled(s.st)
		return
	}
	*s.created++
	owners := s.resolveOwners(ctx)
	body := Body(f, s.mention, 0)
	if s.t.cfg.DryRun {
		s.t.record(Action{Op: OpCreate, Repo: s.st.repo, Fingerprint: f.Fingerprint, Title: f.Title})
		// stands for the issue a real run opens, so closeMoved plans the same
		s.st.byFP[f.Fingerprint] = append(s.st.byFP[f.Fingerprint], tracked{state: "open", marker: MarkerOf(f, 0)})
		return
	}
	if !s.ensureLabels(ctx) {
		return
	}
	owner, name := splitRepo(s.st.repo)
	req := &github.IssueRequest{Title: github.String(f.Title), Body: github.String(body), Labels: ptrSlice(s.labels())}
	if len(owners) > 0 {
		req.Assignees = ptrSlice(owners)
	}
	if err := s.t.pacer.Wait(ctx); err != nil {
		return
	}
	is, _, err := s.t.issues.Create(ctx, owner, name, req)
	if err != nil && req.Assignees != nil && statusOf(err) == http.StatusUnprocessableEntity {
		req.Assignees = nil // an owner who cannot be assigned must not block the issue
		is, _, err = s.t.issues.Create(ctx, owner, name, req)
	}
	if err != nil {
		s.writeFailed(Action{Op: OpFailed, Repo: s.st.repo, Fingerprint: f.Fingerprint, Title: f.Title, Reason: "create issue: " + err.Error()}, err)
		return
	}
	x := trackedOf(is, MarkerOf(f, 0), f.Credential.ID)
	s.st.byFP[f.Fingerprint] = append(s.st.byFP[f.Fingerprint], x)
	s.mine = append(s.mine, is.GetNumber())
	s.t.record(Action{Op: OpCreate, Repo: s.st.repo, Number: is.GetNumber(), Fingerprint: f.Fingerprint, Title: f.Title})
}

func ptrSlice(s []string) *[]string { return &s }

// dedupeMine re-lists the open issues after creating some, and closes each
// of ours that lost a race: another run opened the same finding first.
func (s *syncer) dedupeMine(ctx context.Context) {
	if len(s.mine) == 0 || s.t.cfg.DryRun {
		return
	}
	list, err := s.t.listIssues(ctx, s.st.repo, "open")
	if err != nil {
		s.t.record(Action{Op: OpFailed, Repo: s.st.repo, Reason: "re-list issues to find duplicates (the next run closes any): " + err.Error()})
		return
	}
	lowest := map[string]int{}
	for _, x := range list {
		if n, ok := lowest[x.marker.Fingerprint]; !ok || x.number < n {
			lowest[x.marker.Fingerprint] = x.number
		}
	}
	for _, x := range list {
		n := x.number
		if !contains(s.mine, n) || lowest[x.marker.Fingerprint] >= n {
			continue
		}
		if s.close(ctx, x, fmt.Sprintf("Duplicate of #%d, opened by a review running at the same time.", lowest[x.marker.Fingerprint]), "not_planned", OpDedupe) {
			s.mark(x, "closed") // closeMoved waits for the next run to point at the winner
		}
	}
}

func contains(xs []int, n int) bool {
	for _, x := range xs {
		if x == n {
			return true
		}
	}
	return false
}

func (s *syncer) fingerprints() []string {
	fps := make([]string, 0, len(s.st.byFP))
	for fp := range s.st.byFP {
		fps = append(fps, fp)
	}
	sort.Strings(fps)
	return fps
}

// closeGone closes open issues whose finding is gone, but only when the
// credential's kind was read in full for its target in this run. An issue
// whose finding is filed elsewhere is closeMoved's.
func (s *syncer) closeGone(ctx context.Context) {
	for _, fp := range s.fingerprints() {
		for _, x := range s.st.byFP[fp] {
			if !x.open() {
				continue
			}
			if _, still := s.findings[fp]; still {
				continue
			}
			if !s.inv.Complete(x.marker.Target, policy.CredentialKind(x.marker.Kind)) {
				continue // not read in full this run: absence proves nothing
			}
			s.close(ctx, x, s.whyGone(x), "completed", OpClose)
		}
	}
}

// closeMoved closes the open issues here whose finding is now filed in
// another repository (central_repository was set, changed or unset), with a
// comment pointing at the issue there. It runs once every repository was
// brought in step: while the finding has no open issue at its new location
// (deferred by the cap, a repository that cannot take issues or whose issues
// could not be read), the old issue stays open and keeps tracking it. The
// finding was seen in this scan, so closing proves nothing gone.
func (s *syncer) closeMoved(ctx context.Context) error {
	for _, fp := range s.fingerprints() {
		f, still := s.findings[fp]
		if !still || f.IssueRepo == s.st.repo {
			continue
		}
		to, ok := s.openIn(f.IssueRepo, fp)
		if !ok {
			continue
		}
		for _, x := range s.st.byFP[fp] {
			if err := ctx.Err(); err != nil {
				return err
			}
			if x.open() {
				s.close(ctx, x, fmt.Sprintf("This finding is now tracked in %s (the review policy's `central_repository` changed).", to), "not_planned", OpClose)
			}
		}
	}
	return ctx.Err()
}

// openIn names the open issue of fp in repo ("owner/name#N"; in a dry run
// the repository alone), if there is one.
func (s *syncer) openIn(repo, fp string) (string, bool) {
	st := s.all[repo]
	if st == nil {
		return "", false
	}
	for _, x := range st.byFP[fp] {
		if x.open() {
			if x.number == 0 {
				return repo, true
			}
			return fmt.Sprintf("%s#%d", repo, x.number), true
		}
	}
	return "", false
}

// elsewhere names an open issue of fp in another repository read this run.
func (s *syncer) elsewhere(fp string) (string, bool) {
	repos := make([]string, 0, len(s.all))
	for r := range s.all {
		if r != s.st.repo {
			repos = append(repos, r)
		}
	}
	sort.Strings(repos)
	for _, r := range repos {
		if at, ok := s.openIn(r, fp); ok {
			return at, true
		}
	}
	return "", false
}

func (s *syncer) whyGone(x tracked) string {
	if sup, ok := s.suppressed[x.marker.Fingerprint]; ok {
		e := sup.Exemption
		return fmt.Sprintf("Closed by `jitkey review`: the finding is exempted by the review policy until %s (approver %s: %s).",
			e.Expires.UTC().Format("2006-01-02"), code(e.Approver), e.Reason)
	}
	if id := x.credential; id != "" && !s.known[id] {
		return fmt.Sprintf("Closed by `jitkey review`: the credential %s no longer exists.", code(id))
	}
	return "Closed by `jitkey review`: the credential no longer shows this problem (it was used, rotated or narrowed, or the review policy changed)."
}

// credentialID reads the credential row of the evidence table: the line
// that starts with it (a name elsewhere in the body cannot start a line).
func credentialID(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, "| Credential | "); ok {
			return unCell(strings.TrimSuffix(rest, " |"))
		}
	}
	return ""
}

// unCell reads back what review.Cell wrote.
func unCell(cell string) string {
	cell = strings.ReplaceAll(cell, `\|`, "|")
	fence := len(cell) - len(strings.TrimLeft(cell, "`"))
	if fence == 0 || len(cell) < 2*fence {
		return ""
	}
	inner := cell[fence : len(cell)-fence]
	if len(inner) >= 2 && inner[0] == ' ' && inner[len(inner)-1] == ' ' && strings.Trim(inner, " ") != "" {
		inner = inner[1 : len(inner)-1]
	}
	return inner
}

// close comments why, then closes. It reports whether the issue was closed.
func (s *syncer) close(ctx context.Context, x tracked, why, reason string, op Op) bool {
	a := Action{Op: op, Repo: s.st.repo, Number: x.number, Fingerprint: x.marker.Fingerprint, Title: x.title, Reason: why}
	if s.t.cfg.DryRun {
		s.t.record(a)
		return true
	}
	if !s.comment(ctx, x.number, why) {
		return false
	}
	owner, name := splitRepo(s.st.repo)
	if _, _, err := s.t.issues.Edit(ctx, owner, name, x.number, &github.IssueRequest{State: github.String("closed"), StateReason: github.String(reason)}); err != nil {
		s.writeFailed(Action{Op: OpFailed, Repo: s.st.repo, Number: x.number, Reason: "close issue: " + err.Error()}, err)
		return false
	}
	s.t.record(a)
	return true
}

// edit rewrites title and body (and state, when given).
func (s *syncer) edit(ctx context.Context, x tracked, f review.Finding, reminders int, state *string, op Op, why string) bool {
	a := Action{Op: op, Repo: s.st.repo, Number: x.number, Fingerprint: f.Fingerprint, Title: f.Title, Reason: why}
	if s.t.cfg.DryRun {
		s.t.record(a)
		return true
	}
	if s.readOnly() {
		return false
	}
	owner, name := splitRepo(s.st.repo)
	s.resolveOwners(ctx)
	body := Body(f, s.mention, reminders)
	req := &github.IssueRequest{Title: github.String(f.Title), Body: github.String(body), State: state}
	if _, _, err := s.t.issues.Edit(ctx, owner, name, x.number, req); err != nil {
		s.writeFailed(Action{Op: OpFailed, Repo: s.st.repo, Number: x.number, Reason: string(op) + " issue: " + err.Error()}, err)
		return false
	}
	s.t.record(a)
	return true
}

func (s *syncer) comment(ctx context.Context, number int, body string) bool {
	if s.t.cfg.DryRun {
		return true
	}
	if s.readOnly() {
		return false
	}
	if err := s.t.pacer.Wait(ctx); err != nil {
		return false
	}
	owner, name := splitRepo(s.st.repo)
	if _, _, err := s.t.issues.CreateComment(ctx, owner, name, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		s.writeFailed(Action{Op: OpFailed, Repo: s.st.repo, Number: number, Reason: "comment: " + err.Error()}, err)
		return false
	}
	return true
}

// readOnly reports whether GitHub already refused a write to this
// repository because it was archived since the scan: nothing more is tried
// there (each write would be refused the same way).
func (s *syncer) readOnly() bool { return s.st.missing == whyArchived }

// writeFailed records a refused or failed write as failed, unless GitHub
// refused it because the repository was archived since the scan: then the
// repository's findings are unfiled, said once with the fix, as for a
// repository archived before it (see Tracker.unfiled).
func (s *syncer) writeFailed(failed Action, err error) {
	if archivedRefusal(err) {
		s.st.missing = whyArchived
		s.t.unfiled(s.st)
		return
	}
	s.t.record(failed)
}

// ensureLabels creates the review labels missing from the repository.
func (s *syncer) ensureLabels(ctx context.Context) bool {
	owner, name := splitRepo(s.st.repo)
	for _, l := range s.labels() {
		if s.st.labels[l] {
			continue
		}
		_, _, err := s.t.issues.GetLabel(ctx, owner, name, l)
		if statusOf(err) == http.StatusNotFound {
			_, _, err = s.t.issues.CreateLabel(ctx, owner, name, &github.Label{Name: github.String(l), Color: github.String("d93f0b"),
				Description: github.String("credential review finding, kept by jitkey")})
			if statusOf(err) == http.StatusUnprocessableEntity {
				err = nil // created meanwhile by a concurrent run
			}
		}
		if archivedRefusal(err) { // archived since the scan
			s.writeFailed(Action{}, err)
			return false
		}
		if err != nil {
			s.t.record(Action{Op: OpFailed, Repo: s.st.repo, Reason: fmt.Sprintf("ensure label %q: %v", l, err)})
			s.st.missing, s.st.reported = "refused the review label", true // do not retry for every finding
			return false
		}
		s.st.labels[l] = true
	}
	return true
}

// remind comments on an open issue when the policy asks for reminders and
// one is due: after AfterDays, then at doubling intervals, at most MaxReminds.
func (s *syncer) remind(ctx context.Context, f review.Finding, x tracked) {
	rn := s.t.cfg.Review.Renotify
	n := x.marker.Reminders
	if !rn.Enabled || rn.AfterDays <= 0 || (rn.MaxReminds > 0 && n >= rn.MaxReminds) {
		return
	}
	due := x.created.Add(time.Duration(rn.AfterDays*((1<<(n+1))-1)) * 24 * time.Hour)
	if s.t.cfg.Now().Before(due) {
		return
	}
	if !s.comment(ctx, x.number, fmt.Sprintf("Reminder %d: this finding is still open. %s", n+1, f.Summary)) {
		return
	}
	s.edit(ctx, x, f, n+1, nil, OpRemind, fmt.Sprintf("reminder %d", n+1))
}
