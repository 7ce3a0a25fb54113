package mint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/revocation"
)

// AppAPI is what the Minter needs from a client authenticated as the App.
type AppAPI interface {
	RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error)
	CreateInstallationToken(ctx context.Context, installationID int64, req github.TokenRequest) (*github.InstallationToken, error)
}

// ContentsAPI reads the policy file; jitkey gives it the job's github-token.
type ContentsAPI interface {
	FileContents(ctx context.Context, owner, repo, path, ref string) ([]byte, string, error)
}

// TokenAPI is a client authenticated with the minted token itself.
type TokenAPI = revocation.TokenAPI

// TokenClientFunc builds a TokenAPI for a token.
type TokenClientFunc = revocation.ClientFunc

// Minter mints and revokes policy-scoped installation tokens.
type Minter struct {
	app      AppAPI
	contents ContentsAPI
	tokens   TokenClientFunc
	now      func() time.Time
	log      *slog.Logger
	inFlight func(InFlight) error
}

// Option configures a Minter.
type Option func(*Minter)

// WithClock sets the clock used for audit records and expiry checks.
func WithClock(now func() time.Time) Option { return func(m *Minter) { m.now = now } }

// WithLogger sets the logger for diagnostics (never credentials).
func WithLogger(l *slog.Logger) Option { return func(m *Minter) { m.log = l } }

// New returns a Minter. app may be nil for a Minter that only revokes;
// contents may be nil when the policy is passed in.
func New(app AppAPI, contents ContentsAPI, tokens TokenClientFunc, opts ...Option) *Minter {
	m := &Minter{app: app, contents: contents, tokens: tokens, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Input is one mint request.
type Input struct {
	Claims  policy.Claims
	Request policy.Request
	// PolicyPath is the policy file in the calling repository (Claims.Repository);
	// PolicyRef the ref to read it at, "" for the default branch.
	PolicyPath string
	PolicyRef  string
	// InstallationID skips the installation lookup when not zero.
	InstallationID int64
}

// Grant is a minted token and what it may do.
type Grant struct {
	Token          github.Secret
	SHA256         string // hex SHA-256 of the token
	ExpiresAt      time.Time
	InstallationID int64
	AppSlug        string // empty when the installation ID was given
	Owner          string
	Repositories   []string // "owner/name", sorted
	Permissions    map[string]string
	Decision       policy.Decision
	PolicySHA      string // blob SHA of the policy file read
}

// Decided is a policy decision with the facts it was made on.
type Decided struct {
	Decision  policy.Decision
	PolicySHA string
}

// Decide reads the policy from the calling repository at the policy ref
// through the contents API and decides the request: one API call.
func (m *Minter) Decide(ctx context.Context, in Input) (Decided, error) {
	owner, repo, ok := strings.Cut(in.Claims.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return Decided{}, fmt.Errorf("the job's repository %q is not owner/name: run inside GitHub Actions or pass --repository", in.Claims.Repository)
	}
	if in.PolicyPath == "" {
		return Decided{}, errors.New("no policy path: set the policy input")
	}
	data, sha, err := m.contents.FileContents(ctx, owner, repo, in.PolicyPath, in.PolicyRef)
	if err != nil {
		return Decided{}, &PolicyReadError{Path: in.PolicyPath, Ref: in.PolicyRef, Err: err}
	}
	set, err := policy.LoadBytes(in.PolicyPath, data)
	if err != nil {
		return Decided{}, &PolicyInvalidError{Path: in.PolicyPath, Ref: in.PolicyRef, Err: err}
	}
	return Decided{Decision: policy.Decide(set, in.Claims, in.Request), PolicySHA: sha}, nil
}

// Mint decides and, when allowed, mints: the policy read, the installation
// lookup (skipped when in.InstallationID is set) and the mint itself, so three
// API calls, or two. A denial is a *DeniedError and calls no App endpoint.
func (m *Minter) Mint(ctx context.Context, in Input) (*Grant, error) {
	d, err := m.Decide(ctx, in)
	if err != nil {
		return nil, err
	}
	if !d.Decision.Allowed {
		return nil, &DeniedError{Decision: d.Decision}
	}
	return m.MintDecided(ctx, in, d)
}

// MintDecided mints what an allowed decision grants.
func (m *Minter) MintDecided(ctx context.Context, in Input, d Decided) (*Grant, error) {
	owner, req, err := tokenRequest(d.Decision)
	if err != nil {
		return nil, err
	}
	g := &Grant{InstallationID: in.InstallationID, Owner: owner, Decision: d.Decision, PolicySHA: d.PolicySHA,
		Permissions: req.Permissions}
	if g.InstallationID == 0 {
		inst, err := m.app.RepoInstallation(ctx, owner, req.Repositories[0])
		if err != nil {
			return nil, err
		}
		g.InstallationID, g.AppSlug = inst.ID, inst.AppSlug
	}
	ctx, cancel, err := m.beginMint(ctx, g.InstallationID, owner, req)
	if err != nil {
		return nil, err
	}
	defer cancel()
	tok, err := m.app.CreateInstallationToken(ctx, g.InstallationID, req)
	if err != nil {
		return nil, m.lost(ctx, g, err)
	}
	g.Token, g.SHA256, g.ExpiresAt = tok.Token, SHA256Hex(tok.Token.Reveal()), tok.ExpiresAt
	for _, r := range req.Repositories {
		g.Repositories = append(g.Repositories, owner+"/"+r)
	}
	if wider := widerThanAsked(req, tok); wider != "" {
		rerr := m.revokeQuietly(ctx, g.Token)
		return nil, &ScopeMismatchError{Detail: wider, SHA256: g.SHA256, ExpiresAt: g.ExpiresAt, RevokeErr: rerr}
	}
	return g, nil
}

// tokenRequest turns an allowed decision into an explicit token request.
func tokenRequest(d policy.Decision) (string, github.TokenRequest, error) {
	if len(d.Permissions) == 0 {
		return "", github.TokenRequest{}, fmt.Errorf("rule %q grants no permissions: jitkey never mints a token without an explicit permissions map; add permissions to the rule's grant", d.Rule)
	}
	if len(d.Repositories) == 0 {
		return "", github.TokenRequest{}, fmt.Errorf("rule %q grants every repository and the request names none: set the repositories input to the repositories the job needs", d.Rule)
	}
	var owner string
	names := make([]string, 0, len(d.Repositories))
	for _, full := range d.Repositories {
		o, name, ok := strings.Cut(full, "/")
		if !ok || o == "" || name == "" {
			return "", github.TokenRequest{}, fmt.Errorf("granted repository %q is not owner/name", full)
		}
		if owner != "" && !strings.EqualFold(owner, o) {
			return "", github.TokenRequest{}, fmt.Errorf("the grant spans owners %s and %s: one installation token covers one owner; split the request", owner, o)
		}
		owner = o
		names = append(names, name)
	}
	sort.Strings(names)
	perms := make(map[string]string, len(d.Permissions))
	for k, v := range d.Permissions {
		perms[k] = v
	}
	return owner, github.TokenRequest{Repositories: names, Permissions: perms}, nil
}

// widerThanAsked reports a token whose scope exceeds the request (GitHub adds
// metadata:read on its own, which is allowed).
func widerThanAsked(req github.TokenRequest, tok *github.InstallationToken) string {
	for name, level := range tok.Permissions {
		asked, ok := req.Permissions[name]
		if name == "metadata" && level == "read" {
			continue
		}
		if !ok || !policy.LevelAtMost(level, asked) {
			return fmt.Sprintf("GitHub granted %s:%s, which was not asked for", name, level)
		}
	}
	if tok.RepositorySelection != "" && tok.RepositorySelection != "selected" {
		return fmt.Sprintf("GitHub granted repository selection %q instead of the %d repositories asked for", tok.RepositorySelection, len(req.Repositories))
	}
	asked := map[string]bool{}
	for _, r := range req.Repositories {
		asked[strings.ToLower(r)] = true
	}
	for _, r := range tok.Repositories {
		if !asked[strings.ToLower(r.Name)] {
			return fmt.Sprintf("GitHub granted repository %s, which was not asked for", r.FullName)
		}
	}
	return ""
}

var tokenInPartial = regexp.MustCompile(`"token"\s*:\s*"([^"\\]{8,})"`)

// lost turns a failed mint into the error to report. When the answer broke off
// after GitHub acted, a token may exist that jitkey cannot see: if the part
// that arrived holds it, it is revoked; either way the error says so.
func (m *Minter) lost(ctx context.Context, g *Grant, err error) error {
	class := github.ClassOf(err)
	var lostAns *github.LostAnswerError
	unknown := errors.As(err, &lostAns) || class == github.ClassInvalidAnswer || class == github.ClassNetwork || class == github.ClassServer
	if !unknown {
		return err
	}
	le := &LostTokenError{InstallationID: g.InstallationID, ExpiresBy: m.now().Add(time.Hour), Err: err}
	if lostAns != nil {
		if mm := tokenInPartial.FindSubmatch(lostAns.Partial); mm != nil {
			tok := github.Secret(mm[1])
			le.SHA256 = SHA256Hex(tok.Reveal())
			le.RevokeErr = m.revokeQuietly(ctx, tok)
			le.Recovered = true
		}
	}
	return le
}

func (m *Minter) revokeQuietly(ctx context.Context, tok github.Secret) error {
	_, err := m.Revoke(ctx, tok)
	return err
}
