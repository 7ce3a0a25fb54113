package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
)

// revokeBound is how long jitkey revoke may take in all, inside the 60 s the
// issue allows, whatever GitHub does.
const revokeBound = 50 * time.Second

// runRevoke is `jitkey revoke`, the action's post step: it revokes the token
// main saved in the step state. Nothing minted is success.
func runRevoke(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("jitkey revoke", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fromStdin := fs.Bool("token-stdin", false, "read the token to revoke from stdin (outside Actions)")
	apiURL := fs.String("github-api-url", "", "GitHub API base URL (default: the one mint used, $GITHUB_API_URL, or https://api.github.com/)")
	auditFile := fs.String("audit-file", "", "append the audit record (one JSON line) to this file")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: jitkey revoke [flags]\n\nRevoke the token jitkey mint saved in the step state (the action's post step),\nor the token on stdin. A token already revoked or expired counts as revoked.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	st := newStep(env, env.Getenv)
	tok := st.a.State(stateToken)
	if *fromStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			st.fail("jitkey revoke failed", fmt.Errorf("read the token from stdin: %w", err))
			return ExitUsage
		}
		tok = strings.TrimSpace(line)
	}
	st.a.AddMask(tok)
	file := *auditFile
	if file == "" {
		file = action.Input(st.getenv, "audit-file")
	}
	if tok == "" {
		st.infof("jitkey revoke: nothing to revoke (no token was minted)")
		return ExitOK
	}
	return st.revoke(ctx, tok, firstNonEmpty(*apiURL, st.a.State(stateAPIURL), action.Input(st.getenv, "github-api-url"), st.getenv("GITHUB_API_URL")), file)
}

func (st *step) revoke(ctx context.Context, tok, apiURL, auditFile string) int {
	sha := mint.SHA256Hex(tok)
	exp := st.a.State(stateExpiresAt)
	if exp == "" {
		exp = "at most an hour after it was minted"
	}
	// A cancelled job still runs post steps; the revoke keeps its own bound.
	rctx, stop := graceContext(ctx, cancelGrace)
	defer stop()
	rctx, cancel := context.WithTimeout(rctx, revokeBound)
	defer cancel()
	m := mint.New(nil, nil, revokeClients(st.clientOptions(apiURL)), mint.WithClock(st.env.Now), mint.WithLogger(st.log))
	out, err := m.Revoke(rctx, github.Secret(tok))
	rec := mint.NewRecord(st.env.Now(), "revoke", policyClaims(st))
	rec.TokenSHA256 = mint.ShortSHA(sha)
	// The record speaks of the token's identity, as mint saw it.
	rec.Rule, rec.Verified = st.a.State(stateRule), st.a.State(stateVerified) == "true"
	if t, perr := time.Parse(time.RFC3339, exp); perr == nil {
		rec.ExpiresAt = &t
	}
	if err != nil {
		rec = rec.WithError(err)
		st.annotate(action.Warning, "jitkey token left valid",
			fmt.Sprintf("could not revoke token sha256 %s (expires %s): %s", mint.ShortSHA(sha), exp, errorText(err)))
		st.summary(fmt.Sprintf("\n**jitkey:** token `sha256:%s…` could **not** be revoked; it expires %s. %s\n", mint.ShortSHA(sha), exp, mdEscape(errorText(err))))
		st.recordFailure(rec, auditFile)
		return ExitOK
	}
	rec.Outcome = string(out)
	what := "revoked"
	if out == mint.AlreadyRevoked {
		what = "already revoked or expired"
	}
	st.summary(fmt.Sprintf("\n**jitkey:** token `sha256:%s…` %s at %s.\n", mint.ShortSHA(sha), what, st.env.Now().UTC().Format(time.RFC3339)))
	st.infof("jitkey: token sha256 %s %s", mint.ShortSHA(sha), what)
	if err := st.audit(rec, auditFile); err != nil {
		st.fail("jitkey audit failed", err)
		return ExitFindings
	}
	return ExitOK
}

// policyClaims is who runs the post step, from the runner environment.
func policyClaims(st *step) policy.Claims {
	return policy.Claims{Repository: st.getenv("GITHUB_REPOSITORY"), Actor: st.getenv("GITHUB_ACTOR"), Ref: st.getenv("GITHUB_REF")}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
