//go:build unix

package runstep

import (
	"os"
	"syscall"
	"time"
)

var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE}

// watchParent calls gone once the parent process has died, seen as a change
// of the parent process ID (an orphan is adopted by init or a subreaper).
func watchParent(gone func()) (stop func()) {
	ppid := os.Getppid()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(parentPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if os.Getppid() != ppid {
					gone()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
