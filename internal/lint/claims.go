package lint

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"

	"github.com/jitkey/jitkey/internal/policy"
)

// The codes of conditions that can never match what GitHub puts in a
// token, or match far more than they appear to.
const (
	CodeGlobValue       = "glob-value"
	CodeGlobPattern     = "glob-pattern"
	CodeUnanchored      = "unanchored-pattern"
	CodeShortRef        = "short-ref"
	CodeUnknownEvent    = "unknown-event"
	CodeWorkflowRefNoAt = "workflow-ref-without-at"
	CodeInvisible       = "invisible-character"
)

func claimChecks() []CheckInfo {
	return []CheckInfo{
		{CodeGlobValue, policy.SeverityWarning, "a value with * or ? is compared exactly, so it matches only a claim with that very character"},
		{CodeGlobPattern, policy.SeverityWarning, "a pattern written as a glob: in RE2, * repeats the character before it"},
		{CodeUnanchored, policy.SeverityWarning, "a pattern on a ref or workflow ref without ^ and $, or on a repository or owner without ^, which matches inside longer values"},
		{CodeShortRef, policy.SeverityWarning, "a ref without refs/heads/ or refs/tags/: GitHub's ref claims are full refs"},
		{CodeUnknownEvent, policy.SeverityWarning, "an event name that no GitHub workflow trigger has"},
		{CodeWorkflowRefNoAt, policy.SeverityWarning, "a workflow ref without @REF: GitHub's workflow_ref claims always end in @ and the ref"},
		{CodeInvisible, policy.SeverityWarning, "an invisible or control character, or surrounding space, in a value or pattern"},
	}
}

// events are the event_name values GitHub's workflow triggers produce
// (https://docs.github.com/actions/reference/workflows-and-actions/events-that-trigger-workflows),
// with "dynamic" (GitHub's own dynamic workflows: code scanning default
// setup, Dependabot updates).
var events = []string{
	"branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment", "deployment_status",
	"discussion", "discussion_comment", "dynamic", "fork", "gollum", "image_version", "issue_comment", "issues", "label",
	"merge_group", "milestone", "page_build", "project", "project_card", "project_column", "public", "pull_request",
	"pull_request_review", "pull_request_review_comment", "pull_request_target", "push", "registry_package",
	"release", "repository_dispatch", "schedule", "status", "watch", "workflow_dispatch", "workflow_run",
}

// refClaims hold full refs; workflowRefClaims hold OWNER/REPO/PATH@REF.
var (
	refClaims         = []string{"ref"}
	workflowRefClaims = []string{"workflow_ref", "job_workflow_ref"}
)

// claimFindings checks each condition of r against what GitHub puts in
// the claim it names.
func claimFindings(r policy.Rule) []policy.Diagnostic {
	var out []policy.Diagnostic
	for _, c := range r.Match {
		p := pos(c.Pos, r.Pos)
		for _, v := range c.Values {
			out = append(out, valueFindings(r.Name, c.Claim, v, p)...)
		}
		for _, pat := range c.Patterns {
			out = append(out, patternFindings(r.Name, c.Claim, pat, p)...)
		}
	}
	return out
}

func valueFindings(rule, claim, v string, p policy.Pos) []policy.Diagnostic {
	if d, ok := invisible(rule, claim, v, "value", p); ok {
		return []policy.Diagnostic{d}
	}
	var out []policy.Diagnostic
	if strings.ContainsAny(v, "*?") {
		out = append(out, diag(p, CodeGlobValue, rule,
			"rule %q: %s %q is compared exactly, so it matches only a claim containing %q itself; for any of several values write {pattern: %q}",
			rule, claim, v, globChar(v), globToRegexp(v)))
	}
	switch {
	case slices.Contains(refClaims, claim):
		if fix, ok := fullRef(v); ok {
			out = append(out, diag(p, CodeShortRef, rule,
				"rule %q: ref %q never matches: GitHub's ref claim is a full ref (refs/heads/BRANCH, refs/tags/TAG); write %q", rule, v, fix))
		}
	case slices.Contains(workflowRefClaims, claim):
		out = append(out, workflowRefFindings(rule, claim, v, p)...)
	case claim == "event_name":
		out = append(out, eventFindings(rule, v, p)...)
	}
	return out
}

func workflowRefFindings(rule, claim, v string, p policy.Pos) []policy.Diagnostic {
	path, ref, ok := strings.Cut(v, "@")
	if !ok {
		return []policy.Diagnostic{diag(p, CodeWorkflowRefNoAt, rule,
			"rule %q: %s %q never matches: GitHub's %s is OWNER/REPO/.github/workflows/FILE@REF; write %q, or {pattern: %q} for any ref",
			rule, claim, v, claim, v+"@refs/heads/main", "^"+regexpQuote(v)+"@")}
	}
	if fix, short := fullRef(ref); short && !isSHA(ref) {
		return []policy.Diagnostic{diag(p, CodeShortRef, rule,
			"rule %q: %s %q never matches: the ref after @ is a full ref in GitHub's claim; write %q", rule, claim, v, path+"@"+fix)}
	}
	return nil
}

func eventFindings(rule, v string, p policy.Pos) []policy.Diagnostic {
	if slices.Contains(events, v) {
		return nil
	}
	if v == "workflow_call" {
		return []policy.Diagnostic{diag(p, CodeUnknownEvent, rule,
			"rule %q: event_name %q never matches: a reusable workflow's token carries the calling workflow's event; match the caller's events and job_workflow_ref for the reusable workflow",
			rule, v)}
	}
	hint := ""
	if near := policy.Nearest(v, events); near != "" {
		hint = fmt.Sprintf("; did you mean %q?", near)
	}
	return []policy.Diagnostic{diag(p, CodeUnknownEvent, rule,
		"rule %q: event_name %q is not an event that triggers GitHub workflows, so it never matches%s", rule, v, hint)}
}

func patternFindings(rule, claim, pat string, p policy.Pos) []policy.Diagnostic {
	if d, ok := invisible(rule, claim, pat, "pattern", p); ok {
		return []policy.Diagnostic{d}
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return nil // the loader reports it
	}
	if looksGlob(pat) {
		return []policy.Diagnostic{diag(p, CodeGlobPattern, rule,
			"rule %q: %s pattern %q reads like a glob, but patterns are RE2 regular expressions, where * repeats the character before it; write %q",
			rule, claim, pat, globToRegexp(strings.TrimSuffix(strings.TrimPrefix(pat, "^"), "$")))}
	}
	start, end := anchored(re)
	if strings.HasSuffix(pat, "/") || strings.HasSuffix(pat, "@") {
		end = true // a prefix that ends a path segment or the path: what follows is meant to vary
	}
	switch {
	case (slices.Contains(refClaims, claim) || slices.Contains(workflowRefClaims, claim)) && (!start || !end):
		body, s, e := pat, start, end
		if re.Op == syntax.OpAlternate {
			body, s, e = "(?:"+pat+")", false, false
		}
		fix := fmt.Sprintf("write %q", anchor(body, s, e))
		if !end {
			fix += fmt.Sprintf(", or say what may follow, as in %q", anchor(body, s, true)+"[^/]*$")
		}
		return []policy.Diagnostic{diag(p, CodeUnanchored, rule,
			"rule %q: %s pattern %q is not anchored, so it also matches longer values (%s); %s",
			rule, claim, pat, unanchoredExample(claim, start), fix)}
	case (claim == "repository" || claim == "repository_owner") && !start:
		return []policy.Diagnostic{diag(p, CodeUnanchored, rule,
			"rule %q: %s pattern %q is not anchored at its start, so it also matches other owners' names that end the same (evil-%s, for one); write %q",
			rule, claim, pat, strings.TrimSuffix(pat, "$"), anchor(pat, false, true))}
	}
	return nil
}

// looksGlob reports whether a pattern uses * as a glob does: right after
// a / or at its start, or as **.
func looksGlob(p string) bool {
	return strings.HasPrefix(p, "*") || strings.Contains(p, "/*") || strings.Contains(p, "**") || strings.Contains(p, "@*")
}

// globToRegexp turns a glob into an anchored RE2 pattern: * is anything
// but a /, ** anything, ? one character.
func globToRegexp(g string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch {
		case strings.HasPrefix(g[i:], "**"):
			b.WriteString(".*")
			i++
		case g[i] == '*':
			b.WriteString("[^/]*")
		case g[i] == '?':
			b.WriteString(".")
		default:
			b.WriteString(regexpQuote(g[i : i+1]))
		}
	}
	b.WriteString("$")
	return b.String()
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func globChar(v string) string {
	if strings.Contains(v, "*") {
		return "*"
	}
	return "?"
}

// fullRef returns the full ref for a short one ("main" gives
// "refs/heads/main", "v1.2.0" "refs/tags/v1.2.0"), and false for a value
// that already starts with refs/.
func fullRef(v string) (string, bool) {
	if strings.HasPrefix(v, "refs/") {
		return "", false
	}
	if len(v) > 1 && v[0] == 'v' && v[1] >= '0' && v[1] <= '9' {
		return "refs/tags/" + v, true
	}
	return "refs/heads/" + strings.TrimPrefix(v, "heads/"), true
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// anchored reports whether every match of re must start at the start
// of the value (start) and end at its end (end).
func anchored(re *syntax.Regexp) (start, end bool) {
	switch re.Op {
	case syntax.OpConcat:
		if len(re.Sub) == 0 {
			return false, false
		}
		s, _ := anchored(re.Sub[0])
		_, e := anchored(re.Sub[len(re.Sub)-1])
		return s, e
	case syntax.OpCapture:
		return anchored(re.Sub[0])
	case syntax.OpAlternate:
		start, end = true, true
		for _, sub := range re.Sub {
			s, e := anchored(sub)
			start, end = start && s, end && e
		}
		return start, end
	case syntax.OpBeginText:
		return true, false
	case syntax.OpEndText:
		return false, true
	}
	return false, false
}

func anchor(p string, start, end bool) string {
	if !start {
		p = "^" + p
	}
	if !end {
		p += "$"
	}
	return p
}

func unanchoredExample(claim string, start bool) string {
	switch {
	case claim == "ref" && start:
		return "refs/heads/main-evil, for one"
	case claim == "ref":
		return "refs/heads/evil/refs/heads/main, for one"
	case start:
		return "a workflow of the same name on another ref, for one"
	}
	return "another repository's workflow whose path ends the same, for one"
}

// invisible finds a character a reader cannot see in a value or pattern:
// format characters (zero-width spaces and joiners, bidirectional
// controls, the byte-order mark), control characters, spaces other than
// U+0020, and space at either end. GitHub's claims carry none.
func invisible(rule, claim, v, what string, p policy.Pos) (policy.Diagnostic, bool) {
	if strings.TrimSpace(v) != v {
		return diag(p, CodeInvisible, rule, "rule %q: %s %s %q starts or ends with space, which no claim does; remove it",
			rule, claim, what, v), true
	}
	for i, r := range v {
		if unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || (unicode.IsSpace(r) && r != ' ') || r == '\u00a0' {
			return diag(p, CodeInvisible, rule,
				"rule %q: %s %s %q has the invisible character U+%04X at byte %d, which no claim carries; retype the value",
				rule, claim, what, v, r, i), true
		}
	}
	return policy.Diagnostic{}, false
}
