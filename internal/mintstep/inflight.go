package mintstep

import (
	"errors"
	"time"

	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/runstep"
)

// recordInFlight keeps, before the mint request is sent, what an operator
// needs to find a token the step may never see (the step can be killed while
// GitHub's answer is on its way): in the step state for the post step, and in
// the log.
func (st *step) recordInFlight(f mint.InFlight) error {
	exp := f.ExpiresBy.UTC().Format(time.RFC3339)
	st.inFlight = true
	st.Infof("jitkey: asking GitHub for a token: %s; if this step is stopped before the answer, a token may be live until %s", f, exp)
	return firstErr(
		func() error { return st.SaveState(runstep.StateInFlight, f.String()) },
		func() error { return st.SaveState(runstep.StateInFlightExpiresBy, exp) },
	)
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
