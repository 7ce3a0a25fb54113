package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing/fstest"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policydiff"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/report"
)

const validateUsage = `
Usage: jitkey validate [--format text|github|json|sarif] [--fail-on error|warning|notice] [--base REF] [PATH...]

Checks CUE policies against the schema, then lints them: shadowed rules and
over-broad grants. PATH is a policy file or a directory searched for *.cue
files (default: policies). With --base, or on a pull_request event with
GITHUB_BASE_REF set, also says what the change grants that the base did not.

Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or I/O error.
`

func runValidate(ctx context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "validate", validateUsage)
	format := fset.String("format", "text", "output format: text, github, json or sarif")
	failOn := fset.String("fail-on", "error", "lowest severity that fails: error, warning or notice")
	base := fset.String("base", "", "git ref to compare grants with (default on pull requests: origin/$GITHUB_BASE_REF)")
	paths, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
	}
	min, err := parseSeverity(*failOn)
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	if _, err := report.New(*format); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	l, done, err := loadPolicies(env, paths)
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	defer done()
	r := &report.Report{Command: "validate", Files: l.files.All(), Diagnostics: l.diags, Rules: checkRules()}
	if l.set != nil {
		r.Diagnostics = append(r.Diagnostics, lint.Lint(l.set)...)
		lint.Sort(r.Diagnostics)
		ref, explicit := baseRef(env, *base)
		if ref != "" {
			changes, err := grantDiff(ctx, env, ref, l)
			switch {
			case err != nil && explicit:
				return fail(env.Stderr, "validate", err)
			case err != nil:
				slog.Warn("no grant diff", "base", ref, "err", err)
			default:
				r.Base = ref
				for _, c := range changes {
					r.Grants = append(r.Grants, report.Grant{Rule: c.Rule, Pos: c.Pos, Sentence: c.Sentence})
				}
			}
		}
	}
	if err := output(env, *format, r); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	switch {
	case malformed(l.diags):
		return ExitUsage
	case atOrAbove(r.Diagnostics, min):
		return ExitFindings
	}
	return ExitOK
}

// checkRules describes every finding code validate and test can report.
func checkRules() []report.Rule {
	var out []report.Rule
	for _, c := range lint.Checks() {
		out = append(out, report.Rule{ID: c.Code, Description: c.Description, Severity: c.Severity})
	}
	return append(out,
		report.Rule{ID: policy.CodeSyntax, Description: "the file is not CUE: a parse error, not UTF-8, empty or too large", Severity: "error"},
		report.Rule{ID: policy.CodeSchema, Description: "the policy schema rejects the file", Severity: "error"},
		report.Rule{ID: policy.CodePattern, Description: "a match pattern is not a valid RE2 regular expression", Severity: "error"},
		report.Rule{ID: policy.CodeDuplicateName, Description: "two rules share a name", Severity: "error"},
		report.Rule{ID: policy.CodeAboveCeiling, Description: "a rule grants more than the organisation ceiling", Severity: "error"},
		report.Rule{ID: policy.CodeDuplicateSection, Description: "a ceiling or review section is defined twice", Severity: "error"},
		report.Rule{ID: policytest.CodeFailed, Description: "a policy test case did not get the decision it expects", Severity: "error"},
		report.Rule{ID: policytest.CodeUncovered, Description: "no policy test case exercises the rule", Severity: "notice"},
	)
}

// baseRef returns the ref to diff against and whether the user named it.
func baseRef(env Env, flagValue string) (string, bool) {
	if flagValue != "" {
		return flagValue, true
	}
	ev := env.Getenv("GITHUB_EVENT_NAME")
	if b := env.Getenv("GITHUB_BASE_REF"); b != "" && (ev == "pull_request" || ev == "pull_request_target") {
		return "origin/" + b, false
	}
	return "", false
}

// grantDiff loads the base version of the same files from git and compares
// grants. A file missing at the base is new; a base that does not load is
// treated as empty, so every rule counts as new.
func grantDiff(ctx context.Context, env Env, ref string, l *loaded) ([]policydiff.Change, error) {
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\r\n:") {
		return nil, fmt.Errorf("base %q is not a git ref; give a branch, tag or commit", ref)
	}
	if err := git(ctx, env.Dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Run(); err != nil {
		return nil, fmt.Errorf("base %q is not a commit here; fetch it first (git fetch origin <branch>) or pass another --base", ref)
	}
	fsys := fstest.MapFS{}
	var paths []string
	for _, p := range l.files.Policies {
		var out bytes.Buffer
		cmd := git(ctx, env.Dir, "show", ref+":./"+p)
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			continue // not in the base: a new file
		}
		fsys[p] = &fstest.MapFile{Data: out.Bytes()}
		paths = append(paths, p)
	}
	var base *policy.Set
	if len(paths) > 0 {
		s, err := policy.Load(fsys, paths)
		if err != nil {
			slog.Warn("the base policies do not load; every rule counts as new", "base", ref, "err", err)
		} else {
			base = s
		}
	}
	return policydiff.Diff(base, l.set), nil
}

func git(ctx context.Context, dir string, args ...string) *exec.Cmd {
	// The arguments are the user's own --base and the policy paths found
	// under the working directory, passed as arguments, never to a shell.
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...) //nolint:gosec // G204: see above
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	return cmd
}
