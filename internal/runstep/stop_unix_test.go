//go:build unix

package runstep_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/runstep"
)

// TestStopHelper is not a test: run as a child process with
// JITKEY_STOP_HELPER set to a file, it waits for runstep.StopContext and
// writes what stopped it there.
func TestStopHelper(t *testing.T) {
	out := os.Getenv("JITKEY_STOP_HELPER")
	if out == "" {
		t.Skip("a helper process for TestStopContext")
	}
	ctx, stop := runstep.StopContext(context.Background())
	defer stop()
	require.NoError(t, os.WriteFile(out+".ready", nil, 0o600))
	select {
	case <-ctx.Done():
	case <-time.After(30 * time.Second):
	}
	cause := context.Cause(ctx)
	what := fmt.Sprint(cause)
	if errors.Is(cause, runstep.ErrParentGone) {
		what = "parent gone"
	}
	require.NoError(t, os.WriteFile(out, []byte(what), 0o600))
	if os.Getenv("JITKEY_STOP_HELPER_HANG") != "" {
		time.Sleep(30 * time.Second) // a revocation that does not end
	}
}

// TestSecondSignalExitsAtOnce: after a first SIGINT the process winds down
// (within its grace); a second ends it at once, however long that takes.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "stopped")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopHelper$")
	cmd.Env = append(os.Environ(), "JITKEY_STOP_HELPER="+out, "JITKEY_STOP_HELPER_HANG=1")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool { _, err := os.Stat(out + ".ready"); return err == nil }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	require.Eventually(t, func() bool { _, err := os.Stat(out); return err == nil }, 10*time.Second, 10*time.Millisecond)
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the second SIGINT ends the process")
	assert.Less(t, time.Since(start), 5*time.Second, "at once, not after the 30 s the process was still busy")
}

// TestStopContext stops a process each way a step can be stopped and checks
// the process saw it as a stop, and lived to act on it.
func TestStopContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(t *testing.T, helper, shell *os.Process)
		want string
	}{
		{"SIGINT", func(t *testing.T, h, _ *os.Process) { require.NoError(t, h.Signal(syscall.SIGINT)) }, "signal interrupt"},
		{"SIGTERM", func(t *testing.T, h, _ *os.Process) { require.NoError(t, h.Signal(syscall.SIGTERM)) }, "signal terminated"},
		{"SIGHUP", func(t *testing.T, h, _ *os.Process) { require.NoError(t, h.Signal(syscall.SIGHUP)) }, "signal hangup"},
		{"SIGPIPE", func(t *testing.T, h, _ *os.Process) { require.NoError(t, h.Signal(syscall.SIGPIPE)) }, "signal broken pipe"},
		{"the parent killed", func(t *testing.T, _, sh *os.Process) { require.NoError(t, sh.Kill()) }, "parent gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "stopped")
			// The helper's parent is a shell, so the test can kill the
			// parent alone; the shell prints the helper's PID.
			sh := exec.Command("/bin/sh", "-c", `"$0" -test.run='^TestStopHelper$' & echo $!; wait`, os.Args[0])
			sh.Env = append(os.Environ(), "JITKEY_STOP_HELPER="+out)
			pidOut, err := sh.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, sh.Start())
			t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
			var pid int
			_, err = fmt.Fscan(pidOut, &pid)
			require.NoError(t, err)
			helper, err := os.FindProcess(pid)
			require.NoError(t, err)
			t.Cleanup(func() { _ = helper.Kill() })
			require.Eventually(t, func() bool { _, err := os.Stat(out + ".ready"); return err == nil }, 20*time.Second, 10*time.Millisecond)

			tt.stop(t, helper, sh.Process)
			require.Eventually(t, func() bool { _, err := os.Stat(out); return err == nil }, 10*time.Second, 10*time.Millisecond,
				"the helper did not live to say what stopped it")
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, tt.want, strings.TrimSpace(string(got)))
		})
	}
}
