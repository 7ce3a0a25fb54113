package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	gogithub "github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/github/rest"
	"github.com/jitkey/jitkey/internal/revocation"
)

// reviewWants is what a review asks of the installation: read on every kind,
// write where `/jitkey revoke` removes a credential, issues write. Each is
// capped by what the installation has; a permission it lacks is left out, and
// the kinds needing it are reported as not reviewed with the permission to add.
var reviewWants = map[string]string{
	"administration": "write", "secrets": "write", "dependabot_secrets": "write", "codespaces_secrets": "write",
	"repository_hooks": "write", "environments": "read", "issues": "write", "contents": "read", "metadata": "read",
	"organization_secrets": "write", "organization_dependabot_secrets": "write", "organization_codespaces_secrets": "write",
	"organization_personal_access_tokens": "write", "organization_administration": "write", "organization_hooks": "write",
	"members": "read", // an organisation owner's /jitkey revoke of an organisation credential
}

var reviewLevelRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// reviewPermissions caps reviewWants by the installation's permissions; a
// dry run asks for read only (and issues read).
func reviewPermissions(have map[string]string, dryRun bool) map[string]string {
	out := map[string]string{}
	for name, want := range reviewWants {
		lvl, ok := have[name]
		if !ok || reviewLevelRank[lvl] == 0 {
			continue
		}
		if dryRun {
			want = "read"
		}
		if reviewLevelRank[lvl] > reviewLevelRank[want] {
			lvl = want
		}
		out[name] = lvl
	}
	return out
}

// reviewClient authenticates as the GitHub App installed on the organisation
// (or on the first repository's owner) when an App is configured, minting an
// installation token for all its repositories with explicit permissions;
// else it uses a token from the environment. Requests go through
// internal/github's retrying, rate-limit-aware transport.
//
// The returned release func revokes the minted token (a no-op for a token
// from the environment): the review holds it no longer than it needs it.
// The identity is the login the review writes issues and comments as
// (reviewIdentity).
func reviewClient(ctx context.Context, env Env, a reviewAuth, org string, repos []string, dryRun bool) (*gogithub.Client, string, func(context.Context) error, error) {
	gh, id, release, err := reviewConnect(ctx, env, a, org, repos, dryRun)
	if err == nil && a.identity != "" {
		id = a.identity
	}
	return gh, id, release, err
}

func reviewConnect(ctx context.Context, env Env, a reviewAuth, org string, repos []string, dryRun bool) (*gogithub.Client, string, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	opts := github.Options{BaseURL: reviewFirst(a.apiURL, env.Getenv("GITHUB_API_URL")), Now: env.Now, UserAgent: "jitkey-review"}
	// The action's app-id and private-key inputs (command: review) serve as
	// well as the flags and variables; a key from an input is masked first.
	appID := reviewFirst(a.appID, env.Getenv("JITKEY_APP_ID"), action.Input(env.Getenv, "app-id"))
	if appID == "" {
		token := env.Getenv(a.tokenEnv)
		if token == "" {
			return nil, "", noop, fmt.Errorf("no credentials: configure a GitHub App (--app-id and --private-key-file, or JITKEY_APP_ID and JITKEY_APP_PRIVATE_KEY) or set %s", a.tokenEnv)
		}
		c, err := github.NewTokenClient(opts, token)
		if err != nil {
			return nil, "", noop, err
		}
		if a.identity != "" {
			return rest.Client(c), a.identity, noop, nil
		}
		id, err := reviewTokenIdentity(ctx, env, rest.Client(c), a.tokenEnv)
		return rest.Client(c), id, noop, err
	}
	key := []byte(env.Getenv("JITKEY_APP_PRIVATE_KEY"))
	if len(key) == 0 {
		if in := env.Getenv("INPUT_PRIVATE-KEY"); strings.TrimSpace(in) != "" {
			if env.Getenv("GITHUB_ACTIONS") == "true" {
				action.New(action.Options{Getenv: env.Getenv, Stdout: env.Stdout}).AddMask(in)
			}
			key = []byte(in)
		}
	}
	if a.keyFile != "" {
		path := a.keyFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.Dir, path)
		}
		var err error
		if key, err = os.ReadFile(path); err != nil {
			return nil, "", noop, fmt.Errorf("read App private key: %w", err)
		}
	}
	if len(key) == 0 {
		return nil, "", noop, errors.New("an App ID was given without a private key; set --private-key-file, JITKEY_APP_PRIVATE_KEY or the action's private-key input")
	}
	app, err := github.NewAppClient(opts, github.AppCredentials{ID: appID, PrivateKey: key})
	if err != nil {
		return nil, "", noop, err
	}
	inst, err := reviewInstallation(ctx, app, org, repos)
	if err != nil {
		return nil, "", noop, err
	}
	rt := &reviewToken{app: app, installation: inst.ID, perms: reviewPermissions(inst.Permissions, dryRun), now: env.Now, opts: opts}
	// The first token now, so that a key or permission problem fails the
	// review before it scans anything.
	if _, err := rt.token(ctx); err != nil {
		return nil, "", noop, err
	}
	c, err := github.NewRefreshingClient(opts, rt.token)
	if err != nil {
		return nil, "", noop, err
	}
	return rest.Client(c), inst.AppSlug + "[bot]", rt.revokeAll, nil
}

// reviewTokenIdentity is the login a token from the environment writes as:
// its user (GET /user); the runner's GITHUB_TOKEN, which cannot read
// /user, writes as github-actions[bot]. Any other token that cannot read
// /user (another App's installation token) must be named with --identity.
func reviewTokenIdentity(ctx context.Context, env Env, gh *gogithub.Client, tokenEnv string) (string, error) {
	u, _, err := gh.Users.Get(ctx, "")
	if err == nil && u.GetLogin() != "" {
		return u.GetLogin(), nil
	}
	if tokenEnv == "GITHUB_TOKEN" && env.Getenv("GITHUB_ACTIONS") == "true" {
		return "github-actions[bot]", nil
	}
	return "", fmt.Errorf("cannot tell which login the token in %s writes issues as (GET /user: %v); "+
		"name it with --identity LOGIN (an App's installation token writes as SLUG[bot]), or review with the App's ID and key", tokenEnv, err)
}

// reviewRefreshBefore is how long before its expiry the review token is
// replaced: longer than any request with its retries takes.
const reviewRefreshBefore = 10 * time.Minute

// reviewToken is the review's installation token, minted for all the
// installation's repositories with explicit permissions and re-minted before
// it expires, so a scan of a large organisation may outlast the hour a token
// lives. Every token it minted is revoked at the end.
type reviewToken struct {
	app          *github.Client
	installation int64
	perms        map[string]string
	now          func() time.Time
	opts         github.Options

	mu      sync.Mutex
	current github.Secret
	expires time.Time
	minted  []github.Secret
}

func (rt *reviewToken) token(ctx context.Context) (string, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.current != "" && rt.now().Before(rt.expires.Add(-reviewRefreshBefore)) {
		return rt.current.Reveal(), nil
	}
	var tok struct {
		Token     github.Secret `json:"token"`
		ExpiresAt time.Time     `json:"expires_at"`
	}
	// All the installation's repositories (no repository list: an
	// organisation may have more than the 500 a list allows), explicit permissions.
	body := map[string]any{"permissions": rt.perms}
	if _, err := rt.app.Do(github.RetrySafe(ctx), "mint the review token", http.MethodPost,
		fmt.Sprintf("app/installations/%d/access_tokens", rt.installation), body, &tok); err != nil {
		return "", err
	}
	rt.current, rt.expires = tok.Token, tok.ExpiresAt
	rt.minted = append(rt.minted, tok.Token)
	return rt.current.Reveal(), nil
}

// revokeAll revokes every token the review minted; one already expired or
// revoked counts as revoked.
func (rt *reviewToken) revokeAll(ctx context.Context) error {
	rt.mu.Lock()
	minted := rt.minted
	rt.minted, rt.current = nil, ""
	rt.mu.Unlock()
	clients := func(tok github.Secret) (revocation.TokenAPI, error) {
		return github.NewTokenClient(rt.opts, tok.Reveal())
	}
	var errs []error
	for _, tok := range minted {
		if _, err := revocation.Revoke(ctx, clients, tok); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func reviewInstallation(ctx context.Context, app *github.Client, org string, repos []string) (*github.Installation, error) {
	if org == "" {
		if len(repos) == 0 {
			return nil, fmt.Errorf("say which organisation or repository the App is installed on (--org or --repo)")
		}
		owner, name, _ := strings.Cut(repos[0], "/")
		return app.RepoInstallation(ctx, owner, name)
	}
	var inst github.Installation
	_, err := app.Do(ctx, "find the App installation for "+org, http.MethodGet, "orgs/"+url.PathEscape(org)+"/installation", nil, &inst)
	if err != nil {
		return nil, err
	}
	return &inst, nil
}

func reviewFirst(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
