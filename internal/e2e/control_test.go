//go:build unix

package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/secretscan"
)

// TestLeakIsCaught runs a job that prints an unmasked token-shaped value and
// checks that the same capture and scan the lifecycle tests use catch it.
func TestLeakIsCaught(t *testing.T) {
	t.Parallel()
	act := requireAct(t)
	root := repoRoot(t)
	ws := t.TempDir()
	copyFile(t, filepath.Join(root, "testdata", "e2e", "control.yml"), filepath.Join(ws, ".github", "workflows", "control.yml"))
	res := run(t, act, ws, "control.yml", actRun{Job: "leak"})
	require.Zero(t, res.ExitCode)

	leaked := "ghs_" + strings.Repeat("A", 36)
	require.Contains(t, res.Output, leaked, "the control job should print the value")
	found := secretscan.Scan(res.Output)
	require.NotEmpty(t, found, "secretscan missed a token in act's output")
	assert.Equal(t, secretscan.KindGitHub, found[0].Kind)
}
