package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/jitkey/jitkey/internal/action"
	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/issue"
	"github.com/jitkey/jitkey/internal/review"
)

// writeReview prints the review in the chosen format on stdout and, inside
// GitHub Actions, appends the summary table to the job summary.
func writeReview(env Env, format string, out *reviewOutput) error {
	var err error
	switch format {
	case "json":
		// Compact: an organisation's review runs to tens of megabytes, and
		// indenting would hold a second copy in memory (pipe it to jq to read it).
		err = json.NewEncoder(env.Stdout).Encode(out)
	case "sarif":
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(reviewSARIF(out))
	case "github":
		err = writeReviewAnnotations(env.Stdout, out)
	default:
		if env.Getenv("GITHUB_ACTIONS") != "true" {
			err = writeReviewText(env.Stdout, out)
			break
		}
		// In a workflow run, IDs and reasons (which credential names and
		// GitHub's answers reach) must not read as workflow commands.
		var b strings.Builder
		if err = writeReviewText(&b, out); err == nil {
			_, err = io.WriteString(env.Stdout, action.Neutral(b.String()))
		}
	}
	if err != nil {
		return fmt.Errorf("write review: %w", err)
	}
	if path := env.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("write job summary: %w", err)
		}
		defer f.Close()
		if _, err := io.WriteString(f, reviewSummary(out)); err != nil {
			return fmt.Errorf("write job summary: %w", err)
		}
	}
	return nil
}

func reviewStatus(out *reviewOutput) string {
	if out.Partial {
		return "PARTIAL"
	}
	return "complete"
}

func reviewIssueCounts(r *issue.Result) map[issue.Op]int {
	m := map[issue.Op]int{}
	if r != nil {
		for _, a := range r.Actions {
			m[a.Op]++
		}
	}
	return m
}

func reviewOpsLine(r *issue.Result) string {
	if r == nil {
		return "issues not kept (--no-issues or the scan failed)"
	}
	m := reviewIssueCounts(r)
	var parts []string
	for _, op := range []issue.Op{issue.OpCreate, issue.OpUpdate, issue.OpReopen, issue.OpClose, issue.OpDedupe, issue.OpRemind, issue.OpRevoke, issue.OpRefuse, issue.OpDefer, issue.OpUnfiled, issue.OpFailed, issue.OpSkipped} {
		if m[op] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", op, m[op]))
		}
	}
	if len(parts) == 0 {
		return "issues: no change"
	}
	s := "issues: " + strings.Join(parts, ", ")
	if len(r.Actions) > 0 && r.Actions[0].DryRun {
		s += " (dry run: nothing written)"
	}
	return s
}

func writeReviewText(w io.Writer, out *reviewOutput) error {
	inv := out.Inventory
	scanned := 0
	for _, r := range inv.Repos {
		if r.Skipped == "" {
			scanned++
		}
	}
	fmt.Fprintf(w, "jitkey review: %d repositories scanned (%d skipped), %d credentials, %d findings, %d exempted, %d API calls: %s\n",
		scanned, len(inv.Repos)-scanned, len(inv.Credentials), len(out.Findings), len(out.Suppressed), inv.Calls, reviewStatus(out))
	if len(out.Findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nSEVERITY\tFINDING\tKIND\tCREDENTIAL\tISSUE IN")
		for _, f := range out.Findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Type, f.Kind, f.Credential.ID, f.IssueRepo)
		}
		tw.Flush()
	}
	if gaps := inv.Gaps(); len(gaps) > 0 {
		fmt.Fprintf(w, "\nNot reviewed in full (%d): issues about these are left untouched\n", len(gaps))
		for _, g := range gaps {
			fmt.Fprintf(w, "  %s %s: %s: %s\n", g.Target, g.Kind, g.Status, g.Reason)
		}
	}
	fmt.Fprintf(w, "\n%s\n", reviewOpsLine(out.Issues))
	if out.Issues != nil {
		for _, a := range out.Issues.Actions {
			if a.Op == issue.OpFailed || a.Op == issue.OpSkipped || a.Op == issue.OpUnfiled {
				fmt.Fprintf(w, "  %s %s#%d: %s\n", a.Op, a.Repo, a.Number, a.Reason)
			}
		}
		if out.Issues.Deferred > 0 {
			fmt.Fprintf(w, "  %d findings over the cap of new issues per run will be opened by the next runs\n", out.Issues.Deferred)
		}
		for _, r := range out.Issues.Remediations {
			res := "done"
			if r.Error != "" {
				res = "FAILED: " + r.Error
			}
			fmt.Fprintf(w, "  removed %s (%s) for %s via %s: %s\n", r.Credential, r.Kind, r.By, r.Issue, res)
		}
	}
	return nil
}

// reviewSummary is the Markdown job summary: findings by kind and type,
// coverage gaps and what happened to the issues.
func reviewSummary(out *reviewOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## jitkey review: %s\n\n", reviewStatus(out))
	types := []review.Type{review.Dormant, review.Stale, review.OverScoped, review.Insecure}
	count := map[string]map[review.Type]int{}
	creds := map[string]int{}
	for _, c := range out.Inventory.Credentials {
		creds[string(c.Kind)]++
	}
	for _, f := range out.Findings {
		if count[string(f.Kind)] == nil {
			count[string(f.Kind)] = map[review.Type]int{}
		}
		count[string(f.Kind)][f.Type]++
	}
	kinds := make([]string, 0, len(creds))
	for k := range creds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	b.WriteString("| kind | credentials | dormant | stale | over-scoped | insecure |\n|---|---:|---:|---:|---:|---:|\n")
	for _, k := range kinds {
		fmt.Fprintf(&b, "| %s | %d |", k, creds[k])
		for _, t := range types {
			fmt.Fprintf(&b, " %d |", count[k][t])
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%d findings, %d exempted, %d API calls. %s.\n", len(out.Findings), len(out.Suppressed), out.Inventory.Calls, reviewOpsLine(out.Issues))
	if gaps := out.Inventory.Gaps(); len(gaps) > 0 {
		fmt.Fprintf(&b, "\n**Not reviewed in full (%d)** — issues about these were left untouched:\n\n", len(gaps))
		for i, g := range gaps {
			if i == 20 {
				fmt.Fprintf(&b, "- ... and %d more (see the JSON output)\n", len(gaps)-20)
				break
			}
			fmt.Fprintf(&b, "- %s %s: %s\n", review.Code(g.Target), g.Kind, g.Reason)
		}
	}
	return b.String()
}

func reviewEscapeTitle(s string) string {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
	return r.Replace(s)
}

func writeReviewAnnotations(w io.Writer, out *reviewOutput) error {
	for _, f := range out.Findings {
		level := "warning"
		if f.Severity == "error" {
			level = "error"
		}
		msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(f.Summary + " (" + f.Credential.ID + ")")
		if _, err := fmt.Fprintf(w, "::%s title=%s::%s\n", level, reviewEscapeTitle(f.Title), msg); err != nil {
			return err
		}
	}
	for _, g := range out.Inventory.Gaps() {
		fmt.Fprintf(w, "::warning title=%s::%s\n", reviewEscapeTitle("jitkey review: "+g.Target+" "+string(g.Kind)+" not reviewed"),
			strings.NewReplacer("%", "%25", "\n", "%0A").Replace(g.Reason))
	}
	return nil
}

// reviewSARIF renders findings as SARIF 2.1.0, one rule per kind and type,
// with the fingerprint as partial fingerprint and the credential as logical location.
func reviewSARIF(out *reviewOutput) map[string]any {
	rules := []map[string]any{}
	ruleSeen := map[string]bool{}
	results := []map[string]any{}
	for _, f := range out.Findings {
		id := string(f.Kind) + "/" + string(f.Type)
		if !ruleSeen[id] {
			ruleSeen[id] = true
			rules = append(rules, map[string]any{
				"id": id, "name": strings.ReplaceAll(id, "/", "_"),
				"shortDescription": map[string]string{"text": fmt.Sprintf("%s %s", f.Type, review.KindName(f.Kind))},
				"help":             map[string]string{"text": review.AdviceFor(f).Why},
			})
		}
		level := "warning"
		if f.Severity == "error" {
			level = "error"
		}
		results = append(results, map[string]any{
			"ruleId": id, "level": level,
			"message":             map[string]string{"text": f.Summary},
			"partialFingerprints": map[string]string{"jitkeyFingerprint/v1": f.Fingerprint},
			"locations":           []any{reviewSARIFLocation(out.Policy, f)},
			"properties":          map[string]any{"evidence": f.Evidence, "issueRepository": f.IssueRepo},
		})
	}
	return map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "jitkey", "informationUri": "https://github.com/jitkey/jitkey", "rules": rules}},
			"results": results,
			"invocations": []any{map[string]any{"executionSuccessful": !out.Partial,
				"toolExecutionNotifications": reviewGapNotes(out.Inventory.Gaps())}},
		}},
	}
}

// reviewSARIFLocation names the credential as a logical location and, when
// a policy file was given, points at it: code scanning needs a file, and the
// policy is where a finding is accepted (exemption) or tuned.
func reviewSARIFLocation(policyPath string, f review.Finding) map[string]any {
	loc := map[string]any{"logicalLocations": []any{map[string]string{"fullyQualifiedName": f.Credential.ID, "kind": "resource"}}}
	if policyPath != "" && !strings.HasPrefix(policyPath, "/") {
		loc["physicalLocation"] = map[string]any{"artifactLocation": map[string]string{"uri": policyPath}, "region": map[string]int{"startLine": 1}}
	}
	return loc
}

func reviewGapNotes(gaps []inventory.Coverage) []any {
	out := []any{}
	for _, g := range gaps {
		out = append(out, map[string]any{"level": "warning", "message": map[string]string{"text": g.Target + " " + string(g.Kind) + ": " + g.Reason}})
	}
	return out
}
