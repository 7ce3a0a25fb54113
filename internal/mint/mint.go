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
	"github.com/jitkey/jitkey/internal/source"
)

// AppAPI is what the Minter needs from a client authenticated as the App.
type AppAPI interface {
	RepoInstallation(ctx context.Context, owner, repo string) (*github.Installation, error)
	AppInstallation(ctx context.Context, id int64) (*github.Installation, error)
	CreateInstallationToken(ctx context.Context, installationID int64, req github.TokenRequest) (*github.InstallationToken, error)
}

// TokenAPI is a client authenticated with the minted token itself.
type TokenAPI = revocation.TokenAPI

// TokenClientFunc builds a TokenAPI for a token.
type TokenClientFunc = revocation.ClientFunc

// Minter decides and mints policy-scoped installation tokens, and revokes
// them. The action's mint step and the broker both call Mint.
type Minter struct {
	app      AppAPI
	src      source.Reader
	eval     Evaluator
	tokens   TokenClientFunc
	now      func() time.Time
	log      *slog.Logger
	inFlight func(InFlight) error
	issuers  []string // accepted when the organisation policy lists none
}

// Option configures a Minter.
type Option func(*Minter)

// WithClock sets the clock used for audit records and expiry checks.
func WithClock(now func() time.Time) Option { return func(m *Minter) { m.now = now } }

// WithLogger sets the logger for diagnostics (never credentials).
func WithLogger(l *slog.Logger) Option { return func(m *Minter) { m.log = l } }

// WithEvaluator sets how policy files are evaluated (default InProcess).
func WithEvaluator(e Evaluator) Option { return func(m *Minter) { m.eval = e } }

// New returns a Minter: app finds installations and mints, src reads the
// policies (source.GitHub, or a source.Cache around it), tokens revoke.
// app and src may be nil for a Minter that only revokes.
func New(app AppAPI, src source.Reader, tokens TokenClientFunc, opts ...Option) *Minter {
	m := &Minter{app: app, src: src, eval: InProcess{}, tokens: tokens, now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Input is one mint request.
type Input struct {
	Claims  policy.Claims
	Request policy.Request
	// PolicyRef is the ref to read the caller's policy at, "" for the
	// default branch; any other ref is refused unless the organisation
	// policy allows it (organization.policy_refs).
	PolicyRef string
	// InstallationID, when not zero, is checked (GET /app/installations/{id})
	// to be the App's installation on the caller's owner.
	InstallationID int64
	// OrgPolicy is where the organisation policy lives; zero:
	// OWNER/.github, directory .github/jitkey (source.OrgLocation).
	OrgPolicy source.Location
	// Issuer is the issuer of the OIDC token the verified Claims came
	// from; the organisation policy must accept it (organization.issuers).
	Issuer string
}

// Grant is a minted token and what it may do.
type Grant struct {
	Token          github.Secret
	SHA256         string // hex SHA-256 of the token
	ExpiresAt      time.Time
	InstallationID int64
	AppSlug        string
	Owner          string
	Repositories   []string // "owner/name", sorted
	Permissions    map[string]string
	Decision       policy.Decision
	// Policies lists the policy directories read (the organisation's
	// first), each with its ref and commit; PolicyRef the ref asked for.
	Policies  []PolicyRead
	PolicyRef string
}

// PolicySHA is the organisation policy's commit.
func (g *Grant) PolicySHA() string { return Decided{Policies: g.Policies}.PolicySHA() }

// Mint decides and, when allowed, mints: the installation lookup, the
// policies read (a read token on the repositories read and one query), and
// the mint: four calls for a request the first read covers. The read token
// is left to the source's owner to revoke (see source.GitHub). A denial is
// a *DeniedError and mints nothing.
func (m *Minter) Mint(ctx context.Context, in Input) (*Grant, error) {
	d, err := m.Decide(ctx, in)
	if err != nil {
		return nil, err
	}
	if !d.Decision.Allowed {
		return nil, &DeniedError{Decision: d.Decision, Policies: d.Policies}
	}
	return m.MintDecided(ctx, d)
}

// MintDecided mints what an allowed decision grants, on the installation
// the decision checked, and checks GitHub's answer before returning it: a
// token wider than asked, or on repositories of another owner or with
// other IDs than the policies read, is revoked and refused.
func (m *Minter) MintDecided(ctx context.Context, d Decided) (*Grant, error) {
	owner, req, err := tokenRequest(d.Decision)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(owner, d.Owner) {
		return nil, &github.Error{Class: github.ClassOwnerMismatch, Op: "mint",
			Message: fmt.Sprintf("the grant is on %s's repositories, but the installation checked is %s's; nothing was minted", owner, d.Owner),
			Fix:     github.FixFor(github.ClassOwnerMismatch)}
	}
	g := &Grant{InstallationID: d.InstallationID, AppSlug: d.AppSlug, Owner: owner, Decision: d.Decision,
		Policies: d.Policies, PolicyRef: d.PolicyRef, Permissions: req.Permissions}
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
	if other := otherOwner(owner, d.IDs, tok); other != "" {
		rerr := m.revokeQuietly(ctx, g.Token)
		return nil, &ScopeMismatchError{Class: github.ClassOwnerMismatch, Detail: other, SHA256: g.SHA256, ExpiresAt: g.ExpiresAt, RevokeErr: rerr}
	}
	return g, nil
}

// otherOwner reports a token on a repository of another owner than the
// grant's, or with another ID than the repository whose policy was read.
func otherOwner(owner string, ids map[string]int64, tok *github.InstallationToken) string {
	for _, r := range tok.Repositories {
		o, _, _ := strings.Cut(r.FullName, "/")
		if r.Owner.Login != "" {
			o = r.Owner.Login
		}
		if !strings.EqualFold(o, owner) {
			return fmt.Sprintf("GitHub minted the token on %s, of owner %s, but the grant is on %s's repositories (installation_owner_mismatch)", r.FullName, o, owner)
		}
		if want := ids[strings.ToLower(owner+"/"+r.Name)]; want != 0 && r.ID != 0 && r.ID != want {
			return fmt.Sprintf("GitHub minted the token on %s with repository ID %d, but the policies read were for ID %d (renamed or re-created meanwhile)", r.FullName, r.ID, want)
		}
	}
	return ""
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
	return tok.BeyondRepositories(req.Repositories)
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
