package lint_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/report"
)

// findingCases are policies with at least one finding of every lint check,
// waivers included, as validate reports them (lint, then the waivers).
var findingCases = []struct {
	name   string
	holder lint.Holder
	rules  string // the rules list's elements
	extra  string // other top-level fields
}{
	{"glob value, short ref, unknown event", lint.Holder{}, rule("r", `repository: "acme/*", ref: "main", event_name: "pull-request"`, `contents: "read"`), ""},
	{"glob and unanchored patterns, workflow ref without @", lint.Holder{}, rule("r",
		`repository: {pattern: "acme/*"}, ref: {pattern: "^refs/heads/main"}, workflow_ref: "acme/api/.github/workflows/d.yml"`, `contents: "read"`), ""},
	{"invisible character", lint.Holder{}, rule("r", "environment: \"prod\u200b\"", `contents: "read"`), ""},
	{"duplicate and shadowed rules", lint.Holder{}, rule("a", `repository: "acme/api"`, `contents: "read"`) + ", " +
		rule("b", `repository: "acme/api"`, `contents: "read"`) + ", " +
		rule("c", `repository: "acme/api", ref: "refs/heads/main"`, `statuses: "read"`), ""},
	{"write on pull requests, unverified, every repository", lint.Holder{}, `{name: "pr", match: {repository: "acme/api", event_name: "pull_request"}, grant: {repositories: "*", permissions: {contents: "write"}}}`, ""},
	{"write on any event and unprotected ref", lint.Holder{}, `{name: "w", requireVerified: true, match: {repository: "acme/api", ref: "refs/heads/main"}, grant: {repositories: ["caller"], permissions: {contents: "write"}}}`, ""},
	{"write unconstrained, admin level", lint.Holder{}, `{name: "u", requireVerified: true, match: {repository: "acme/api", event_name: "push"}, grant: {repositories: ["caller"], permissions: {organization_projects: "admin", contents: "write"}}}`, ""},
	{"the organisation policy's repository", lint.Holder{Repository: "acme/.github", Org: true},
		`{name: "o", requireVerified: true, match: {repository: "acme/api", ref: "refs/heads/main", ref_protected: true, environment: "prod"}, grant: {repositories: ["acme/.github"], permissions: {contents: "write"}}}`, ""},
	{"a repository's own policy", lint.Holder{Repository: "acme/api"},
		`{name: "s", requireVerified: true, match: {repository: "acme/api", ref: "refs/heads/main", ref_protected: true, environment: "prod"}, grant: {repositories: ["caller"], permissions: {workflows: "write"}}}`, ""},
	{"waived, expired, unused and invalid waivers", lint.Holder{}, `{name: "pr", requireVerified: true, match: {repository: "acme/api", event_name: "pull_request", environment: "preview"}, grant: {repositories: ["caller"], permissions: {deployments: "write"}}}`,
		`waivers: [
	{code: "write-on-pull-request", rule: "pr", reason: "previews run no fork code", approver: "@acme/security", expires: "2027-06-30"},
	{code: "write-unprotected-ref", rule: "pr", reason: "until the ruleset lands", approver: "@acme/security", expires: "2026-01-31"},
	{code: "admin-level", rule: "pr", reason: "old", approver: "@acme/security", expires: "2027-06-30"},
	{code: "write-on-pull-requests", rule: "pr", reason: "typo", approver: "@acme/security", expires: "2027-06-30"},
	{code: "all-repositories", rule: "pd", reason: "typo", approver: "@acme/security", expires: "2027-06-30"},
]`},
}

func rule(name, match, perms string) string {
	return `{name: "` + name + `", match: {` + match + `}, grant: {repositories: ["caller"], permissions: {` + perms + `}}}`
}

// TestGoldenFindings: every lint finding's message, in the text (as
// jitkey validate prints it: file:line:col: severity: message [code]), GitHub,
// JSON and SARIF formats, is the one in testdata/findings.*.golden
// (go test -update rewrites them), and every check has a case.
func TestGoldenFindings(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var text strings.Builder
	var all []policy.Diagnostic
	seen := map[string]bool{}
	for _, c := range findingCases {
		src := "apiVersion: \"jitkey.dev/v1\"\nrules: [" + c.rules + "]\n" + c.extra + "\n"
		s, err := policy.LoadBytes("p.cue", []byte(src))
		require.NoError(t, err, c.name)
		diags := lint.Waive(lint.LintHeld(s, c.holder), s, now)
		require.NotEmpty(t, diags, c.name)
		text.WriteString("# " + c.name + "\n")
		for _, d := range diags {
			fmt.Fprintf(&text, "%s:%d:%d: %s: %s [%s]\n", d.File, d.Line, d.Col, d.Severity, d.Message, d.Code)
			seen[d.Code] = true
		}
		all = append(all, diags...)
	}
	for _, check := range lint.Checks() {
		assert.True(t, seen[check.Code], "no case finds %s; add one to findingCases", check.Code)
	}
	assert.True(t, slices.ContainsFunc(all, func(d policy.Diagnostic) bool { return strings.HasPrefix(d.Message, "waived until") }), "a waived finding")
	checkGolden(t, "findings.golden", text.String())
	r := &report.Report{Command: "validate", Files: []string{"p.cue"}, Diagnostics: all}
	for _, format := range []string{"github", "json", "sarif"} {
		got, err := report.Render(format, r)
		require.NoError(t, err, format)
		checkGolden(t, "findings."+format+".golden", got)
	}
}
