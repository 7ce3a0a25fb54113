package cli_test

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/kmstest"
	"github.com/jitkey/jitkey/internal/pgtest"
)

// updateScripts rewrites the expected output inside the .txtar files.
// It is the package's one -update flag: other golden tests in package cli
// should read it rather than define their own.
var updateScripts = flag.Bool("update", false, "rewrite golden files and the expected output in testdata/script/*.txtar")

// TestMain lets the test binary act as the jitkey binary inside scripts,
// so testscript runs the real command line, exit codes included.
func TestMain(m *testing.M) {
	kmstest.Setenv()
	testscript.Main(stopPostgres{m}, map[string]func(){
		"jitkey": func() { os.Exit(profiled(func() int { return cli.Main(os.Args[1:]) })) },
	})
}

// pg is this test binary's private PostgreSQL cluster (jitkey serve's
// replicas) and kms its local-kms, stopped when the tests end.
var (
	pg  = pgtest.New()
	kms = kmstest.New()
	// pgDurable is a cluster with PostgreSQL's default durability, for the
	// broker's benchmark: it starts only when the benchmark runs.
	pgDurable = pgtest.NewDurable()
)

type stopPostgres struct{ m *testing.M }

func (s stopPostgres) Run() int {
	code := s.m.Run()
	pg.Stop()
	pgDurable.Stop()
	kms.Stop()
	return code
}

func TestScript(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *updateScripts,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":   cmdExits,
			"latin1":  cmdLatin1,
			"bigfile": cmdBigfile,
		},
		Setup: func(e *testscript.Env) error {
			// A pull request environment would turn on the grant diff.
			e.Setenv("GITHUB_EVENT_NAME", "")
			e.Setenv("GITHUB_BASE_REF", "")
			e.Setenv("GITHUB_STEP_SUMMARY", "")
			return nil
		},
	})
}

// exits CODE COMMAND [ARG...] runs a command and checks its exit status;
// its output is kept for stdout and stderr like exec's.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("run %s: %v", args[1], err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// latin1 FILE writes a policy file encoded as Latin-1, not UTF-8.
func cmdLatin1(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: latin1 FILE")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte("apiVersion: \"jitkey.dev/v1\"\n// caf\xe9\n"), 0o644))
}

// bigfile FILE BYTES writes a CUE comment file of the given size.
func cmdBigfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: bigfile FILE BYTES")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Repeat("//", n/2)), 0o644))
}
