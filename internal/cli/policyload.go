package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policyfile"
	"github.com/jitkey/jitkey/internal/report"
	"github.com/jitkey/jitkey/internal/runstep"
)

// DefaultPolicyDirs are where validate, test and explain look for policies
// when no path is given, relative to the working directory, in order: the
// layout the README recommends for a repository (.github/jitkey), then a
// policies directory (this repository's own layout).
var DefaultPolicyDirs = []string{".github/jitkey", "policies"}

// defaultPaths returns the first of DefaultPolicyDirs that is a directory
// under the working directory, or an error saying where it looked.
func defaultPaths(fsys fs.FS, dir string) ([]string, error) {
	for _, d := range DefaultPolicyDirs {
		if info, err := fs.Stat(fsys, d); err == nil && info.IsDir() {
			return []string{d}, nil
		}
	}
	return nil, fmt.Errorf("no policy path given, and neither %s nor %s is a directory in %s; "+
		"give the policy directory or files (e.g. jitkey validate .github/jitkey), or run from the repository's root",
		DefaultPolicyDirs[0], DefaultPolicyDirs[1], dir)
}

// repoFS opens dir as the root that policy paths must stay inside. An
// os.Root refuses to follow a symlink out of it.
func repoFS(dir string) (fs.FS, func(), error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return root.FS(), func() { root.Close() }, nil
}

// policyRoot is the directory the policy paths are read inside: the working
// directory, or, when a path given explicitly lies outside it, the deepest
// directory holding every path given (a CLI checks what it is pointed at,
// as cue vet does). Symlinks out of that root are still refused.
func policyRoot(env Env, paths []string) string {
	var abs []string
	outside := false
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(env.Dir, p)
		}
		p = filepath.Clean(p)
		if rel, err := filepath.Rel(env.Dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			outside = true
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			p = filepath.Dir(p)
		}
		abs = append(abs, p)
	}
	if !outside {
		return env.Dir
	}
	root := abs[0]
	for _, p := range abs[1:] {
		for root != filepath.Dir(root) {
			if rel, err := filepath.Rel(root, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				break
			}
			root = filepath.Dir(root)
		}
	}
	return root
}

// relPaths turns command-line paths into slash-separated paths relative to
// the working directory; a path outside it stays "../..." and is refused by
// policyfile.Find.
func relPaths(env Env, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		if filepath.IsAbs(p) {
			if rel, err := filepath.Rel(env.Dir, p); err == nil {
				p = rel
			}
		}
		out[i] = filepath.ToSlash(filepath.Clean(p))
	}
	return out
}

// loaded is a policy set read from the working tree.
type loaded struct {
	root  string // the directory the files are relative to (see policyRoot)
	fsys  fs.FS
	roots []string // the paths searched, relative to root
	files policyfile.Files
	set   *policy.Set
	diags []policy.Diagnostic // load errors, positioned; set is nil when any
}

// loadPolicies finds and loads the policies under paths. A returned error
// is a usage or I/O error (exit 2); diagnostics are the policy's own errors.
func loadPolicies(ctx context.Context, env Env, lim policy.Limits, paths []string) (*loaded, func(), error) {
	at := env
	at.Dir = policyRoot(env, paths)
	if at.Dir != env.Dir {
		abs := make([]string, len(paths))
		for i, p := range paths {
			abs[i] = p
			if !filepath.IsAbs(p) {
				abs[i] = filepath.Join(env.Dir, p)
			}
		}
		paths = abs
	}
	fsys, closeFS, err := repoFS(at.Dir)
	if err != nil {
		return nil, nil, err
	}
	roots := relPaths(at, paths)
	if len(paths) == 0 {
		if roots, err = defaultPaths(fsys, env.Dir); err != nil {
			closeFS()
			return nil, nil, err
		}
	}
	files, err := policyfile.Find(fsys, roots)
	if err != nil {
		closeFS()
		return nil, nil, err
	}
	l := &loaded{root: at.Dir, fsys: fsys, roots: roots, files: files}
	set, err := policy.LoadLimits(ctx, lim, fsys, files.All())
	if err != nil {
		var perrs policy.Errors
		if !errors.As(err, &perrs) || len(perrs) == 0 {
			closeFS()
			return nil, nil, fmt.Errorf("load policies: %w", err)
		}
		l.diags = append(l.diags, perrs...)
		return l, closeFS, nil
	}
	l.set = set
	return l, closeFS, nil
}

// malformed reports whether a load failed on input that is not a policy at
// all (CUE syntax), which is an input error (exit 2) rather than a finding.
func malformed(diags []policy.Diagnostic) bool {
	for _, d := range diags {
		if d.Code == "syntax" || d.Code == "parse" {
			return true
		}
	}
	return false
}

var severityRank = map[policy.Severity]int{"notice": 1, "warning": 2, "error": 3}

func parseSeverity(s string) (policy.Severity, error) {
	sev := policy.Severity(s)
	if severityRank[sev] == 0 {
		return "", fmt.Errorf("--fail-on %q: use error, warning or notice", s)
	}
	return sev, nil
}

// atOrAbove reports whether any diagnostic is at least as severe as min.
func atOrAbove(diags []policy.Diagnostic, min policy.Severity) bool {
	for _, d := range diags {
		if severityRank[d.Severity] >= severityRank[min] || severityRank[d.Severity] == 0 {
			return true
		}
	}
	return false
}

// parseFlags parses flags that may come before, between or after the
// positional arguments, and returns the positional arguments.
func parseFlags(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		args = fset.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet returns a flag set that prints its usage to env.Stderr.
func newFlagSet(env Env, name, usage string) *flag.FlagSet {
	fset := flag.NewFlagSet("jitkey "+name, flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	fset.Usage = func() {
		fmt.Fprintf(env.Stderr, "%s\nFlags:\n", strings.TrimSpace(usage))
		fset.PrintDefaults()
	}
	return fset
}

// flagExit is the exit code for a flag parsing error: 0 for -h.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// output renders a report on stdout and, when the runner names a step
// summary file, appends the Markdown summary to it.
func output(env Env, format string, r *report.Report) error {
	out, err := report.New(format)
	if err != nil {
		return err
	}
	if s, ok := out.(report.SARIF); ok {
		s.Version = runstep.Version
		out = s
	}
	if err := out.Output(env.Stdout, r); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	if path := env.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
		if err := appendSummary(path, r); err != nil {
			return err
		}
	}
	return nil
}

func appendSummary(path string, r *report.Report) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open the job summary (GITHUB_STEP_SUMMARY): %w", err)
	}
	werr := report.Summary(f, r)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("write the job summary (GITHUB_STEP_SUMMARY): %w", err)
	}
	return nil
}

func fail(w io.Writer, cmd string, err error) int {
	fmt.Fprintf(w, "jitkey %s: %v\n", cmd, err)
	return ExitUsage
}

// limitFlags adds --eval-timeout and --eval-memory, the bounds on
// evaluating policy files (policy.Limits), to fset; the function returned
// reads them once the flags are parsed.
func limitFlags(fset *flag.FlagSet) func() (policy.Limits, error) {
	def := policy.DefaultLimits
	timeout := fset.Duration("eval-timeout", def.Deadline, "longest a policy directory may take to evaluate (0: no deadline)")
	memory := fset.Uint64("eval-memory", def.Heap>>20, "most the heap may grow, in MiB, while a policy directory evaluates (0: no bound)")
	return func() (policy.Limits, error) {
		switch {
		case *timeout < 0:
			return policy.Limits{}, fmt.Errorf("--eval-timeout %v: give a duration such as 10s (0 for no deadline)", *timeout)
		case *memory > 1<<20:
			return policy.Limits{}, fmt.Errorf("--eval-memory %d: give MiB, at most %d (0 for no bound)", *memory, 1<<20)
		}
		return policy.Limits{Deadline: *timeout, Heap: *memory << 20}, nil
	}
}
