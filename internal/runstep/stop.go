package runstep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"
)

// ErrParentGone is the cause of a stop when the process that started the
// step (the action's launcher) has died: the runner killed it, or the runner
// itself is gone.
var ErrParentGone = errors.New("the step's launcher died")

// parentPoll is how often the parent's life is checked where the system
// offers no notification.
const parentPoll = 100 * time.Millisecond

// StopContext is cancelled when the step is told to stop, whichever way: the
// runner's cancel (SIGINT, then SIGTERM), the end of the step's terminal
// (SIGHUP: act kills the launcher, and the pty hangs up), a reader of its
// output gone (SIGPIPE), console events on Windows, or the death of the
// parent process. context.Cause says which. Without it, SIGHUP or SIGPIPE
// would end the process before a mint could revoke what it minted.
func StopContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	stopParent := watchParent(func() { cancel(ErrParentGone) })
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			// The first signal is a stop: what is under way (a mint's
			// revocation) finishes within its grace. A second one takes the
			// signal's default action and ends the process at once, so the
			// handler goes before anyone can see the stop: a second signal
			// sent once the first was seen must not land in this channel.
			signal.Stop(sigs)
			cancel(fmt.Errorf("signal %v", s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		stopParent()
		close(done)
		cancel(context.Canceled)
	}
}
