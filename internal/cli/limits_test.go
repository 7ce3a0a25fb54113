package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowPolicy is a few hundred bytes of CUE whose evaluation grows with n²;
// n = 60 finishes within a second, so the evaluation a bound abandons does
// not outlive the test for long.
func slowPolicy(n int) string {
	return fmt.Sprintf("import \"list\"\napiVersion: \"jitkey.dev/v1\"\n"+
		"x: [for a in list.Range(0,%d,1) for b in list.Range(0,%d,1) {a*b}]\n", n, n)
}

func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: dir}
	code := Run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// TestEvalLimitFlags checks that --eval-timeout and --eval-memory bound
// the evaluation for validate, test and explain: a policy that evaluates
// longer than the deadline is a usage error naming the file, a generous
// bound changes nothing, and a bad value is refused.
func TestEvalLimitFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "slow"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "slow", "slow.cue"), []byte(slowPolicy(60)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "claims.json"), []byte(`{"repository":"acme/api"}`), 0o644))
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	tests := []struct {
		name     string
		dir      string
		args     []string
		code     int
		stderr   string
		stdoutIn string
	}{
		{name: "validate past its deadline", dir: dir, args: []string{"validate", "--eval-timeout", "1ms", "slow"}, code: ExitUsage,
			stderr: "policy slow/slow.cue: the policy took longer than 1ms to evaluate; simplify it"},
		{name: "test past its deadline", dir: dir, args: []string{"test", "--eval-timeout", "1ms", "slow"}, code: ExitUsage,
			stderr: "policy slow/slow.cue: the policy took longer than 1ms to evaluate"},
		{name: "explain past its deadline", dir: dir, args: []string{"explain", "--claims", "claims.json", "--policy", "slow", "--eval-timeout=1ms"}, code: ExitUsage,
			stderr: "policy slow/slow.cue: the policy took longer than 1ms to evaluate"},
		{name: "generous bounds on the policy tree", dir: root, args: []string{"validate", "--eval-timeout", "2m", "--eval-memory", "2048", "policies"}, code: ExitOK,
			stdoutIn: "0 errors"},
		{name: "no bounds", dir: root, args: []string{"test", "--eval-timeout", "0", "--eval-memory", "0", "policies"}, code: ExitOK,
			stdoutIn: "passed, 0 failed"},
		{name: "a negative deadline", dir: dir, args: []string{"validate", "--eval-timeout", "-1s", "slow"}, code: ExitUsage,
			stderr: "--eval-timeout -1s: give a duration such as 10s"},
		{name: "not a duration", dir: dir, args: []string{"test", "--eval-timeout", "ten", "slow"}, code: ExitUsage,
			stderr: `invalid value "ten" for flag -eval-timeout`},
		{name: "memory beyond reason", dir: dir, args: []string{"explain", "--claims", "claims.json", "--policy", "slow", "--eval-memory", "99999999"}, code: ExitUsage,
			stderr: "--eval-memory 99999999: give MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runIn(t, tt.dir, tt.args...)
			assert.Equal(t, tt.code, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			assert.Contains(t, stderr, tt.stderr)
			assert.Contains(t, stdout, tt.stdoutIn)
		})
	}
}
