package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
)

// TestValidatePathOutsideTheRepository: a path given explicitly is checked
// wherever it is, as cue vet and conftest do, not refused for lying outside
// the working directory.
func TestValidatePathOutsideTheRepository(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	other := filepath.Join(base, "elsewhere", "policies")
	require.NoError(t, os.MkdirAll(repo, 0o755))
	require.NoError(t, os.MkdirAll(other, 0o755))
	good, err := os.ReadFile(filepath.Join(repoRoot, "policies", "acme", "api", "deploy.cue"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(other, "deploy.cue"), good, 0o600))
	bad := filepath.Join(base, "elsewhere", "bad", "policy.cue")
	require.NoError(t, os.MkdirAll(filepath.Dir(bad), 0o755))
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: \"jitkey.dev/v1\"\nrules: [{name: \"Bad Name\"}]\n"), 0o600))

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"absolute directory", []string{"validate", other}, cli.ExitOK, "in 1 file"},
		{"relative file", []string{"validate", "../elsewhere/policies/deploy.cue"}, cli.ExitOK, "in 1 file"},
		{"a broken policy is reported, not refused", []string{"validate", bad}, cli.ExitFindings, "policy.cue:2"},
		{"two places", []string{"validate", other, bad}, cli.ExitFindings, "in 2 files"},
		{"--base needs the repository", []string{"validate", "--base", "main", other}, cli.ExitUsage, "outside it"},
		{"test runs there too", []string{"test", other}, cli.ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: repo}
			code := cli.Run(context.Background(), tt.args, env)
			out := stdout.String() + stderr.String()
			assert.Equal(t, tt.code, code, out)
			assert.Contains(t, out, tt.want)
			assert.NotContains(t, out, "outside the repository")
		})
	}
}
