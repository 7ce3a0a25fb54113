//go:build windows

package runstep

import (
	"os"
	"syscall"
)

// On Windows, os.Interrupt is CTRL_C and CTRL_BREAK; SIGTERM stands for the
// console's close, logoff and shutdown events.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// watchParent calls gone once the parent process has exited, waiting on a
// handle to it (Windows keeps the parent's ID after it exits, so the ID
// cannot tell).
func watchParent(gone func()) (stop func()) {
	h, err := syscall.OpenProcess(syscall.SYNCHRONIZE, false, uint32(os.Getppid()))
	if err != nil {
		return func() {} // the parent is already gone, or cannot be watched
	}
	done := make(chan struct{})
	go func() {
		defer syscall.CloseHandle(h) //nolint:errcheck // nothing to do about it
		ev, _ := syscall.WaitForSingleObject(h, syscall.INFINITE)
		select {
		case <-done:
		default:
			if ev == syscall.WAIT_OBJECT_0 {
				gone()
			}
		}
	}()
	return func() { close(done) }
}
