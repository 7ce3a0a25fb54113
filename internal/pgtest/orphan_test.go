package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOrphanHelper is not a test: run as a child process with
// JITKEY_PGTEST_ORPHAN set to a file, it starts a cluster, writes the
// cluster's directory and the server's PID there, and dies without Stop,
// as a test binary does when it panics or times out.
func TestOrphanHelper(t *testing.T) {
	out := os.Getenv("JITKEY_PGTEST_ORPHAN")
	if out == "" {
		t.Skip("a helper process for TestClusterDiesWithItsTestBinary")
	}
	c := New()
	c.Database(t)
	pid, err := postmasterPID(c.dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(out, []byte(c.dir+"\n"+strconv.Itoa(pid)), 0o600))
	os.Exit(2) // no Stop, no cleanup
}

// TestClusterDiesWithItsTestBinary: a test binary that dies without Stop
// (a panic, go test's timeout, a kill) does not leave its PostgreSQL
// server running, nor its directory behind.
func TestClusterDiesWithItsTestBinary(t *testing.T) {
	if strings.EqualFold(os.Getenv("JITKEY_TEST_POSTGRES"), "off") {
		t.Skip("PostgreSQL tests skipped: JITKEY_TEST_POSTGRES=off")
	}
	t.Parallel()
	out := filepath.Join(t.TempDir(), "cluster")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanHelper$")
	cmd.Env = append(os.Environ(), "JITKEY_PGTEST_ORPHAN="+out)
	b, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the helper dies with exit 2: %s", b)
	got, err := os.ReadFile(out)
	require.NoError(t, err, "the helper started no cluster: %s", b)
	dir, pidText, _ := strings.Cut(string(got), "\n")
	pid, err := strconv.Atoi(pidText)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
		return os.IsNotExist(err)
	}, 20*time.Second, 50*time.Millisecond, "the orphaned server (PID %d) still runs", pid)
	require.Eventually(t, func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err)
	}, 20*time.Second, 50*time.Millisecond, "the orphaned cluster's directory %s is left", dir)
}
