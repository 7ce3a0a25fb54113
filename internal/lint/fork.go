package lint

import (
	"fmt"
	"strings"

	"github.com/jitkey/jitkey/internal/policy"
)

// forkSubject finds a rule granting write that pull_request or
// pull_request_target jobs can match through a claim pullRequestEvents
// does not read: a sub condition that admits a pull request's subject
// (repo:OWNER/REPO:pull_request, which both events carry, the second with
// the base branch's ref), or, without a ref condition, a workflow_ref or
// job_workflow_ref condition that admits a pull request's merge ref.
// Such jobs run code from forks that nobody has reviewed. Patterns are
// judged on subjects and refs built from their literal prefix and the
// rule's repository values: a heuristic that errs on "no".
func forkSubject(r policy.Rule, what string) (policy.Diagnostic, bool) {
	if constrained(r, "event_name") {
		return policy.Diagnostic{}, false // pullRequestEvents judged it
	}
	if c, ok := condition(r, "sub"); ok {
		if s, ok := firstAdmitted(c, subjectCandidates(r, c), func(s string) bool { return strings.HasSuffix(s, ":pull_request") }); ok {
			return diag(pos(c.Pos, r.Pos), CodeWriteOnPullRequest, r.Name,
				"rule %q grants write on %s to pull_request and pull_request_target jobs: its sub condition admits %q, the subject both events carry (pull_request_target runs with the base branch's ref), and they run code from forks nobody has reviewed; match a push or environment subject (repo:OWNER/REPO:ref:refs/heads/main, repo:OWNER/REPO:environment:NAME) or add event_name: [\"push\", \"workflow_dispatch\"]",
				r.Name, what, s), true
		}
	}
	if constrained(r, "ref") {
		return policy.Diagnostic{}, false // a ref condition pins pull_request jobs out, or write-on-pull-request said so
	}
	for _, claim := range []string{"workflow_ref", "job_workflow_ref"} {
		c, ok := condition(r, claim)
		if !ok {
			continue
		}
		if s, ok := firstAdmitted(c, workflowRefCandidates(r, c), func(s string) bool { return strings.Contains(s, "@refs/pull/") }); ok {
			return diag(pos(c.Pos, r.Pos), CodeWriteOnPullRequest, r.Name,
				"rule %q grants write on %s to pull_request jobs: its %s condition admits %q, a workflow run on a pull request's merge ref, with code from a fork nobody has reviewed; pin the ref after @ (@refs/heads/main) or add ref: \"refs/heads/main\" and event_name: [\"push\", \"workflow_dispatch\"]",
				r.Name, what, claim, s), true
		}
	}
	return policy.Diagnostic{}, false
}

// firstAdmitted returns the first candidate that is what a pull request
// job carries (real) and that the condition admits.
func firstAdmitted(c policy.Condition, candidates []string, real func(string) bool) (string, bool) {
	for _, s := range candidates {
		if real(s) && c.Admits(s) {
			return s, true
		}
	}
	return "", false
}

// prefixes are the literal texts a condition's values and patterns start
// with: each value, each pattern's anchored literal prefix, and for an
// unanchored pattern the text it must contain being unknown, "" (the
// candidates built from the rule's repositories then stand in).
func prefixes(c policy.Condition) []string {
	out := append([]string(nil), c.Values...)
	for _, p := range c.Patterns {
		prefix, _ := anchoredPrefix(p)
		out = append(out, prefix)
	}
	return out
}

// subjectCandidates are pull-request subjects the condition might admit:
// completions of its prefixes, and the subject of each repository the rule
// names.
func subjectCandidates(r policy.Rule, c policy.Condition) []string {
	var out []string
	for _, p := range prefixes(c) {
		for _, rest := range []string{"pull_request", ":pull_request", "x:pull_request", "x/x:pull_request", "/x:pull_request", "x@1/x@1:pull_request", "@1/x@1:pull_request"} {
			out = append(out, p+rest)
		}
		out = append(out, p)
	}
	repos, _ := condition(r, "repository")
	for _, v := range append(repos.Values, "acme/api") {
		out = append(out, "repo:"+v+":pull_request")
	}
	return out
}

// workflowRefCandidates are workflow refs of pull request jobs the
// condition might admit, built as subjectCandidates are.
func workflowRefCandidates(r policy.Rule, c policy.Condition) []string {
	const merge = "refs/pull/1/merge"
	var out []string
	for _, p := range prefixes(c) {
		for _, rest := range []string{merge, "@" + merge, ".yml@" + merge, "x.yml@" + merge, "/.github/workflows/x.yml@" + merge} {
			out = append(out, p+rest)
		}
		out = append(out, p)
		if i := strings.LastIndex(p, "@"); i >= 0 {
			out = append(out, p[:i+1]+merge)
		}
	}
	repos, _ := condition(r, "repository")
	for _, v := range repos.Values {
		out = append(out, fmt.Sprintf("%s/.github/workflows/x.yml@%s", v, merge))
	}
	return out
}
