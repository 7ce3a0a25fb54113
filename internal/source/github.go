package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
)

// AppAPI mints the read token.
type AppAPI interface {
	CreateReadToken(ctx context.Context, installationID int64, perms map[string]string) (*github.InstallationToken, error)
}

// DirAPI reads directories with a read token.
type DirAPI interface {
	DirsAt(ctx context.Context, qs []github.DirQuery) ([]github.Dir, error)
}

// TokenClient reads with a read token and revokes it.
type TokenClient interface {
	DirAPI
	revocation.TokenAPI
}

// ClientFunc builds the client that reads with a token.
type ClientFunc func(token string) (TokenClient, error)

// readTokenMargin: a read token is replaced this long before it expires.
const readTokenMargin = 10 * time.Minute

// GitHub reads policy directories through the App: a contents: read token
// on the installation, then one GraphQL query per Read.
type GitHub struct {
	app    AppAPI
	client ClientFunc
	now    func() time.Time
	perms  map[string]string

	mu     sync.Mutex
	tokens map[int64]*readToken
}

type readToken struct {
	tok     github.Secret
	expires time.Time
	c       TokenClient
}

// NewGitHub returns a GitHub reader; now is the clock (nil: time.Now).
// perms are the read token's permissions (default contents: read; a
// broker asks for actions: read too, to share one kind of read token).
func NewGitHub(app AppAPI, client ClientFunc, now func() time.Time, perms ...map[string]string) *GitHub {
	if now == nil {
		now = time.Now
	}
	g := &GitHub{app: app, client: client, now: now, perms: readPermissions, tokens: map[int64]*readToken{}}
	if len(perms) > 0 {
		g.perms = perms[0]
	}
	return g
}

// readPermissions is all a read token may do: read files (GitHub adds
// metadata: read).
var readPermissions = map[string]string{"contents": "read"}

// Read reads every location in one query (plus the read token's mint when
// none is held for the installation).
func (g *GitHub) Read(ctx context.Context, installationID int64, locs []Location) ([]Snapshot, error) {
	rt, err := g.token(ctx, installationID)
	if err != nil {
		return nil, err
	}
	qs := make([]github.DirQuery, len(locs))
	for i, l := range locs {
		owner, name, err := Split(l.Repository)
		if err != nil {
			return nil, err
		}
		qs[i] = github.DirQuery{Owner: owner, Repo: name, Path: l.Path, Ref: l.Ref}
	}
	dirs, err := rt.c.DirsAt(ctx, qs)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, len(dirs))
	for i, d := range dirs {
		out[i] = Snapshot{Location: locs[i], Found: d.Found, Repository: d.FullName, RepositoryID: d.RepositoryID,
			OwnerID: d.OwnerID, Ref: d.Ref, Commit: d.Commit}
		for _, f := range d.Files {
			out[i].Files = append(out[i].Files, File{Name: locs[i].Path + "/" + f.Name, Data: f.Data})
		}
	}
	return out, nil
}

// token returns the installation's read token (contents: read on the
// installation's repositories), minting one when none is held or it
// expires within readTokenMargin; a replaced token is revoked.
func (g *GitHub) token(ctx context.Context, id int64) (*readToken, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rt := g.tokens[id]
	if rt != nil && g.now().Add(readTokenMargin).Before(rt.expires) {
		return rt, nil
	}
	tok, err := g.app.CreateReadToken(ctx, id, g.perms)
	if err != nil {
		return nil, &TokenMintError{InstallationID: id, Err: err}
	}
	c, err := g.client(tok.Token.Reveal())
	if err != nil {
		return nil, err
	}
	if rt != nil {
		_, _ = revoke(ctx, rt)
	}
	rt = &readToken{tok: tok.Token, expires: tok.ExpiresAt, c: c}
	g.tokens[id] = rt
	return rt, nil
}

func revoke(ctx context.Context, rt *readToken) (revocation.Outcome, error) {
	return revocation.Revoke(ctx, func(github.Secret) (revocation.TokenAPI, error) { return rt.c, nil }, rt.tok)
}

// TokenMintError is a failure to mint the policy-read token; when the
// answer was lost, a token may exist that was never seen (the minter
// recovers and reports it as it does its own).
type TokenMintError struct {
	InstallationID int64
	Err            error
}

func (e *TokenMintError) Error() string { return "mint the policy-read token: " + e.Err.Error() }
func (e *TokenMintError) Unwrap() error { return e.Err }

// Close revokes every read token held.
func (g *GitHub) Close(ctx context.Context) error {
	g.mu.Lock()
	toks := g.tokens
	g.tokens = map[int64]*readToken{}
	g.mu.Unlock()
	var errs []error
	for _, rt := range toks {
		if _, err := revoke(ctx, rt); err != nil {
			errs = append(errs, fmt.Errorf("revoke the policy-read token sha256 %s (valid until %s): %w",
				audit.ShortSHA(audit.SHA256Hex(rt.tok.Reveal())), rt.expires.UTC().Format(time.RFC3339), err))
		}
	}
	return errors.Join(errs...)
}
