package action

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// step is one simulated runner step: an environment, a stdout and the
// environment files in a temporary directory.
type step struct {
	t   *testing.T
	env map[string]string
	out *syncBuffer
	dir string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newStep(t *testing.T) *step {
	t.Helper()
	dir := t.TempDir()
	s := &step{t: t, env: map[string]string{"GITHUB_ACTIONS": "true"}, out: &syncBuffer{}, dir: dir}
	for _, f := range []string{"GITHUB_OUTPUT", "GITHUB_STATE", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"} {
		p := filepath.Join(dir, strings.ToLower(f))
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		s.env[f] = p
	}
	return s
}

func (s *step) getenv(k string) string { return s.env[k] }

func (s *step) action() *Action {
	return New(Options{Getenv: s.getenv, Stdout: s.out, Open: AppendFile})
}

func (s *step) file(name string) string {
	s.t.Helper()
	b, err := os.ReadFile(s.env[name])
	require.NoError(s.t, err)
	return string(b)
}

// parseFileCommands reads an environment file the way the runner does
// (actions/runner FileCommandManager): NAME=VALUE lines and NAME<<DELIM
// heredocs.
func parseFileCommands(data string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		eq, hd := strings.Index(line, "="), strings.Index(line, "<<")
		if eq >= 0 && (hd < 0 || eq < hd) {
			out[line[:eq]] = line[eq+1:]
			continue
		}
		if hd < 0 {
			return nil, fmt.Errorf("invalid line %q", line)
		}
		name, delim := line[:hd], line[hd+2:]
		var val []string
		closed := false
		for sc.Scan() {
			if sc.Text() == delim {
				closed = true
				break
			}
			val = append(val, sc.Text())
		}
		if !closed {
			return nil, fmt.Errorf("no closing delimiter for %q", name)
		}
		out[name] = strings.Join(val, "\n")
	}
	return out, sc.Err()
}

// assertMaskedFirst fails unless the first line of out that contains secret
// (or any of its lines) is its add-mask command.
func assertMaskedFirst(t *testing.T, out, secret string) {
	t.Helper()
	for _, part := range strings.Split(secret, "\n") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, part) {
				require.Equal(t, "::add-mask::"+part, line, "first appearance of a secret line must be its mask")
				break
			}
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
func (failWriter) Close() error              { return nil }
