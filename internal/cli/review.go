package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

const reviewUsage = `Usage:
  jitkey review [--org ORG] [--repo OWNER/NAME ...] [flags]
  jitkey review merge [--format text|json|sarif|github] FILE...

Reviews deploy keys, Actions/Dependabot/Codespaces secrets, fine-grained PATs,
SSO authorizations, App installations and webhooks, and keeps one GitHub issue
per finding (opened, updated, closed, reopened; '/jitkey revoke' by a
collaborator with write access removes the credential on the next run).

Authentication: a GitHub App (--app-id and --private-key-file, or JITKEY_APP_ID
and JITKEY_APP_PRIVATE_KEY holding the PEM) installed on the organisation, or a
token (--token-env NAME, default GITHUB_TOKEN). API: GITHUB_API_URL or --api-url.

In a workflow run triggered by issue_comment (GITHUB_EVENT_NAME and
GITHUB_EVENT_PATH), only the commented review issue's repository (or
organisation) and kind are reviewed, when the comment is '/jitkey revoke';
any other comment exits 0 at once, without an API call.

Exit codes: 0 review complete; 1 the review is partial (a repository or kind
could not be read, or an issue could not be written); 2 usage or setup error.

Flags:
`

// reviewOptions is the typed configuration of one review run.
type reviewOptions struct {
	scan       inventory.Options
	policyPath string
	format     string
	checkpoint string
	maxIssues  int
	dryRun     bool
	noIssues   bool
	auth       reviewAuth
}

type reviewAuth struct {
	apiURL, tokenEnv, appID, keyFile string
	identity                         string // the login the review writes as, when it cannot be learnt
}

type reviewRepos []string

func (r *reviewRepos) String() string     { return strings.Join(*r, ",") }
func (r *reviewRepos) Set(v string) error { *r = append(*r, strings.Split(v, ",")...); return nil }

func runReview(ctx context.Context, env Env, args []string) int {
	if len(args) > 0 && args[0] == "merge" {
		return runReviewMerge(env, args[1:])
	}
	o, code := parseReviewFlags(env, args)
	if code >= 0 {
		return code
	}
	rv, err := loadReviewPolicy(ctx, env, o.policyPath)
	if err != nil {
		reviewError(env, err)
		return ExitUsage
	}
	installOrg, installRepos := o.scan.Org, o.scan.Repos
	if env.Getenv("GITHUB_EVENT_NAME") == "issue_comment" {
		nothing, err := reviewNarrowToComment(env, &o, rv)
		if err != nil {
			reviewError(env, err)
			return ExitUsage
		}
		if nothing != "" {
			fmt.Fprintf(env.Stderr, "jitkey review: nothing to do: %s\n", nothing)
			return ExitOK
		}
	}
	gh, identity, release, err := reviewClient(ctx, env, o.auth, installOrg, installRepos, o.dryRun)
	if err != nil {
		reviewError(env, err)
		return ExitUsage
	}
	o.auth.identity = identity
	out, err := reviewRun(ctx, env, gh, o, rv)
	if rerr := release(context.WithoutCancel(ctx)); rerr != nil {
		fmt.Fprintf(env.Stderr, "jitkey review: warning: could not revoke the review token (it expires within the hour): %v\n", rerr)
	}
	if out != nil {
		if werr := writeReview(env, o.format, out); werr != nil {
			fmt.Fprintf(env.Stderr, "jitkey review: %v\n", werr)
			return ExitUsage
		}
	}
	if err != nil {
		reviewError(env, err)
		if out == nil {
			return ExitUsage
		}
		return ExitFindings
	}
	if out.Partial {
		return ExitFindings
	}
	return ExitOK
}

// reviewError prints a review's error, which may carry GitHub's answers and
// credential names: in a workflow run, so that the runner takes nothing in
// it for a workflow command.
func reviewError(env Env, err error) {
	msg := fmt.Sprintf("jitkey review: %v\n", err)
	if env.Getenv("GITHUB_ACTIONS") == "true" {
		msg = action.Neutral(msg)
	}
	fmt.Fprint(env.Stderr, msg)
}

func parseReviewFlags(env Env, args []string) (reviewOptions, int) {
	var o reviewOptions
	var repos reviewRepos
	var shard string
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, reviewUsage); fs.PrintDefaults() }
	fs.StringVar(&o.scan.Org, "org", "", "organisation to review: its org-level credentials, and every repository unless --repo is given")
	fs.Var(&repos, "repo", "repository OWNER/NAME to review (repeatable, or comma-separated)")
	fs.BoolVar(&o.scan.IncludeArchived, "include-archived", false, "also review archived repositories")
	fs.BoolVar(&o.scan.IncludeForks, "include-forks", false, "also review forks")
	fs.StringVar(&o.policyPath, "policy", "", "CUE policy file with a review section (default: built-in rules)")
	fs.StringVar(&o.format, "format", "text", "output: text, json, sarif or github (annotations)")
	fs.StringVar(&shard, "shard", "", "review only shard i of n (i/n, 0 <= i < n; shard 0 also reads org-level credentials)")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "file to resume an interrupted scan from (removed when the review completes)")
	fs.IntVar(&o.maxIssues, "max-issues", 0, "cap on issues opened per run (default: the policy's max_issues_per_run, else 20)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "read and report, write nothing (issues, comments, removals)")
	fs.BoolVar(&o.noIssues, "no-issues", false, "scan and report only; do not touch issues")
	fs.IntVar(&o.scan.Concurrency, "concurrency", inventory.DefaultConcurrency, "requests in flight (GitHub allows 100 in total per identity)")
	fs.StringVar(&o.auth.apiURL, "api-url", "", "GitHub API URL (default: GITHUB_API_URL, else https://api.github.com/)")
	fs.StringVar(&o.auth.tokenEnv, "token-env", "GITHUB_TOKEN", "environment variable holding a token, used when no App is configured")
	fs.StringVar(&o.auth.appID, "app-id", "", "GitHub App ID (default: JITKEY_APP_ID)")
	fs.StringVar(&o.auth.identity, "identity", "", "login the review writes issues and comments as (default: the App's SLUG[bot], the token's user, or github-actions[bot] for the runner's GITHUB_TOKEN); only its issues and replies count as jitkey's")
	fs.StringVar(&o.auth.keyFile, "private-key-file", "", "GitHub App private key PEM file (default: JITKEY_APP_PRIVATE_KEY holds the PEM)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, ExitOK
		}
		return o, ExitUsage
	}
	o.scan.Repos = repos
	var err error
	if o.scan.Shard, err = inventory.ParseShard(shard); err != nil {
		reviewError(env, err)
		return o, ExitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(env.Stderr, "jitkey review: unexpected argument %q; repositories go in --repo\n", fs.Arg(0))
		return o, ExitUsage
	case o.scan.Org == "" && len(o.scan.Repos) == 0:
		fmt.Fprintln(env.Stderr, "jitkey review: say what to review: --org ORG and/or --repo OWNER/NAME")
		return o, ExitUsage
	case !reviewValidFormat(o.format):
		fmt.Fprintf(env.Stderr, "jitkey review: unknown --format %q; use text, json, sarif or github\n", o.format)
		return o, ExitUsage
	}
	return o, -1
}

func reviewValidFormat(f string) bool {
	return f == "text" || f == "json" || f == "sarif" || f == "github"
}

// loadReviewPolicy reads the review section of a CUE policy file.
func loadReviewPolicy(ctx context.Context, env Env, path string) (policy.Review, error) {
	if path == "" {
		return policy.Review{}, nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	set, err := policy.LoadContext(ctx, os.DirFS(filepath.Dir(path)), []string{filepath.Base(path)})
	if err != nil {
		return policy.Review{}, fmt.Errorf("load policy %s: %w (run 'jitkey validate' for details)", path, err)
	}
	if set.Review == nil {
		return policy.Review{}, nil
	}
	return *set.Review, nil
}

// reviewOutput is the JSON result of a review, mergeable across shards.
type reviewOutput struct {
	Version    int                  `json:"version"`
	Inventory  *inventory.Inventory `json:"inventory"`
	Findings   []review.Finding     `json:"findings"`
	Suppressed []review.Suppressed  `json:"suppressed,omitempty"`
	Issues     *issue.Result        `json:"issues,omitempty"`
	Partial    bool                 `json:"partial"`
	Elapsed    string               `json:"elapsed,omitempty"`
	Policy     string               `json:"policy,omitempty"` // the policy file as given, for SARIF locations
}

// reviewRun scans, evaluates and keeps the issues. It returns what it has
// even on error, so a partial review is still reported.
func reviewRun(ctx context.Context, env Env, gh *github.Client, o reviewOptions, rv policy.Review) (*reviewOutput, error) {
	start := env.Now()
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	scan := o.scan
	scan.Now = env.Now
	if scan.Kinds == nil {
		scan.Kinds = review.EnabledKinds(rv)
	}
	scan.Progress = reviewProgress(env.Stderr, env.Now)
	var cpFile *os.File
	if o.checkpoint != "" {
		path := o.checkpoint
		if !filepath.IsAbs(path) {
			path = filepath.Join(env.Dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read checkpoint: %w", err)
		}
		scan.Checkpoint = inventory.ReadCheckpoint(inventory.CheckpointKey(scan), data)
		if n := scan.Checkpoint.Len(); n > 0 {
			fmt.Fprintf(env.Stderr, "review: resuming from %s: %d targets already scanned\n", o.checkpoint, n)
		}
		if cpFile, err = os.Create(path); err != nil {
			return nil, fmt.Errorf("write checkpoint: %w", err)
		}
		defer cpFile.Close()
		if err := scan.Checkpoint.Start(cpFile); err != nil {
			return nil, err
		}
		o.checkpoint = path
	}
	inv, err := inventory.Scan(ctx, inventory.NewClient(gh), scan)
	if err != nil && inv == nil {
		return nil, err
	}
	rep := review.Evaluate(inv, rv, env.Now())
	out := &reviewOutput{Version: 1, Inventory: inv, Findings: rep.Findings, Suppressed: rep.Suppressed, Policy: filepath.ToSlash(o.policyPath)}
	if err == nil && !o.noIssues {
		tr := issue.New(gh.Issues, gh.Repositories, gh.Organizations, issue.NewRemover(gh), issue.Config{
			Identity: o.auth.identity, Review: rv, MaxIssues: o.maxIssues, DryRun: o.dryRun, Concurrency: scan.Concurrency, Now: env.Now, Log: log,
			Shards: scan.Shard.Count, // the shards of a matrix share GitHub's limits on new issues and comments
		})
		out.Issues, err = tr.Sync(ctx, inv, rep)
	}
	out.Partial = inv.Partial() || err != nil || (out.Issues != nil && out.Issues.Partial)
	out.Elapsed = env.Now().Sub(start).Round(time.Millisecond).String()
	if err == nil && !out.Partial && cpFile != nil {
		cpFile.Close()
		os.Remove(o.checkpoint)
	}
	return out, err
}

// progress reports scan progress on stderr at most every two seconds, and at the end.
func reviewProgress(w io.Writer, now func() time.Time) func(done, total int, target string) {
	var mu sync.Mutex
	var last time.Time
	return func(done, total int, target string) {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); done == total || t.Sub(last) >= 2*time.Second {
			last = t
			fmt.Fprintf(w, "review: scanned %d/%d (%s)\n", done, total, target)
		}
	}
}

func runReviewMerge(env Env, args []string) int {
	fs := flag.NewFlagSet("review merge", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	format := fs.String("format", "text", "output: text, json, sarif or github")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() == 0 || !reviewValidFormat(*format) {
		fmt.Fprintln(env.Stderr, "jitkey review merge: give the JSON outputs of the shards: jitkey review merge [--format F] FILE...")
		return ExitUsage
	}
	var parts []*reviewOutput
	for _, name := range fs.Args() {
		if !filepath.IsAbs(name) {
			name = filepath.Join(env.Dir, name)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(env.Stderr, "jitkey review merge: %v\n", err)
			return ExitUsage
		}
		var o reviewOutput
		if err := json.Unmarshal(data, &o); err != nil || o.Inventory == nil {
			fmt.Fprintf(env.Stderr, "jitkey review merge: %s is not the JSON output of 'jitkey review --format json'\n", name)
			return ExitUsage
		}
		parts = append(parts, &o)
	}
	out := mergeOutputs(parts)
	if err := writeReview(env, *format, out); err != nil {
		fmt.Fprintf(env.Stderr, "jitkey review merge: %v\n", err)
		return ExitUsage
	}
	if out.Partial {
		return ExitFindings
	}
	return ExitOK
}

// mergeOutputs combines the outputs of the shards of one review.
func mergeOutputs(parts []*reviewOutput) *reviewOutput {
	out := &reviewOutput{Version: 1, Issues: &issue.Result{}}
	var invs []*inventory.Inventory
	seen := map[string]bool{}
	seenSup := map[string]bool{}
	for _, p := range parts {
		invs = append(invs, p.Inventory)
		if out.Policy == "" {
			out.Policy = p.Policy
		}
		out.Partial = out.Partial || p.Partial
		for _, f := range p.Findings {
			if !seen[f.Fingerprint] {
				seen[f.Fingerprint] = true
				out.Findings = append(out.Findings, f)
			}
		}
		for _, s := range p.Suppressed {
			if !seenSup[s.Fingerprint] {
				seenSup[s.Fingerprint] = true
				out.Suppressed = append(out.Suppressed, s)
			}
		}
		if p.Issues != nil {
			out.Issues.Actions = append(out.Issues.Actions, p.Issues.Actions...)
			out.Issues.Remediations = append(out.Issues.Remediations, p.Issues.Remediations...)
			out.Issues.Deferred += p.Issues.Deferred
			out.Issues.Created += p.Issues.Created
			out.Issues.Partial = out.Issues.Partial || p.Issues.Partial
		}
	}
	out.Inventory = inventory.Merge(invs...)
	review.SortFindings(out.Findings)
	return out
}
