package mintstep

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/github"
)

// countingApp answers installation lookups and counts them.
type countingApp struct {
	mu    sync.Mutex
	calls []string
	fail  bool
	block chan struct{} // when set, a lookup waits for it (or its context)
}

func (a *countingApp) lookup(ctx context.Context, what string, id int64) (*github.Installation, error) {
	a.mu.Lock()
	a.calls = append(a.calls, what)
	fail := a.fail
	a.mu.Unlock()
	if a.block != nil {
		select {
		case <-a.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail {
		return nil, errors.New("not installed")
	}
	inst := &github.Installation{ID: id}
	inst.Account.Login = what
	return inst, nil
}

func (a *countingApp) RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error) {
	return a.lookup(ctx, owner+"/"+repo, 7)
}

func (a *countingApp) AppInstallation(ctx context.Context, id int64) (*github.Installation, error) {
	return a.lookup(ctx, "id", id)
}

func (a *countingApp) CreateInstallationToken(context.Context, int64, github.TokenRequest) (*github.InstallationToken, error) {
	panic("the early lookup never mints")
}

func (a *countingApp) called() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// TestEarlyLookup: the installation looked up before the identity is known
// answers only the same question, and only when it succeeded; any other
// question, or a failed early lookup, goes to GitHub as before.
func TestEarlyLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name        string
		owner, repo string
		id          int64
		fail        bool
		ask         func(*earlyLookup) (*github.Installation, error)
		wantCalls   []string
		wantAccount string
	}{
		{"the same repository is answered early", "acme", "api", 0, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.RepoInstallation(ctx, "acme", "api") },
			[]string{"acme/api"}, "acme/api"},
		{"another repository (the verified token names it) asks GitHub", "acme", "api", 0, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.RepoInstallation(ctx, "other", "lib") },
			[]string{"acme/api", "other/lib"}, "other/lib"},
		{"the same name in other case asks GitHub", "acme", "api", 0, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.RepoInstallation(ctx, "Acme", "api") },
			[]string{"acme/api", "Acme/api"}, "Acme/api"},
		{"a failed early lookup is asked again", "acme", "api", 0, true,
			func(l *earlyLookup) (*github.Installation, error) { return l.RepoInstallation(ctx, "acme", "api") },
			[]string{"acme/api", "acme/api"}, ""},
		{"the given installation is answered early", "", "", 12, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.AppInstallation(ctx, 12) },
			[]string{"id"}, "id"},
		{"another installation asks GitHub", "", "", 12, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.AppInstallation(ctx, 13) },
			[]string{"id", "id"}, "id"},
		{"a repository lookup when an installation was read asks GitHub", "acme", "api", 12, false,
			func(l *earlyLookup) (*github.Installation, error) { return l.RepoInstallation(ctx, "acme", "api") },
			[]string{"id", "acme/api"}, "acme/api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := &countingApp{fail: tt.fail}
			l := startLookup(ctx, app, tt.owner, tt.repo, tt.id)
			<-l.done // the early lookup has answered
			inst, err := tt.ask(l)
			l.stop()
			assert.Equal(t, tt.wantCalls, app.called())
			if tt.fail {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantAccount, inst.Account.Login)
		})
	}
}

// TestEarlyLookupStop: stop cancels a lookup still waiting for GitHub and
// returns once it has ended, so that no request outlives the step.
func TestEarlyLookupStop(t *testing.T) {
	t.Parallel()
	app := &countingApp{block: make(chan struct{})}
	l := startLookup(context.Background(), app, "acme", "api", 0)
	l.stop()
	select {
	case <-l.done:
	default:
		t.Fatal("stop returned before the lookup ended")
	}
	assert.ErrorIs(t, l.err, context.Canceled)
}

// TestEarlyLookupWaits: a question asked while the early lookup is under
// way waits for its answer instead of asking again; a caller whose context
// ends meanwhile asks GitHub itself (and gets its own error).
func TestEarlyLookupWaits(t *testing.T) {
	t.Parallel()
	app := &countingApp{block: make(chan struct{})}
	l := startLookup(context.Background(), app, "acme", "api", 0)
	defer l.stop()
	got := make(chan *github.Installation)
	go func() {
		inst, _ := l.RepoInstallation(context.Background(), "acme", "api")
		got <- inst
	}()
	close(app.block)
	inst := <-got
	require.NotNil(t, inst)
	assert.Equal(t, []string{"acme/api"}, app.called())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked := &countingApp{block: make(chan struct{})}
	l2 := startLookup(context.Background(), blocked, "acme", "api", 0)
	_, err := l2.RepoInstallation(ctx, "acme", "api")
	l2.stop()
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, blocked.called(), 2, "the cancelled caller asked GitHub itself")
}
