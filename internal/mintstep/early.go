package mintstep

import (
	"context"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
)

// earlyLookup is the App's client with the installation lookup started
// before the job's OIDC token is fetched and verified: the runner names the
// job's repository, so the lookup (and the RS256 signature of the App JWT
// it needs, a millisecond or two of CPU) runs meanwhile. Its answer serves
// only the same question asked again (the repository the verified token
// names, or the given installation ID), and only when it succeeded:
// anything else asks GitHub, as if there had been no early lookup. It reads
// and mints nothing else.
type earlyLookup struct {
	mint.AppAPI
	owner, repo string // the repository looked up, when id is 0
	id          int64  // the installation read, when given
	cancel      context.CancelFunc
	done        chan struct{}
	inst        *github.Installation
	err         error
}

// startLookup starts reading installation id (when not 0) or the
// installation on owner/repo.
func startLookup(ctx context.Context, app mint.AppAPI, owner, repo string, id int64) *earlyLookup {
	ctx, cancel := context.WithCancel(ctx)
	l := &earlyLookup{AppAPI: app, owner: owner, repo: repo, id: id, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		if id != 0 {
			l.inst, l.err = app.AppInstallation(ctx, id)
		} else {
			l.inst, l.err = app.RepoInstallation(ctx, owner, repo)
		}
	}()
	return l
}

// RepoInstallation answers from the early lookup when it asked the same.
func (l *earlyLookup) RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error) {
	if l.id == 0 && owner == l.owner && repo == l.repo {
		if inst, ok := l.answer(ctx); ok {
			return inst, nil
		}
	}
	return l.AppAPI.RepoInstallation(ctx, owner, repo)
}

// AppInstallation answers from the early lookup when it asked the same.
func (l *earlyLookup) AppInstallation(ctx context.Context, id int64) (*github.Installation, error) {
	if l.id != 0 && id == l.id {
		if inst, ok := l.answer(ctx); ok {
			return inst, nil
		}
	}
	return l.AppAPI.AppInstallation(ctx, id)
}

// answer waits for the early lookup and reports whether it succeeded.
func (l *earlyLookup) answer(ctx context.Context) (*github.Installation, bool) {
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, false
	}
	return l.inst, l.err == nil
}

// stop ends the early lookup if it still runs, and waits for it.
func (l *earlyLookup) stop() {
	l.cancel()
	<-l.done
}
