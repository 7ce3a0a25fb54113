// Package mintstep is jitkey mint, the action's main step: who is asking,
// what the policies allow, mint exactly that, and hand it over masked. It
// serves `jitkey mint` and the jitkey-mint binary, which links only what a
// mint needs (the policy engine and GitHub's clients, not the review, the
// broker's ledgers and signers or the simulator), so the action's main step
// hashes and starts a binary of about half the size of jitkey's.
package mintstep

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/identity"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/runstep"
	"github.com/jitkey/jitkey/internal/source"
)

// mintFlags mirror the action's inputs for use outside Actions.
var mintFlags = []struct{ name, usage string }{
	{"app-id", "GitHub App ID"},
	{"client-id", "GitHub App client ID (instead of app-id)"},
	{"installation-id", "installation ID (skips the lookup: one API call fewer)"},
	{"owner", "account the repositories belong to (default: the calling repository's owner)"},
	{"repositories", "repositories to ask for, comma-separated (default: the rule's grant)"},
	{"permissions", "permissions to ask for, YAML map such as 'contents: read' (default: the rule's grant)"},
	{"policy", "unused: every repository's policy is its " + source.DefaultPath + "/ directory (kept for old workflows: a path inside it is accepted)"},
	{"policy-ref", "ref to read the calling repository's policy at (default: the default branch; refused unless the organisation policy allows it)"},
	{"audience", "OIDC audience (default " + action.DefaultAudience + ")"},
	{"github-api-url", "GitHub API base URL (default $GITHUB_API_URL or https://api.github.com/)"},
	{"require-oidc", "refuse to mint without a verified OIDC identity (true/false)"},
	{"audit-file", "append the audit record (one JSON line) to this file"},
}

// Main is the jitkey-mint process: the runtime tuned as jitkey's, every way
// the step can be stopped (runstep.StopContext) cancelling the mint (which
// then revokes), and the exit code to exit with. Its arguments are jitkey
// mint's.
func Main(args []string) int {
	runstep.TuneBatch()
	ctx, stop := runstep.StopContext(context.Background())
	defer stop()
	return Run(ctx, runstep.OSEnv(), args)
}

// Run is `jitkey mint`, the action's main step: who is asking, what the
// committed policy allows, mint exactly that, hand it over masked.
func Run(ctx context.Context, env runstep.Env, args []string) int {
	if helpAsked(args) {
		_, _ = mintConfig(env, []string{"-h"})
		return runstep.ExitOK
	}
	getenv, ok := mintConfig(env, args)
	if !ok {
		return runstep.ExitUsage
	}
	// The policy's schema builds on the second core while the job's identity
	// and the policy file come over the network.
	go policy.Prepare()
	st := newStep(env, getenv)
	in, err := action.ReadInputs(getenv, policy.ValidLevel)
	for _, s := range in.Secrets() { // before anything can print them
		st.A.AddMask(s)
	}
	if err == nil {
		err = checkPolicyInput(in.Policy)
	}
	if err != nil {
		st.fail("jitkey inputs invalid", err)
		return runstep.ExitUsage
	}
	return st.mint(ctx, in, action.Input(getenv, "audit-file"))
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			return true
		}
	}
	return false
}

// mintConfig parses the flags into an environment where each set flag stands
// for its input, so one validation serves both the action and the CLI.
func mintConfig(env runstep.Env, args []string) (func(string) string, bool) {
	fs := flag.NewFlagSet("jitkey mint", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	vals := map[string]*string{}
	for _, f := range mintFlags {
		vals[f.name] = fs.String(f.name, "", f.usage)
	}
	keyFile := fs.String("private-key-file", "", "file holding the App's PEM private key (or set $INPUT_PRIVATE-KEY)")
	repo := fs.String("repository", "", "calling repository owner/name when not in Actions (unverified)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: jitkey mint [flags]\n\nMint a policy-scoped GitHub App installation token. In GitHub Actions the\ninputs come from the step; flags mirror them. Outside Actions the outputs\nare printed to stdout as one JSON object, the token included.\n\nThe job's token (github-token input, or $GITHUB_TOKEN) reads the policy.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fmt.Fprintf(env.Stderr, "jitkey mint: unexpected argument %q\n", fs.Arg(0))
		}
		return nil, false
	}
	over := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if _, ok := vals[f.Name]; ok {
			over["INPUT_"+strings.ToUpper(f.Name)] = f.Value.String()
		}
	})
	if *keyFile != "" {
		data, err := os.ReadFile(runstep.AbsPath(env, *keyFile))
		if err != nil {
			fmt.Fprintf(env.Stderr, "jitkey mint: read --private-key-file: %v\n", err)
			return nil, false
		}
		over["INPUT_PRIVATE-KEY"] = string(data)
	}
	if *repo != "" {
		owner, _, _ := strings.Cut(*repo, "/")
		over["GITHUB_REPOSITORY"], over["GITHUB_REPOSITORY_OWNER"] = *repo, owner
	}
	return overlay(env.Getenv, over), true
}

func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return getenv(k)
	}
}

// checkPolicyInput refuses a policy input outside the policy directory:
// the policies that apply are the organisation's and each repository's
// .github/jitkey/ directory at the default branch, never a file the job
// chooses.
func checkPolicyInput(p string) error {
	if p == "" || p == source.DefaultPath || strings.HasPrefix(p, source.DefaultPath+"/") {
		return nil
	}
	return fmt.Errorf("input policy: %q is outside %s/: a repository's policy is its whole %s/ directory at the default branch, and the organisation policy caps it; remove the policy input", p, source.DefaultPath, source.DefaultPath)
}

// step is one run of mint: the runner contract (package runstep) and the
// mint step's own work.
type step struct {
	*runstep.Step
	// net is the network of every GitHub client of the step and of the
	// OIDC issuer's keys: one connection pool, so that the installation
	// lookup, the policy reads and the mint share connections (a TLS
	// handshake each otherwise).
	net        *http.Transport
	inFlight   bool     // a mint request was recorded as sent (see recordInFlight)
	readTokens []string // the policy-read tokens, for the post step (see keepReadToken)
}

func newStep(env runstep.Env, getenv func(string) string) *step {
	return &step{Step: runstep.New(env, getenv), net: github.NewNetTransport()}
}

func (st *step) fail(title string, err error) { st.Annotate(action.Error, title, errorText(err)) }

// errorText is an error's message, with the fix of a classified error.
func errorText(err error) string {
	var denied *mint.DeniedError
	if errors.As(err, &denied) {
		return "denied by policy: " + mint.Explain(denied.Decision)
	}
	return github.Redact(err.Error())
}

// mint runs the whole main step after the inputs are read.
func (st *step) mint(ctx context.Context, in action.Inputs, auditFile string) int {
	// The App's client comes first, so that the installation lookup runs
	// while the job's identity is established; a configuration error is
	// still reported after an identity error.
	m, src, early, cerr := st.minter(ctx, in)
	if early != nil {
		defer early.stop()
	}
	claims, issuer, err := st.whoAsks(ctx, in)
	if err != nil {
		st.fail("jitkey identity failed", err)
		st.recordFailure(mint.WithError(mint.NewRecord(st.Env.Now(), "mint", claims), err), auditFile)
		return runstep.ExitFindings
	}
	if cerr != nil {
		st.fail("jitkey configuration invalid", cerr)
		return runstep.ExitUsage
	}
	input := mint.Input{Claims: claims, Issuer: issuer, PolicyRef: in.PolicyRef, InstallationID: in.InstallationID,
		Request: policy.Request{Repositories: qualify(in.Repositories, in.Owner), Permissions: in.Permissions}}
	// The mint itself is not cut short by a cancellation: a token minted while
	// the answer is abandoned could not be revoked. It gets runstep.CancelGrace.
	mctx, stop := runstep.GraceContext(ctx, runstep.CancelGrace)
	defer stop()
	rec := mint.NewRecord(st.Env.Now(), "mint", claims)
	g, err := m.Mint(mctx, input)
	if err != nil {
		st.settleInFlight(err)
		code := st.mintFailed(rec, err, auditFile)
		st.closeSource(ctx, src, code)
		return code
	}
	code := st.deliver(ctx, m, g, rec, in, auditFile)
	st.closeSource(ctx, src, code)
	return code
}

// deliver hands a minted token over: mask, state, outputs, in that order and
// before anything else is printed; any failure, or a cancellation, revokes.
func (st *step) deliver(ctx context.Context, m *mint.Minter, g *mint.Grant, rec mint.Record, in action.Inputs, auditFile string) int {
	tok := g.Token.Reveal()
	st.A.AddMask(tok)
	exp := g.ExpiresAt.UTC().Format(time.RFC3339)
	err := firstErr(
		func() error { return st.SaveState(runstep.StateToken, tok) },
		func() error { return st.SaveState(runstep.StateExpiresAt, exp) },
		func() error { return st.SaveState(runstep.StateSHA, g.SHA256) },
		func() error { return st.SaveState(runstep.StateAPIURL, in.APIURL) },
		func() error { return st.SaveState(runstep.StateRule, g.Decision.Rule) },
		func() error { return st.SaveState(runstep.StateVerified, strconv.FormatBool(rec.Verified)) },
		func() error { return st.Output("token", tok) },
		func() error { return st.Output("expires-at", exp) },
		func() error { return st.Output("installation-id", strconv.FormatInt(g.InstallationID, 10)) },
		func() error { return st.Output("app-slug", g.AppSlug) },
		func() error { return st.Output("repositories", strings.Join(g.Repositories, ",")) },
		func() error { return st.Output("permissions", runstep.PermissionLines(g.Permissions)) },
		func() error { return st.Output("rule", g.Decision.Rule) },
		func() error { return st.Output("token-sha256", g.SHA256) },
	)
	rec = mint.WithGrant(rec, g)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = st.Audit(rec, auditFile)
	}
	if err != nil {
		return st.abort(ctx, m, g, rec, auditFile, err)
	}
	st.Summary(mintSummary(rec))
	st.Infof("jitkey: minted a token for %s: rule %q, %s on %s, expires %s (sha256 %s)",
		asker(rec), g.Decision.Rule, github.FormatPermissions(g.Permissions), strings.Join(g.Repositories, ", "), exp, mint.ShortSHA(g.SHA256))
	if !st.InActions {
		st.PrintOutputs()
	}
	return runstep.ExitOK
}

// abort revokes a token that cannot be handed over.
func (st *step) abort(ctx context.Context, m *mint.Minter, g *mint.Grant, rec mint.Record, auditFile string, cause error) int {
	rctx, stop := runstep.GraceContext(context.WithoutCancel(ctx), 20*time.Second)
	defer stop()
	out, rerr := m.Revoke(rctx, g.Token)
	what := "interrupted"
	if !errors.Is(cause, context.Canceled) {
		what = "failed: " + github.Redact(cause.Error())
	}
	rev := rec
	rev.Event, rev.Outcome = "revoke", string(out)
	if rerr != nil {
		st.Annotate(action.Warning, "jitkey token left valid",
			fmt.Sprintf("mint %s, and revoking the token failed: %s; token sha256 %s stays valid until %s",
				what, github.Redact(rerr.Error()), mint.ShortSHA(g.SHA256), g.ExpiresAt.UTC().Format(time.RFC3339)))
		rev = mint.WithError(rev, rerr)
	} else {
		st.Annotate(action.Error, "jitkey mint aborted", fmt.Sprintf("mint %s; the token (sha256 %s) was revoked", what, mint.ShortSHA(g.SHA256)))
	}
	st.recordFailure(rev, auditFile)
	st.Summary(fmt.Sprintf("### jitkey: token revoked at once\n\nThe step %s after minting; token `sha256:%s` %s.\n",
		what, mint.ShortSHA(g.SHA256), map[bool]string{true: "was revoked", false: "could **not** be revoked (expires " + g.ExpiresAt.UTC().Format(time.RFC3339) + ")"}[rerr == nil]))
	return runstep.ExitFindings
}

// mintFailed reports a denial or an error.
func (st *step) mintFailed(rec mint.Record, err error, auditFile string) int {
	rec = mint.WithError(rec, err)
	var denied *mint.DeniedError
	var lost *mint.LostTokenError
	switch {
	case errors.As(err, &denied):
		st.Annotate(action.Error, "jitkey mint denied", "denied by policy: "+denied.Decision.Reason)
		st.Infof("%s", mint.Explain(denied.Decision))
		st.Summary(denialSummary(rec, denied.Decision))
	case errors.As(err, &lost):
		st.Annotate(action.Warning, "jitkey token may be live", errorText(err))
		st.Summary("### jitkey: mint failed\n\n" + runstep.MdEscape(errorText(err)) + "\n")
	default:
		st.fail("jitkey mint failed ("+classTitle(err)+")", err)
		st.Summary("### jitkey: mint failed\n\n" + runstep.MdEscape(errorText(err)) + "\n")
	}
	st.recordFailure(rec, auditFile)
	return runstep.ExitFindings
}

func (st *step) recordFailure(rec mint.Record, auditFile string) {
	if err := st.Audit(rec, auditFile); err != nil {
		st.fail("jitkey audit failed", err)
	}
}

func classTitle(err error) string {
	if c := github.ClassOf(err); c != "" {
		return strings.ReplaceAll(string(c), "_", " ")
	}
	return "error"
}

// whoAsks returns verified OIDC claims and their token's issuer when the
// runner offers a job token, else the runner's environment, unverified
// (unless OIDC is required).
func (st *step) whoAsks(ctx context.Context, in action.Inputs) (policy.Claims, string, error) {
	env := identity.FromEnvironment(st.Getenv)
	if !st.A.OIDCAvailable() {
		if in.RequireOIDC {
			return env, "", fmt.Errorf("require-oidc is set: %w", action.ErrNoOIDC)
		}
		st.Infof("jitkey: no OIDC token offered (no 'id-token: write'): the identity comes from the runner environment and is unverified")
		return env, "", nil
	}
	// The issuer's keys are fetched while the token is requested (on a
	// runner, two round trips to the issuer fewer in a row).
	v, verr := st.verifier()
	if verr == nil {
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		v.Prefetch(pctx)
	}
	raw, err := st.A.IDToken(ctx, in.Audience)
	if err != nil {
		return env, "", fmt.Errorf("request the job's OIDC token: %w", err)
	}
	if verr != nil {
		return env, "", verr
	}
	id, err := v.Verify(ctx, raw, in.Audience)
	if err != nil {
		return env, "", fmt.Errorf("verify the job's OIDC token: %w", err)
	}
	return id.Claims, id.Issuer, nil
}

// verifier checks job tokens of the issuer of the GitHub the job runs on.
func (st *step) verifier() (*identity.Verifier, error) {
	issuer, err := identity.IssuerFor(st.Getenv("GITHUB_SERVER_URL"))
	if err != nil {
		return nil, err
	}
	return identity.NewVerifier(issuer, identity.Options{Now: st.Env.Now,
		HTTPClient: &http.Client{Transport: st.net, Timeout: 15 * time.Second}})
}

// minter builds the Minter: the App client, the policy source (which
// reads with a read-only token on the repositories read, recorded for the
// post step), and the token clients that revoke. The organisation accepts
// the issuer of the GitHub the job runs on unless its policy lists others.
// When the job's identity comes from an OIDC token, the installation lookup
// starts at once (see earlyLookup); the caller stops it.
func (st *step) minter(ctx context.Context, in action.Inputs) (*mint.Minter, *source.GitHub, *earlyLookup, error) {
	opts := st.ClientOptions(in.APIURL)
	opts.Transport = st.net
	id := in.AppID
	if id == "" {
		id = in.ClientID
	}
	app, err := github.NewAppClient(opts, github.AppCredentials{ID: id, PrivateKey: []byte(in.PrivateKey)})
	if err != nil {
		return nil, nil, nil, err
	}
	var api mint.AppAPI = app
	early := st.startEarly(ctx, app, in)
	if early != nil {
		api = early
	}
	src := source.NewGitHub(app, func(tok string) (source.TokenClient, error) { return github.NewTokenClient(opts, tok) },
		source.WithClock(st.Env.Now), source.WithHooks(source.Hooks{Asking: st.recordInFlight, Minted: st.keepReadToken}))
	opt := []mint.Option{mint.WithClock(st.Env.Now), mint.WithLogger(st.Log), mint.WithInFlight(st.recordInFlight)}
	if iss, err := identity.IssuerFor(st.Getenv("GITHUB_SERVER_URL")); err == nil {
		opt = append(opt, mint.WithDefaultIssuers(iss))
	}
	return mint.New(api, src, runstep.RevokeClients(opts), opt...), src, early, nil
}

// startEarly starts the installation lookup of the job's repository as the
// runner names it (or of the installation-id input) when the identity will
// come from an OIDC token, whose request and verification take network
// round trips of their own; nil otherwise.
func (st *step) startEarly(ctx context.Context, app mint.AppAPI, in action.Inputs) *earlyLookup {
	if !st.A.OIDCAvailable() {
		return nil
	}
	owner, repo, err := source.Split(identity.FromEnvironment(st.Getenv).Repository)
	if err != nil && in.InstallationID == 0 {
		return nil
	}
	return startLookup(ctx, app, owner, repo, in.InstallationID)
}

func firstErr(fns ...func() error) error {
	for _, f := range fns {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func qualify(repos []string, owner string) []string {
	if owner == "" {
		return repos
	}
	out := make([]string, len(repos))
	for i, r := range repos {
		if !strings.Contains(r, "/") {
			r = owner + "/" + r
		}
		out[i] = r
	}
	return out
}

func asker(r mint.Record) string {
	v := "unverified"
	if r.Verified {
		v = "verified by OIDC"
	}
	who := r.Actor
	if who == "" {
		who = "someone"
	}
	return fmt.Sprintf("%s on %s (%s)", who, r.Repository, v)
}

func mintSummary(r mint.Record) string {
	var b strings.Builder
	b.WriteString("### jitkey: token minted\n\n| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Asked by", runstep.MdEscape(asker(r)))
	ctx := r.Ref
	if r.Environment != "" {
		ctx += ", environment " + r.Environment
	}
	if r.WorkflowRef != "" {
		ctx += ", " + r.WorkflowRef
	}
	row("Job", runstep.MdEscape(ctx))
	row("Rule", "`"+runstep.MdEscape(r.Rule)+"`")
	row("Repositories", runstep.MdEscape(strings.Join(r.Repositories, ", ")))
	row("Permissions", runstep.MdEscape(github.FormatPermissions(r.Permissions)))
	if r.ExpiresAt != nil {
		row("Expires", r.ExpiresAt.Format(time.RFC3339))
	}
	row("Token SHA-256", "`"+r.TokenSHA256+"…`")
	return b.String()
}

func denialSummary(r mint.Record, d policy.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### jitkey: denied\n\n%s asked; %s\n", runstep.MdEscape(asker(r)), runstep.MdEscape(d.Reason))
	for _, nm := range d.NearMisses {
		fmt.Fprintf(&b, "\n- rule `%s` did not match:\n", runstep.MdEscape(nm.Rule))
		for _, f := range nm.Failed {
			fmt.Fprintf(&b, "  - %s\n", runstep.MdEscape(f))
		}
	}
	return b.String()
}
