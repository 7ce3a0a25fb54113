package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

func TestBaseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		flag         string
		env          map[string]string
		want         string
		wantExplicit bool
	}{
		{name: "flag wins", flag: "v1.2", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}, want: "v1.2", wantExplicit: true},
		{name: "pull request", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}, want: "origin/main"},
		{name: "pull_request_target", env: map[string]string{"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_BASE_REF": "release"}, want: "origin/release"},
		{name: "push", env: map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_BASE_REF": "main"}},
		{name: "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, explicit := baseRef(Env{Getenv: func(k string) string { return tt.env[k] }}, tt.flag)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantExplicit, explicit)
		})
	}
}

func TestAtOrAbove(t *testing.T) {
	t.Parallel()
	diags := func(sev ...policy.Severity) []policy.Diagnostic {
		var out []policy.Diagnostic
		for _, s := range sev {
			out = append(out, policy.Diagnostic{Severity: s})
		}
		return out
	}
	assert.False(t, atOrAbove(nil, "notice"))
	assert.False(t, atOrAbove(diags("warning", "notice"), "error"))
	assert.True(t, atOrAbove(diags("warning", "notice"), "warning"))
	assert.True(t, atOrAbove(diags("notice"), "notice"))
	assert.True(t, atOrAbove(diags("error"), "error"))
	assert.True(t, atOrAbove(diags("fatal"), "error"), "an unknown severity fails safe")
}

func TestParseFlagsInterleaved(t *testing.T) {
	t.Parallel()
	fset := flag.NewFlagSet("x", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	format := fset.String("format", "text", "")
	pos, err := parseFlags(fset, []string{"a", "--format", "json", "b", "--", "--c"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "--c"}, pos)
	assert.Equal(t, "json", *format)
}

func TestRelPaths(t *testing.T) {
	t.Parallel()
	env := Env{Dir: "/repo"}
	assert.Equal(t, []string{"policies/a.cue", "x", "../out"}, relPaths(env, []string{"/repo/policies/a.cue", "./x/", "/out"}))
}

// TestOwnPolicies keeps this repository's example policies valid, clean
// and fully covered by their tests: the CI runs the same commands.
func TestOwnPolicies(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	for _, args := range [][]string{{"validate", "--fail-on", "notice", "policies"}, {"test", "--min-coverage", "100", "policies"}} {
		var stdout, stderr bytes.Buffer
		env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Now: time.Now, Dir: root}
		code := Run(context.Background(), args, env)
		assert.Equal(t, ExitOK, code, "jitkey %s:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		assert.Contains(t, stdout.String(), "0 errors, 0 warnings, 0 notices")
	}
}
