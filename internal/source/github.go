package source

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
)

// AppAPI mints the read tokens and, when GitHub refuses one because a
// repository is not accessible, finds which (App JWT).
type AppAPI interface {
	CreateInstallationToken(ctx context.Context, installationID int64, req github.TokenRequest) (*github.InstallationToken, error)
	RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error)
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

// readTokenMargin: a held read token is not reused this close to its expiry.
const readTokenMargin = 10 * time.Minute

// ReadPermissions are all a read token may do: read files (GitHub adds
// metadata: read, which the query's repository and owner IDs need).
var ReadPermissions = map[string]string{"contents": "read"}

// ReadTokenWhat names the read token in in-flight records.
const ReadTokenWhat = "policy-read token"

// ReadToken is a read token as minted, for the edge that must revoke it.
type ReadToken struct {
	Token          github.Secret
	SHA256         string // hex
	ExpiresAt      time.Time
	InstallationID int64
	Owner          string
	Repositories   []string // names, without the owner
}

// Hooks let the edge record each read token: Asking before it is asked
// for (an error stops the read before anything is asked), Minted as soon as
// it arrives, before it is used (an error revokes it and fails the read).
type Hooks struct {
	Asking func(github.TokenInFlight) error
	Minted func(ReadToken) error
}

// Option configures a GitHub reader.
type Option func(*GitHub)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(g *GitHub) { g.now = now } }

// WithHooks records the read tokens (see Hooks).
func WithHooks(h Hooks) Option { return func(g *GitHub) { g.hooks = h } }

// RevokeAfterRead revokes each read token as soon as its read is done (a
// service without a post step: the broker). Without it, read tokens are
// held, reused by a later read they cover, and revoked by Close or by
// whoever the Minted hook handed them to (the action's post step).
func RevokeAfterRead() Option { return func(g *GitHub) { g.revokeAfter = true } }

// GitHub reads policy directories through the App: a contents: read token
// on exactly the repositories read, then one GraphQL query per Read.
type GitHub struct {
	app         AppAPI
	client      ClientFunc
	now         func() time.Time
	hooks       Hooks
	revokeAfter bool

	mu     sync.Mutex
	tokens []*readToken // held: revoked by Close
}

type readToken struct {
	ReadToken
	covers map[string]bool // lower-case names
	c      TokenClient
}

// NewGitHub returns a GitHub reader.
func NewGitHub(app AppAPI, client ClientFunc, opts ...Option) *GitHub {
	g := &GitHub{app: app, client: client, now: time.Now}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Read reads every location in one query, with a read token on exactly the
// locations' repositories (one more call when no held token covers them).
// A repository the installation cannot read is a snapshot with Found false.
func (g *GitHub) Read(ctx context.Context, installationID int64, locs []Location) ([]Snapshot, error) {
	owner, names, err := repositories(locs)
	if err != nil {
		return nil, err
	}
	rt, hidden, err := g.token(ctx, installationID, owner, names)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, len(locs))
	var qs []github.DirQuery
	var at []int
	for i, l := range locs {
		out[i] = Snapshot{Location: l}
		_, name, _ := Split(l.Repository)
		if !hidden[strings.ToLower(name)] {
			qs, at = append(qs, github.DirQuery{Owner: owner, Repo: name, Path: l.Path, Ref: l.Ref}), append(at, i)
		}
	}
	if rt == nil {
		return out, nil // none of them is readable
	}
	dirs, err := rt.c.DirsAt(ctx, qs)
	if g.revokeAfter {
		g.revokeOrHold(ctx, rt)
	}
	if err != nil {
		return nil, err
	}
	for j, d := range dirs {
		i := at[j]
		out[i] = Snapshot{Location: locs[i], Found: d.Found, Repository: d.FullName, RepositoryID: d.RepositoryID,
			OwnerID: d.OwnerID, Ref: d.Ref, Commit: d.Commit}
		for _, f := range d.Files {
			out[i].Files = append(out[i].Files, File{Name: locs[i].Path + "/" + f.Name, Data: f.Data})
		}
	}
	return out, nil
}

// repositories are the owner and the sorted, distinct names of the
// locations' repositories: one token covers one owner.
func repositories(locs []Location) (string, []string, error) {
	var owner string
	seen := map[string]bool{}
	var names []string
	for _, l := range locs {
		o, name, err := Split(l.Repository)
		if err != nil {
			return "", nil, err
		}
		if owner != "" && !strings.EqualFold(owner, o) {
			return "", nil, fmt.Errorf("read policies of %s and %s in one read: a read token covers one owner", owner, o)
		}
		owner = o
		if k := strings.ToLower(name); !seen[k] {
			seen[k] = true
			names = append(names, name)
		}
	}
	if owner == "" {
		return "", nil, errors.New("no policy location to read")
	}
	sort.Strings(names)
	return owner, names, nil
}

// token returns a read token covering names: a held one, or a new one on
// exactly them. When GitHub refuses because some are not accessible to the
// installation, those are returned in hidden and the token covers the rest
// (nil when none is left).
func (g *GitHub) token(ctx context.Context, id int64, owner string, names []string) (*readToken, map[string]bool, error) {
	if rt := g.held(id, names); rt != nil {
		return rt, nil, nil
	}
	rt, err := g.mint(ctx, id, owner, names)
	if github.ClassOf(err) != github.ClassRepositoryNotAccessible {
		return rt, nil, err
	}
	hidden, derr := g.inaccessible(ctx, id, owner, names)
	if derr != nil || len(hidden) == 0 {
		return nil, nil, err
	}
	var rest []string
	for _, n := range names {
		if !hidden[strings.ToLower(n)] {
			rest = append(rest, n)
		}
	}
	if len(rest) == 0 {
		return nil, hidden, nil
	}
	rt, err = g.mint(ctx, id, owner, rest)
	return rt, hidden, err
}

// held is a held token covering names, not about to expire.
func (g *GitHub) held(id int64, names []string) *readToken {
	if g.revokeAfter {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rt := range g.tokens {
		if rt.InstallationID != id || !g.now().Add(readTokenMargin).Before(rt.ExpiresAt) {
			continue
		}
		all := true
		for _, n := range names {
			all = all && rt.covers[strings.ToLower(n)]
		}
		if all {
			return rt
		}
	}
	return nil
}

// mint asks for a read token on names, recording it through the hooks
// before asking and as soon as it arrives.
func (g *GitHub) mint(ctx context.Context, id int64, owner string, names []string) (*readToken, error) {
	req := github.TokenRequest{Repositories: names, Permissions: ReadPermissions}
	if g.hooks.Asking != nil {
		if err := g.hooks.Asking(github.NewTokenInFlight(ReadTokenWhat, id, owner, req, g.now())); err != nil {
			return nil, fmt.Errorf("record the policy-read token about to be asked for, before asking: %w; nothing was minted", err)
		}
	}
	mctx, cancel := context.WithTimeout(ctx, github.TokenRequestBound)
	defer cancel()
	tok, err := g.app.CreateInstallationToken(mctx, id, req)
	if err != nil {
		return nil, &TokenMintError{InstallationID: id, Err: err}
	}
	rt := &readToken{ReadToken: ReadToken{Token: tok.Token, SHA256: audit.SHA256Hex(tok.Token.Reveal()), ExpiresAt: tok.ExpiresAt,
		InstallationID: id, Owner: owner, Repositories: names}, covers: map[string]bool{}}
	for _, n := range names {
		rt.covers[strings.ToLower(n)] = true
	}
	if g.hooks.Minted != nil {
		if err := g.hooks.Minted(rt.ReadToken); err != nil {
			if c, cerr := g.client(tok.Token.Reveal()); cerr == nil {
				rt.c = c
				_, _ = revoke(ctx, rt)
			}
			return nil, fmt.Errorf("record the policy-read token sha256 %s: %w; it was revoked", audit.ShortSHA(rt.SHA256), err)
		}
	}
	if rt.c, err = g.client(tok.Token.Reveal()); err != nil {
		return nil, err
	}
	if wider := widerThanAsked(req, tok); wider != "" {
		_, rerr := revoke(ctx, rt)
		what := "it was revoked"
		if rerr != nil {
			g.hold(rt) // Close tries again
			what = "revoking it failed: " + rerr.Error()
		}
		return nil, fmt.Errorf("refusing the policy-read token (sha256 %s): %s; %s", audit.ShortSHA(rt.SHA256), wider, what)
	}
	if !g.revokeAfter {
		g.hold(rt)
	}
	return rt, nil
}

// widerThanAsked reports a read token GitHub minted beyond the request:
// another permission than contents: read (and the metadata: read GitHub
// adds), every repository, or a repository not asked for.
func widerThanAsked(req github.TokenRequest, tok *github.InstallationToken) string {
	for name, level := range tok.Permissions {
		if level != "read" || (name != "contents" && name != "metadata") {
			return fmt.Sprintf("GitHub granted %s:%s, which was not asked for", name, level)
		}
	}
	if tok.RepositorySelection == "" {
		return "GitHub's answer does not say which repositories the token covers"
	}
	return tok.BeyondRepositories(req.Repositories)
}

func (g *GitHub) hold(rt *readToken) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens = append(g.tokens, rt)
}

// revokeOrHold revokes a token whose read is done, even when ctx has
// ended; one that could not be revoked is held for Close.
func (g *GitHub) revokeOrHold(ctx context.Context, rt *readToken) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := revoke(rctx, rt); err != nil {
		g.hold(rt)
	}
}

// inaccessible finds which of names the installation cannot read: GitHub's
// refusal of a token does not say (one lookup each, on this error path only).
func (g *GitHub) inaccessible(ctx context.Context, id int64, owner string, names []string) (map[string]bool, error) {
	hidden := map[string]bool{}
	for _, n := range names {
		in, err := g.app.RepoInstallation(ctx, owner, n)
		switch c := github.ClassOf(err); {
		case err == nil && in.ID == id:
		case err == nil || c == github.ClassNotInstalled || c == github.ClassNotFound:
			hidden[strings.ToLower(n)] = true
		default:
			return nil, err
		}
	}
	return hidden, nil
}

func revoke(ctx context.Context, rt *readToken) (revocation.Outcome, error) {
	return revocation.Revoke(ctx, func(github.Secret) (revocation.TokenAPI, error) { return rt.c, nil }, rt.Token)
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
	g.tokens = nil
	g.mu.Unlock()
	var errs []error
	for _, rt := range toks {
		if _, err := revoke(ctx, rt); err != nil {
			errs = append(errs, fmt.Errorf("revoke the policy-read token sha256 %s (valid until %s): %w",
				audit.ShortSHA(rt.SHA256), rt.ExpiresAt.UTC().Format(time.RFC3339), err))
		}
	}
	return errors.Join(errs...)
}
