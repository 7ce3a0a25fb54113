package broker

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
)

// AppAPI is what ReadClients needs from the App's own client.
type AppAPI interface {
	RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error)
	CreateReadToken(ctx context.Context, installationID int64, perms map[string]string) (*github.InstallationToken, error)
}

// ReadPermissions are what the broker's own token may do: read policies
// and ask whether jobs ended.
var ReadPermissions = map[string]string{"contents": "read", "actions": "read"}

// ReadClients hands out clients authenticated with the broker's own read
// token on an owner's installation: minted once per installation, reused
// until ten minutes before it expires, never given to a job, and revoked
// by Close. The installation of each owner is looked up once.
type ReadClients struct {
	app   AppAPI
	opts  github.Options
	perms map[string]string
	now   func() time.Time

	mu     sync.Mutex
	insts  map[string]*github.Installation // by lower-case owner
	tokens map[int64]*github.InstallationToken
}

// NewReadClients returns ReadClients minting through app; opts configure the
// clients it hands out.
func NewReadClients(app AppAPI, opts github.Options, now func() time.Time) *ReadClients {
	return &ReadClients{app: app, opts: opts, perms: ReadPermissions, now: now, insts: map[string]*github.Installation{}, tokens: map[int64]*github.InstallationToken{}}
}

// RepoInstallation is the App's installation on owner, looked up through
// repo once per owner and kept: the in-job mint's lookup, cached.
func (rc *ReadClients) RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error) {
	key := strings.ToLower(owner)
	rc.mu.Lock()
	in, ok := rc.insts[key]
	rc.mu.Unlock()
	if ok {
		return in, nil
	}
	in, err := rc.app.RepoInstallation(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.insts[key] = in
	rc.mu.Unlock()
	return in, nil
}

// Client is a client on owner's installation with the broker's read token.
func (rc *ReadClients) Client(ctx context.Context, owner, repo string) (*github.Client, error) {
	in, err := rc.RepoInstallation(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	return github.NewRefreshingClient(rc.opts, func(ctx context.Context) (string, error) { return rc.token(ctx, in.ID) })
}

func (rc *ReadClients) token(ctx context.Context, id int64) (string, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if t := rc.tokens[id]; t != nil && rc.now().Before(t.ExpiresAt.Add(-10*time.Minute)) {
		return t.Token.Reveal(), nil
	}
	t, err := rc.app.CreateReadToken(ctx, id, rc.perms)
	if err != nil {
		return "", err
	}
	rc.tokens[id] = t
	return t.Token.Reveal(), nil
}

// Close revokes the read tokens still held.
func (rc *ReadClients) Close(ctx context.Context) {
	rc.mu.Lock()
	toks := rc.tokens
	rc.tokens = map[int64]*github.InstallationToken{}
	rc.mu.Unlock()
	clients := func(tok github.Secret) (revocation.TokenAPI, error) {
		return github.NewTokenClient(rc.opts, tok.Reveal())
	}
	for _, t := range toks {
		_, _ = revocation.Revoke(ctx, clients, t.Token)
	}
}

// TokenMinter mints installation tokens and reads an installation (the
// App's client).
type TokenMinter interface {
	CreateInstallationToken(ctx context.Context, installationID int64, req github.TokenRequest) (*github.InstallationToken, error)
	AppInstallation(ctx context.Context, id int64) (*github.Installation, error)
}

// MintingApp is the App API of the in-job mint (mint.AppAPI) with the
// installation lookup served from rc: at steady state a mint is one call.
func (rc *ReadClients) MintingApp(m TokenMinter) *MintingApp { return &MintingApp{rc: rc, m: m} }

// MintingApp is what MintingApp returns.
type MintingApp struct {
	rc *ReadClients
	m  TokenMinter
}

// RepoInstallation is the cached lookup.
func (a *MintingApp) RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error) {
	return a.rc.RepoInstallation(ctx, owner, repo)
}

// AppInstallation reads an installation by ID (a given installation-id).
func (a *MintingApp) AppInstallation(ctx context.Context, id int64) (*github.Installation, error) {
	return a.m.AppInstallation(ctx, id)
}

// CreateInstallationToken mints.
func (a *MintingApp) CreateInstallationToken(ctx context.Context, id int64, req github.TokenRequest) (*github.InstallationToken, error) {
	return a.m.CreateInstallationToken(ctx, id, req)
}
