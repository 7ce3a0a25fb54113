package lint_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

func at(line int) policy.Pos { return policy.Pos{File: "p.cue", Line: line, Col: 3} }

func vals(claim string, line int, v ...string) policy.Condition {
	return policy.Condition{Claim: claim, Values: v, Pos: at(line)}
}

func pats(claim string, line int, p ...string) policy.Condition {
	return policy.Condition{Claim: claim, Patterns: p, Pos: at(line)}
}

// safe returns a rule that passes every check; cases change one thing.
func safe(name string, line int) policy.Rule {
	return policy.Rule{
		Name: name, Pos: at(line), RequireVerified: true,
		Match: []policy.Condition{
			vals("repository", line+1, "acme/api"),
			vals("ref", line+2, "refs/heads/main"),
			vals("environment", line+3, "production"),
		},
		Grant: policy.Grant{Caller: true, Permissions: map[string]string{"contents": "write"}, Pos: at(line + 4)},
	}
}

type finding struct {
	Code string
	Line int
	Sev  string
}

func TestLint(t *testing.T) {
	t.Parallel()
	readOnly := func(r policy.Rule) policy.Rule {
		r.Grant.Permissions = map[string]string{"contents": "read"}
		return r
	}
	with := func(r policy.Rule, f func(*policy.Rule)) policy.Rule { f(&r); return r }
	tests := []struct {
		name string
		set  policy.Set
		want []finding
	}{
		{name: "clean", set: policy.Set{Rules: []policy.Rule{safe("a", 1), with(safe("b", 10), func(r *policy.Rule) {
			r.Match[2] = vals("environment", 13, "staging")
		})}}},
		{name: "duplicate rule", set: policy.Set{Rules: []policy.Rule{safe("a", 1), safe("b", 10)}},
			want: []finding{{lint.CodeDuplicateRule, 10, "warning"}}},
		{name: "shadowed by broader rule", set: policy.Set{Rules: []policy.Rule{
			with(readOnly(safe("broad", 1)), func(r *policy.Rule) { r.Match = r.Match[:1] }),
			safe("narrow", 10),
		}}, want: []finding{{lint.CodeShadowedRule, 10, "warning"}}},
		{name: "shadowed by pattern", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match[2] = pats("environment", 4, "^prod") }),
			safe("b", 10),
		}}, want: []finding{{lint.CodeShadowedRule, 10, "warning"}}},
		{name: "not shadowed: earlier needs verification", set: policy.Set{Rules: []policy.Rule{
			readOnly(safe("a", 1)),
			with(readOnly(safe("b", 10)), func(r *policy.Rule) { r.RequireVerified = false }),
		}}},
		{name: "not shadowed: later rule is broader", set: policy.Set{Rules: []policy.Rule{
			safe("narrow", 1),
			with(readOnly(safe("broad", 10)), func(r *policy.Rule) { r.Match = r.Match[:1] }),
		}}},
		{name: "shadowed by a rule of patterns only", set: policy.Set{Rules: []policy.Rule{
			{Name: "any-api", Pos: at(1), RequireVerified: true, Match: []policy.Condition{pats("repository", 2, "^acme/")},
				Grant: policy.Grant{Permissions: map[string]string{"contents": "read"}}},
			readOnly(safe("b", 10)),
			readOnly(with(safe("c", 20), func(r *policy.Rule) { r.Match[0] = vals("repository", 21, "other/x") })),
		}}, want: []finding{{lint.CodeShadowedRule, 10, "warning"}}},
		{name: "not shadowed: different patterns", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match[2] = pats("environment", 4, "^prod") }),
			with(safe("b", 10), func(r *policy.Rule) { r.Match[2] = pats("environment", 13, "^production$") }),
		}}},
		{name: "write on pull_request_target", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = append(r.Match, vals("event_name", 6, "push", "pull_request_target"))
			}),
		}}, want: []finding{{lint.CodeWriteOnPullRequest, 6, "error"}}},
		{name: "read on pull_request is fine", set: policy.Set{Rules: []policy.Rule{
			with(readOnly(safe("a", 1)), func(r *policy.Rule) {
				r.Match = append(r.Match, vals("event_name", 6, "pull_request"))
			}),
		}}},
		{name: "write on refs matching pull requests", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match[1] = pats("ref", 3, "^refs/") }),
		}}, want: []finding{{lint.CodeWriteOnPullRequest, 3, "error"}}},
		{name: "write without ref or environment", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match = r.Match[:1] }),
		}}, want: []finding{{lint.CodeWriteUnconstrained, 1, "error"}}},
		{name: "write on unprotected ref", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match = append(r.Match[:2], vals("event_name", 9, "push")) }),
		}}, want: []finding{{lint.CodeWriteUnprotected, 3, "warning"}}},
		{name: "write on protected ref", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = append(r.Match[:2], vals("ref_protected", 9, "true"), vals("event_name", 10, "push"))
			}),
		}}},
		{name: "write on unprotected ref to any event", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match = r.Match[:2] }),
		}}, want: []finding{{lint.CodeWriteAnyEvent, 3, "warning"}, {lint.CodeWriteUnprotected, 3, "warning"}}},
		// pull_request_target and workflow_run jobs carry the base branch's
		// ref, protected or not: only event_name or an environment keeps them out.
		{name: "write on protected main to any event", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match = append(r.Match[:2], vals("ref_protected", 9, "true")) }),
		}}, want: []finding{{lint.CodeWriteAnyEvent, 3, "warning"}}},
		{name: "write on protected main to push and workflow_dispatch", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = append(r.Match[:2], vals("ref_protected", 9, "true"), vals("event_name", 10, "push", "workflow_dispatch"))
			}),
		}}},
		{name: "write on main to any event with pull_request_target listed", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = append(r.Match[:2], vals("ref_protected", 9, "true"), pats("event_name", 10, "^pull_request"))
			}),
		}}, want: []finding{{lint.CodeWriteOnPullRequest, 10, "error"}}},
		{name: "write on a branch pattern to any event", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], pats("ref", 3, "^refs/heads/release-"), vals("ref_protected", 9, "true")}
			}),
		}}, want: []finding{{lint.CodeWriteAnyEvent, 3, "warning"}}},
		{name: "write on tags to any event", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], pats("ref", 3, "^refs/tags/v[0-9]+$"), vals("ref_protected", 9, "true")}
			}),
			with(safe("b", 10), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], vals("ref", 12, "refs/tags/stable"), vals("ref_protected", 13, "true")}
			}),
			with(safe("c", 20), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], pats("ref", 22, "v[0-9]+$"), vals("ref_type", 23, "tag"), vals("ref_protected", 24, "true")}
			}),
		}}},
		{name: "write on an unanchored ref pattern to any event", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], pats("ref", 3, "refs/tags/"), vals("ref_protected", 9, "true")}
			}),
		}}, want: []finding{{lint.CodeWriteAnyEvent, 3, "warning"}}},
		{name: "write on main to any event in an environment", set: policy.Set{Rules: []policy.Rule{safe("a", 1)}}},
		// A pull_request job may name any environment: an environment alone
		// does not keep pull requests out.
		{name: "write in an environment, no ref nor event_name", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.Match = []policy.Condition{r.Match[0], r.Match[2]} }),
		}}, want: []finding{{lint.CodeWriteOnPullRequest, 4, "error"}}},
		{name: "write in an environment on push", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], r.Match[2], vals("event_name", 9, "push")}
			}),
		}}},
		{name: "write in an environment on push and pull_request", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Match = []policy.Condition{r.Match[0], r.Match[2], vals("event_name", 9, "push", "pull_request")}
			}),
		}}, want: []finding{{lint.CodeWriteOnPullRequest, 9, "error"}}},
		{name: "read in an environment, no ref nor event_name", set: policy.Set{Rules: []policy.Rule{
			readOnly(with(safe("a", 1), func(r *policy.Rule) { r.Match = []policy.Condition{r.Match[0], r.Match[2]} })),
		}}},
		{name: "write unverified", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) { r.RequireVerified = false }),
		}}, want: []finding{{lint.CodeWriteUnverified, 1, "warning"}}},
		{name: "all repositories and admin", set: policy.Set{Rules: []policy.Rule{
			with(safe("a", 1), func(r *policy.Rule) {
				r.Grant.AllRepositories = true
				r.Grant.Permissions = map[string]string{"organization_projects": "admin"}
			}),
		}}, want: []finding{{lint.CodeAdminLevel, 5, "warning"}, {lint.CodeAllRepositories, 5, "error"}}},
		{name: "star repository", set: policy.Set{Rules: []policy.Rule{
			with(readOnly(safe("a", 1)), func(r *policy.Rule) { r.Grant.Repositories = []string{"*"} }),
		}}, want: []finding{{lint.CodeAllRepositories, 5, "error"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []finding
			for _, d := range lint.Lint(&tt.set) {
				if d.Code == lint.CodeUnanchored {
					continue // these cases use short patterns; TestClaimChecks covers anchoring
				}
				got = append(got, finding{d.Code, d.Line, string(d.Severity)})
				assert.Equal(t, "p.cue", d.File)
				assert.NotEmpty(t, d.Message)
				assert.NotEmpty(t, d.Rule)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLintMessages(t *testing.T) {
	t.Parallel()
	r := safe("deploy", 1)
	r.Match = []policy.Condition{r.Match[0], r.Match[1]}
	envOnly := safe("env-only", 10)
	envOnly.Match = []policy.Condition{envOnly.Match[0], envOnly.Match[2]}
	got := lint.Lint(&policy.Set{Rules: []policy.Rule{r, envOnly}})
	var msgs []string
	for _, d := range got {
		msgs = append(msgs, d.Message)
	}
	assert.Contains(t, msgs, `rule "deploy" grants write on contents to any event on its branches, pull_request_target and workflow_run jobs included: `+
		`they carry the base branch's ref and often handle a pull request's code or artifacts; add event_name: ["push", "workflow_dispatch"] or an environment with required reviewers`)
	assert.Contains(t, msgs, `rule "env-only" grants write on contents to every job in environment production, pull_request and pull_request_target jobs included, `+
		`which run code not yet reviewed; add event_name: ["push", "workflow_dispatch"] or a protected ref`)
}

func TestLintNil(t *testing.T) {
	t.Parallel()
	assert.Empty(t, lint.Lint(nil))
}

func TestChecksHaveSeverities(t *testing.T) {
	t.Parallel()
	for _, c := range lint.Checks() {
		assert.Contains(t, []string{"error", "warning", "notice"}, string(c.Severity), c.Code)
		assert.NotEmpty(t, c.Description)
	}
}

// generated returns n rules of distinct repositories, five environments
// each, plus, at the end, one rule that the first rule shadows.
func generated(n int) *policy.Set {
	s := &policy.Set{}
	for i := range n {
		r := safe(fmt.Sprintf("r%d", i), 10*i+1)
		r.Match[0] = vals("repository", 10*i+2, fmt.Sprintf("acme/svc-%d", i/5))
		r.Match[2] = vals("environment", 10*i+4, fmt.Sprintf("env-%d", i%5))
		s.Rules = append(s.Rules, r)
	}
	late := s.Rules[0]
	late.Name, late.Pos = "late", at(10*n+1)
	s.Rules = append(s.Rules, late)
	return s
}

func TestLintManyRules(t *testing.T) {
	t.Parallel()
	got := lint.Lint(generated(5000))
	require.Len(t, got, 1)
	assert.Equal(t, lint.CodeDuplicateRule, got[0].Code)
	assert.Equal(t, "late", got[0].Rule)
}

func BenchmarkLint5000(b *testing.B) {
	s := generated(5000)
	for b.Loop() {
		lint.Lint(s)
	}
}
