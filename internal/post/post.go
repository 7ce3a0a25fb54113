// Package post is the action's post step: it revokes the token the main
// step minted, whatever way the job ended. It serves `jitkey revoke` and the
// jitkey-post binary, which links no policy engine and so starts in a
// fraction of the time of the full jitkey binary.
package post

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/audit"
	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/revocation"
	"github.com/jitkey/jitkey/internal/runstep"
)

// revokeBound is how long the revocation may take in all, inside the 60 s
// the post step allows, whatever GitHub does.
const revokeBound = 50 * time.Second

// Main is the jitkey-post process: every way the step can be stopped
// (runstep.StopContext) cancels it (the revocation keeps its grace), and the
// exit code to exit with. With the argument "exchange" it is the main step in
// broker mode instead (see Exchange).
func Main(args []string) int {
	ctx, stop := runstep.StopContext(context.Background())
	defer stop()
	if len(args) == 1 && args[0] == "exchange" {
		return Exchange(ctx, runstep.OSEnv())
	}
	return Run(ctx, runstep.OSEnv(), args)
}

// Run is `jitkey revoke` (and jitkey-post): it revokes the token the main
// step saved in the step state, or the token on stdin, and the policy-read
// tokens the main step listed in the step state (whether it minted, failed
// or was stopped). Nothing minted is success.
func Run(ctx context.Context, env runstep.Env, args []string) int {
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
			return runstep.ExitOK
		}
		return runstep.ExitUsage
	}
	st := runstep.New(env, env.Getenv)
	tok := st.A.State(runstep.StateToken)
	if *fromStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			st.Annotate(action.Error, "jitkey revoke failed", "read the token from stdin: "+github.Redact(err.Error()))
			return runstep.ExitUsage
		}
		tok = strings.TrimSpace(line)
	}
	st.A.AddMask(tok)
	reads := strings.Fields(st.A.State(runstep.StateReadTokens))
	for _, r := range reads {
		st.A.AddMask(r)
	}
	file := *auditFile
	if file == "" {
		file = action.Input(st.Getenv, "audit-file")
	}
	api := firstNonEmpty(*apiURL, st.A.State(runstep.StateAPIURL), action.Input(st.Getenv, "github-api-url"), st.Getenv("GITHUB_API_URL"))
	// A cancelled job still runs post steps; the revocations keep their own bound.
	rctx, stop := runstep.GraceContext(ctx, runstep.CancelGrace)
	defer stop()
	rctx, cancel := context.WithTimeout(rctx, revokeBound)
	defer cancel()
	// The policy-read tokens are revoked while the job's token is: each is
	// its own request to GitHub, so the step waits for one round trip, not
	// one per token. What became of them is reported after the job's token.
	// Their client logs nothing: the step's writers are the main
	// goroutine's, and a failure is reported with its cause below.
	readOpts := st.ClientOptions(api)
	readOpts.Logger = nil
	readsDone := make(chan []readRevocation, 1)
	go func() { readsDone <- revokeReadTokens(rctx, readOpts, reads) }()
	var code int
	if tok == "" {
		code = nothingRecorded(st, len(reads))
	} else {
		code = revokeThroughBroker(rctx, st, github.Secret(tok), audit.SHA256Hex(tok), st.A.State(runstep.StateBroker), api, file)
	}
	reportReadTokens(st, <-readsDone)
	return code
}

// readRevocation is what became of one policy-read token.
type readRevocation struct {
	sha string // short SHA-256, never the token
	out revocation.Outcome
	err error
}

// revokeReadTokens revokes the policy-read tokens the main step left (off
// the mint's path, and however the main step ended), all at once.
func revokeReadTokens(ctx context.Context, opts github.Options, toks []string) []readRevocation {
	res := make([]readRevocation, len(toks))
	var wg sync.WaitGroup
	for i, t := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := revocation.Revoke(ctx, runstep.RevokeClients(opts), github.Secret(t))
			res[i] = readRevocation{sha: audit.ShortSHA(audit.SHA256Hex(t)), out: out, err: err}
		}()
	}
	wg.Wait()
	return res
}

// reportReadTokens says, in the order the main step recorded them, what
// became of the policy-read tokens.
func reportReadTokens(st *runstep.Step, res []readRevocation) {
	for _, r := range res {
		if r.err != nil {
			st.Annotate(action.Warning, "jitkey policy-read token left valid",
				fmt.Sprintf("could not revoke the policy-read token sha256 %s (contents: read on the repositories whose policies were read; it expires within the hour): %s",
					r.sha, github.Redact(r.err.Error())))
			continue
		}
		what := "revoked"
		if r.out == revocation.AlreadyRevoked {
			what = "already revoked or expired"
		}
		st.Infof("jitkey: policy-read token sha256 %s %s", r.sha, what)
	}
}

// brokerBound is how long the post step waits for the broker before it
// revokes at GitHub itself.
const brokerBound = 15 * time.Second

// revokeThroughBroker revokes a token through the broker that minted it
// (broker empty: at GitHub, as in-job mode does). When the broker cannot be
// reached or fails, the token is revoked at GitHub with the token itself,
// and the step says that the broker's ledger missed it.
func revokeThroughBroker(ctx context.Context, st *runstep.Step, tok github.Secret, sha, broker, apiURL, auditFile string) int {
	var (
		out    revocation.Outcome
		err    error
		missed string
	)
	if broker != "" {
		out, err = viaBroker(ctx, broker, tok)
		if err != nil {
			missed = fmt.Sprintf("the broker %s did not revoke the token (%s): it was revoked at GitHub with the token itself, and the broker's ledger missed it (its sweeper finds it revoked)",
				broker, github.Redact(err.Error()))
		}
	}
	if broker == "" || err != nil {
		out, err = revocation.Revoke(ctx, runstep.RevokeClients(st.ClientOptions(apiURL)), tok)
	}
	if missed != "" && err == nil {
		st.Annotate(action.Warning, "jitkey broker missed the revocation", missed)
	}
	return report(st, out, err, sha, auditFile)
}

func viaBroker(ctx context.Context, broker string, tok github.Secret) (revocation.Outcome, error) {
	bctx, cancel := context.WithTimeout(ctx, brokerBound)
	defer cancel()
	c, err := brokerclient.New(broker, &http.Client{Transport: github.NewNetTransport(), Timeout: brokerBound})
	if err != nil {
		return revocation.Failed, err
	}
	ans, err := c.Revoke(bctx, tok)
	if err != nil {
		return revocation.Failed, err
	}
	return revocation.Outcome(ans.Outcome), nil
}

// report writes the revocation's outcome: log, summary, audit record.
func report(st *runstep.Step, out revocation.Outcome, err error, sha, auditFile string) int {
	exp := st.A.State(runstep.StateExpiresAt)
	if exp == "" {
		exp = "at most an hour after it was minted"
	}
	rec := audit.NewRecord(st.Env.Now(), "revoke", audit.Who{Repository: st.Getenv("GITHUB_REPOSITORY"), Actor: st.Getenv("GITHUB_ACTOR"), Ref: st.Getenv("GITHUB_REF"),
		// The record speaks of the token's identity, as mint saw it.
		Verified: st.A.State(runstep.StateVerified) == "true"})
	rec.Rule = st.A.State(runstep.StateRule)
	rec.TokenSHA256 = audit.ShortSHA(sha)
	if t, perr := time.Parse(time.RFC3339, exp); perr == nil {
		rec.ExpiresAt = &t
	}
	if err != nil {
		text := github.Redact(err.Error())
		rec = rec.WithError(err)
		st.Annotate(action.Warning, "jitkey token left valid",
			fmt.Sprintf("could not revoke token sha256 %s (expires %s): %s", audit.ShortSHA(sha), exp, text))
		st.Summary(fmt.Sprintf("\n**jitkey:** token `sha256:%s…` could **not** be revoked; it expires %s. %s\n", audit.ShortSHA(sha), exp, runstep.MdEscape(text)))
		if aerr := st.Audit(rec, auditFile); aerr != nil {
			st.Annotate(action.Error, "jitkey audit failed", github.Redact(aerr.Error()))
		}
		return runstep.ExitOK
	}
	rec.Outcome = string(out)
	what := "revoked"
	if out == revocation.AlreadyRevoked {
		what = "already revoked or expired"
	}
	st.Summary(fmt.Sprintf("\n**jitkey:** token `sha256:%s…` %s at %s.\n", audit.ShortSHA(sha), what, st.Env.Now().UTC().Format(time.RFC3339)))
	st.Infof("jitkey: token sha256 %s %s", audit.ShortSHA(sha), what)
	if err := st.Audit(rec, auditFile); err != nil {
		st.Annotate(action.Error, "jitkey audit failed", github.Redact(err.Error()))
		return runstep.ExitFindings
	}
	return runstep.ExitOK
}

// nothingRecorded reports a main step that recorded no token: either no
// mint was asked for, or one was in flight when the step ended, and GitHub
// may have created a token the step never received.
func nothingRecorded(st *runstep.Step, reads int) int {
	f := st.A.State(runstep.StateInFlight)
	switch {
	case f == "" && reads == 0:
		st.Infof("jitkey revoke: nothing to revoke (no token was minted)")
		return runstep.ExitOK
	case f == "":
		st.Infof("jitkey revoke: no token was minted for the job; revoking the policy-read tokens")
		return runstep.ExitOK
	}
	exp := st.A.State(runstep.StateInFlightExpiresBy)
	msg := fmt.Sprintf("a mint was in flight (%s) when the main step ended, and the step recorded no token: a token may be live until %s. "+
		"jitkey cannot revoke a token it never received; the main step's log has the line \"jitkey: asking GitHub for a token\" for this mint", f, exp)
	st.Annotate(action.Warning, "jitkey token may be live", msg)
	st.Summary("\n**jitkey:** " + runstep.MdEscape(msg) + "\n")
	return runstep.ExitOK
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
