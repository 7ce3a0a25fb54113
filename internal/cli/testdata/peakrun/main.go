//go:build linux || darwin

// Command peakrun runs a command and writes its wall time, CPU time and
// peak RSS to a file: "wall_us cpu_us maxrss" (maxrss as the system reports
// it: KiB on Linux, bytes on macOS). BenchmarkActionCycle measures each
// process through it because a process started by the benchmark itself
// cannot report its own peak: Go starts children with vfork semantics
// (CLONE_VM), and Linux records the parent's high-water RSS as the child's
// ru_maxrss at exec, so every child of the ~80 MiB test process would read
// as ~80 MiB. Started from this small process, the floor is its own few MiB.
//
// Usage: peakrun OUT CMD [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peakrun OUT CMD [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "peakrun:", err)
		os.Exit(2)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	out := fmt.Sprintf("%d %d %d\n", wall.Microseconds(), cpu.Microseconds(), rss)
	if werr := os.WriteFile(os.Args[1], []byte(out), 0o600); werr != nil {
		fmt.Fprintln(os.Stderr, "peakrun:", werr)
		os.Exit(2)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
