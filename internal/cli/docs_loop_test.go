package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/cli"
)

// TestDocsAuthorLoopTranscripts runs the policy author's loop as README.md
// and docs/policy.md show it (validate with a waived finding, a failing test
// with its explanation and condition coverage, the grant diff that
// --fail-on-grant gates on) on the policy in testdata/authorloop.txtar: its
// base committed on branch main, the change in the working tree. Every line
// shown (… marks lines left out) must be jitkey's output, in order, and an
// `echo $?` step the exit code of the command before.
func TestDocsAuthorLoopTranscripts(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("the grant diff needs git")
	}
	ar, err := txtar.ParseFile(filepath.Join("testdata", "authorloop.txtar"))
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(side string) {
		for _, f := range ar.Files {
			if name, ok := strings.CutPrefix(f.Name, side+"/"); ok {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), f.Data, 0o644))
			}
		}
	}
	gitRun := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=jitkey", "-c", "user.email=jitkey@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	write("base")
	gitRun("init", "-q", "-b", "main")
	gitRun("add", "-A")
	gitRun("commit", "-q", "-m", "base")
	write("head")

	n := 0
	for _, p := range docPages(t) {
		for _, b := range p.Blocks {
			if b.Lang != "text" || !strings.Contains(b.Text, ".github/jitkey") ||
				(!strings.Contains(b.Text, "$ jitkey validate") && !strings.Contains(b.Text, "$ jitkey test")) {
				continue
			}
			code := -1
			for _, step := range transcript(b.Text) {
				where := p.path + ":" + strconv.Itoa(b.Line) + ": " + step.cmd
				if step.cmd == "echo $?" {
					require.NotEmpty(t, step.out, where)
					assert.Equal(t, step.out[0], strconv.Itoa(code), where)
					continue
				}
				line, _, _ := strings.Cut(step.cmd, " #") // a comment
				cmds := shellCommands(strings.TrimSpace(line))
				require.Len(t, cmds, 1, where)
				var stdout, stderr bytes.Buffer
				env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
					Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }, Dir: dir}
				code = cli.Run(context.Background(), cmds[0], env)
				assertShown(t, where, step.out, stdout.String()+stderr.String())
				n++
			}
		}
	}
	assert.GreaterOrEqual(t, n, 4, "the author's loop transcripts were found (README: validate, test, validate --base; docs/policy.md: test, validate, validate --base)")
}
