package mintstep

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/github"
	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/runstep"
	"github.com/jitkey/jitkey/internal/source"
)

// recordInFlight keeps, before a token request is sent (the policy-read
// token's, then the job's), what an operator needs to find a token the step
// may never see (the step can be killed while GitHub's answer is on its
// way): in the step state for the post step, and in the log.
func (st *step) recordInFlight(f github.TokenInFlight) error {
	exp := f.ExpiresBy.UTC().Format(time.RFC3339)
	st.inFlight = true
	what, plain := "a token", f
	if f.What != "" {
		what, plain.What = "a "+f.What, ""
	}
	st.Infof("jitkey: asking GitHub for %s: %s; if this step is stopped before the answer, a token may be live until %s", what, plain, exp)
	return firstErr(
		func() error { return st.SaveState(runstep.StateInFlight, f.String()) },
		func() error { return st.SaveState(runstep.StateInFlightExpiresBy, exp) },
	)
}

// keepReadToken hands a policy-read token to the post step as soon as it
// arrives, before it is used: masked, then added to the step state (the
// post step revokes every token listed there), and the request it answered
// is no longer in flight.
func (st *step) keepReadToken(rt source.ReadToken) error {
	st.A.AddMask(rt.Token.Reveal())
	st.readTokens = append(st.readTokens, rt.Token.Reveal())
	if err := st.SaveState(runstep.StateReadTokens, strings.Join(st.readTokens, " ")); err != nil {
		return err
	}
	st.inFlight = false
	return st.SaveState(runstep.StateInFlight, "")
}

// settleInFlight clears the in-flight record (if any) once a failed mint is
// known to have left no live token.
func (st *step) settleInFlight(err error) {
	var lost *mint.LostTokenError
	var wide *mint.ScopeMismatchError
	switch {
	case !st.inFlight:
		return // no mint request was sent
	case errors.As(err, &lost) && (!lost.Recovered || lost.RevokeErr != nil):
		return // a token may be live: the post step says so too
	case errors.As(err, &wide) && wide.RevokeErr != nil:
		return
	}
	_ = st.SaveState(runstep.StateInFlight, "") // at worst, post warns of a token that may be live
}

// closeSource ends the policy-read tokens' part in the main step. After a
// token was handed over in Actions they are the post step's to revoke (off
// the mint's path). Otherwise the main step revokes them itself, even when
// cancelled: outside Actions there is no post step, and after a failure or
// a stop the sooner the better (the post step revokes what is left listed).
func (st *step) closeSource(ctx context.Context, src *source.GitHub, code int) {
	if code == runstep.ExitOK && st.InActions {
		return
	}
	rctx, stop := runstep.GraceContext(context.WithoutCancel(ctx), 20*time.Second)
	defer stop()
	if err := src.Close(rctx); err != nil {
		st.Annotate(action.Warning, "jitkey policy-read token left valid", "revoking the read-only token that read the policies failed: "+
			github.Redact(err.Error())+"; it can read the policies' repositories until it expires within the hour (the post step tries again)")
		return
	}
	if len(st.readTokens) > 0 {
		st.readTokens = nil
		_ = st.SaveState(runstep.StateReadTokens, "")
	}
}
