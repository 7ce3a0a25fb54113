package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policydiff"
	"github.com/jitkey/jitkey/internal/policyfile"
	"github.com/jitkey/jitkey/internal/policytest"
	"github.com/jitkey/jitkey/internal/report"
)

const validateUsage = `
Usage: jitkey validate [--format text|github|json|sarif] [--fail-on error|warning|notice] [--base REF [--fail-on-grant]]
       [--eval-timeout DURATION] [--eval-memory MIB] [PATH...]

Checks CUE policies against the schema, then lints them: shadowed rules and
over-broad grants. PATH is a policy file or a directory searched for *.cue
files (default: .github/jitkey when it exists, else policies). With
--base, or on a pull_request event with GITHUB_BASE_REF set, also says what
the change grants that the base did not, each rule before and after, and
the jobs that move from one rule to another, positioned on the changed
lines; --fail-on-grant exits 1 when it grants anything new. On a policy
tree each directory is compared with itself at the base, and a change to
who may change policies (write on a policy repository, the organisation
policy moved, policy refs or issuers allowed) is flagged as a grant.
Evaluating each policy directory may take at most --eval-timeout (default
10s) and grow the heap by at most --eval-memory MiB (default 512; 0 turns a
bound off); beyond them it is an error naming the file.

Exit status: 0 clean, 1 findings at or above --fail-on, 2 usage or I/O error.
`

func runValidate(ctx context.Context, env Env, args []string) int {
	fset := newFlagSet(env, "validate", validateUsage)
	format := fset.String("format", "text", "output format: text, github, json or sarif")
	failOn := fset.String("fail-on", "error", "lowest severity that fails: error, warning or notice")
	base := fset.String("base", "", "git ref to compare grants with (default on pull requests: origin/$GITHUB_BASE_REF)")
	failOnGrant := fset.Bool("fail-on-grant", false, "exit 1 when the change grants anything its base did not (a required check for policy changes)")
	limits := limitFlags(fset)
	paths, err := parseFlags(fset, args)
	if err != nil {
		return flagExit(err)
	}
	lim, err := limits()
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	min, err := parseSeverity(*failOn)
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	if _, err := report.New(*format); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	if t, err := treeArg(env, paths); err != nil || t != nil {
		if err != nil {
			return fail(env.Stderr, "validate", err)
		}
		return validateTree(ctx, env, lim, t, treeValidation{format: *format, min: min, base: *base, failOnGrant: *failOnGrant})
	}
	l, done, err := loadPolicies(ctx, env, lim, paths)
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	defer done()
	r := &report.Report{Command: "validate", Files: l.files.All(), Diagnostics: l.diags, Rules: checkRules()}
	if l.set != nil {
		r.Diagnostics = append(r.Diagnostics, lint.Waive(lint.LintHeld(l.set, lint.Holder{}), l.set, env.Now())...)
		lint.Sort(r.Diagnostics)
		err := diffBase(env, *base, r, func(ref string) error {
			if err := inside(env, ref, l); err != nil {
				return err
			}
			res, err := grantDiff(ctx, env, lim, ref, l, lint.Holder{})
			if err == nil {
				addDiff(r, res)
			}
			return err
		})
		if err != nil {
			return fail(env.Stderr, "validate", err)
		}
	}
	if err := output(env, *format, r); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	return validateExit(env, r, malformed(l.diags), min, *failOnGrant)
}

// errOutside is a base asked of policies outside this git repository:
// silent unless --base was given.
var errOutside = errors.New("the policies are outside this git repository")

// inside checks that l lies in this git repository: the grant diff reads
// the same paths at a git ref of it, and policies outside have no base.
func inside(env Env, ref string, l *loaded) error {
	if l.root == env.Dir {
		return nil
	}
	return fmt.Errorf("--base %s compares with this git repository, and the policies are outside it (in %s); run validate from the repository that holds them: %w", ref, l.root, errOutside)
}

// diffBase runs diff against the base (--base, or on a pull request its
// base branch) and records it in r. A diff that fails is an error only
// when --base named the base; otherwise a warning (policies outside the
// repository: nothing).
func diffBase(env Env, flagValue string, r *report.Report, diff func(ref string) error) error {
	ref, explicit := baseRef(env, flagValue)
	if ref == "" {
		return nil
	}
	switch err := diff(ref); {
	case err != nil && explicit:
		return err
	case errors.Is(err, errOutside):
	case err != nil:
		slog.Warn("no grant diff", "base", ref, "err", err)
	default:
		r.Base = ref
	}
	return nil
}

// validateExit is validate's exit status once r is written.
func validateExit(env Env, r *report.Report, badInput bool, min policy.Severity, failOnGrant bool) int {
	switch {
	case badInput:
		return ExitUsage
	case atOrAbove(r.Diagnostics, min):
		return ExitFindings
	case failOnGrant && len(r.Grants) > 0:
		fmt.Fprintf(env.Stderr, "jitkey validate: the change grants what %s did not (--fail-on-grant); a reviewer must approve it\n", r.Base)
		return ExitFindings
	}
	return ExitOK
}

// addDiff puts the grant diff into the report.
func addDiff(r *report.Report, res policydiff.Result) {
	for _, c := range res.Grants {
		r.Grants = append(r.Grants, report.Grant{Rule: c.Rule, Pos: c.Pos, Sentence: c.Sentence, PolicyChange: c.PolicyChange})
	}
	side := func(s policydiff.Side) report.Side {
		return report.Side{Match: s.Match, Repositories: s.Repositories, Permissions: s.Permissions}
	}
	for _, row := range res.Rows {
		r.Rows = append(r.Rows, report.Row{Rule: row.Rule, Pos: row.Pos, Status: row.Status, Before: side(row.Before), After: side(row.After)})
	}
	for _, m := range res.Moves {
		r.Moves = append(r.Moves, report.Move{From: m.From, To: m.To, Pos: m.Pos, Sentence: m.Sentence})
	}
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
		report.Rule{ID: policy.CodeRepositoryCeiling, Description: "a repository policy declares a ceiling or an organization section, which only the organisation policy may", Severity: "error"},
		report.Rule{ID: policytest.CodeFailed, Description: "a policy test case did not get the decision it expects", Severity: "error"},
		report.Rule{ID: policytest.CodeUncovered, Description: "no policy test case exercises the rule", Severity: "notice"},
		report.Rule{ID: policytest.CodeConditionUncovered, Description: "no policy test fails when a condition of the rule is removed", Severity: "notice"},
		report.Rule{ID: policytest.CodeThinClaims, Description: "a test omits a claim every real token carries, and an earlier rule would take the job for some value of it", Severity: "warning"},
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

// grantDiff loads the base's own policy files under the same paths from
// git and compares grants: a file deleted in the change still counts in the
// base, a file missing at the base is new, and a base that does not load is
// treated as empty, so every rule counts as new.
func grantDiff(ctx context.Context, env Env, lim policy.Limits, ref string, l *loaded, h lint.Holder) (policydiff.Result, error) {
	if strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, " \t\r\n:") {
		return policydiff.Result{}, fmt.Errorf("base %q is not a git ref; give a branch, tag or commit", ref)
	}
	if err := git(ctx, env.Dir, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Run(); err != nil {
		return policydiff.Result{}, fmt.Errorf("base %q is not a commit here; fetch it first (git fetch origin <branch>) or pass another --base", ref)
	}
	roots := l.roots
	fsys, err := baseFS(ctx, env.Dir, ref, roots)
	if err != nil {
		return policydiff.Result{}, err
	}
	// The base's policy files (test files grant nothing), found as in the
	// working tree (hidden and testdata directories skipped), in the same
	// order.
	var files []string
	for _, root := range roots {
		f, err := policyfile.Find(fsys, []string{root})
		if err != nil {
			continue // not in the base, or refused there: its rules count as new
		}
		files = append(files, f.Policies...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	var base *policy.Set
	if len(files) > 0 {
		s, err := policy.LoadLimits(ctx, lim, fsys, files)
		if err != nil {
			slog.Warn("the base policies do not load; every rule counts as new", "base", ref, "err", err)
		} else {
			base = s
		}
	}
	return policydiff.CompareHeld(base, l.set, changedLines(ctx, env.Dir, ref, roots), h), nil
}

// changedLines reads where the working tree differs from ref under roots
// (git diff -U0, paths relative to dir), so that findings land on changed
// lines; nil, and the rules' own positions, when git cannot say.
func changedLines(ctx context.Context, dir, ref string, roots []string) policydiff.Hunks {
	var out bytes.Buffer
	cmd := git(ctx, dir, append([]string{"--literal-pathspecs", "diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames", "--relative", ref, "--"}, roots...)...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		slog.Warn("no changed lines; grant diff positions are the rules' own", "base", ref, "err", err)
		return nil
	}
	return policydiff.ParseUnifiedDiff(out.String())
}

// baseFS reads the *.cue files under roots (relative to dir) at ref into
// memory. git ls-tree lists the base's own tree, so files deleted since are
// there; symlinks, submodules and files over the size limit are left out
// (rules only there count as new).
func baseFS(ctx context.Context, dir, ref string, roots []string) (fstest.MapFS, error) {
	var list bytes.Buffer
	ls := git(ctx, dir, append([]string{"--literal-pathspecs", "ls-tree", "-r", "-z", "-l", ref, "--"}, roots...)...)
	ls.Stdout = &list
	if err := ls.Run(); err != nil {
		return nil, fmt.Errorf("list the policy files at base %q (git ls-tree): %w", ref, err)
	}
	var names, objects []string
	for entry := range strings.SplitSeq(list.String(), "\x00") {
		meta, name, ok := strings.Cut(entry, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || (f[0] != "100644" && f[0] != "100755") || f[1] != "blob" || !strings.HasSuffix(name, ".cue") {
			continue
		}
		if size, err := strconv.ParseInt(f[3], 10, 64); err != nil || size > policy.MaxFileSize {
			continue
		}
		names, objects = append(names, name), append(objects, f[2])
	}
	fsys := fstest.MapFS{}
	if len(objects) == 0 {
		return fsys, nil
	}
	var out bytes.Buffer
	cat := git(ctx, dir, "cat-file", "--batch")
	cat.Stdin = strings.NewReader(strings.Join(objects, "\n") + "\n")
	cat.Stdout = &out
	if err := cat.Run(); err != nil {
		return nil, fmt.Errorf("read the policy files at base %q (git cat-file): %w", ref, err)
	}
	// Each object is "<oid> blob <size>\n<content>\n", in the order asked.
	rest := out.Bytes()
	for _, name := range names {
		header, body, ok := bytes.Cut(rest, []byte("\n"))
		f := strings.Fields(string(header))
		size := -1
		if ok && len(f) == 3 {
			size, _ = strconv.Atoi(f[2])
		}
		if size < 0 || size+1 > len(body) {
			return nil, fmt.Errorf("read the policy files at base %q: git cat-file answered %q for %s", ref, header, name)
		}
		fsys[name] = &fstest.MapFile{Data: body[:size], Mode: 0o644}
		rest = body[size+1:]
	}
	return fsys, nil
}

func git(ctx context.Context, dir string, args ...string) *exec.Cmd {
	// The arguments are the user's own --base and the policy paths found
	// under the working directory, passed as arguments, never to a shell.
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...) //nolint:gosec // G204: see above
	cmd.Env = append(cmd.Environ(), "GIT_TERMINAL_PROMPT=0")
	return cmd
}

// treeValidation are validate's options for a policy tree.
type treeValidation struct {
	format      string
	min         policy.Severity
	base        string
	failOnGrant bool
}

// validateTree is `jitkey validate` of a policy tree (see policyTree):
// each directory is linted knowing whose policy it is, and, with a base,
// diffed against the same directory at the base, the organisation
// policy's and each repository's, so that the grant diff also says when
// the change widens who may change policies.
func validateTree(ctx context.Context, env Env, lim policy.Limits, t *policyTree, o treeValidation) int {
	r, lt, done, err := treeReportOpen(ctx, env, lim, t, "validate")
	if err != nil {
		return fail(env.Stderr, "validate", err)
	}
	defer done()
	if err := diffBase(env, o.base, r, func(ref string) error { return treeDiff(ctx, env, lim, ref, lt, r) }); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	if err := output(env, o.format, r); err != nil {
		return fail(env.Stderr, "validate", err)
	}
	return validateExit(env, r, malformed(r.Diagnostics), o.min, o.failOnGrant)
}

// treeDiff adds the grant diff of every directory of the tree to r, or
// nothing when one fails.
func treeDiff(ctx context.Context, env Env, lim policy.Limits, ref string, lt *loadedTree, r *report.Report) error {
	var all []policydiff.Result
	for i, ts := range lt.sets {
		if ts.l.set == nil {
			continue
		}
		if err := inside(env, ref, ts.l); err != nil {
			return err
		}
		res, err := grantDiff(ctx, env, lim, ref, ts.l, lt.holder(i))
		if err != nil {
			return err
		}
		all = append(all, res)
	}
	for _, res := range all {
		addDiff(r, res)
	}
	return nil
}
