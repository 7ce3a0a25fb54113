package lint

import (
	"fmt"
	"slices"
	"time"

	"github.com/jitkey/jitkey/internal/policy"
)

// The codes of waiver findings.
const (
	CodeWaiverExpired = "waiver-expired"
	CodeWaiverUnused  = "waiver-unused"
	CodeWaiverInvalid = "waiver-invalid"
)

func waiverChecks() []CheckInfo {
	return []CheckInfo{
		{CodeWaiverExpired, policy.SeverityError, "a waiver of a lint finding has expired: the finding counts again"},
		{CodeWaiverUnused, policy.SeverityWarning, "a waiver matches no finding: the rule changed or the finding is fixed"},
		{CodeWaiverInvalid, policy.SeverityError, "a waiver names a check or a rule that does not exist"},
	}
}

// Waive applies the set's waivers to lint's findings at time now. A
// finding of a rule that a waiver in force names (by code and rule)
// becomes a notice whose message says who waived it, why and until when;
// an expired waiver leaves the finding as it was and is itself an error at
// the waiver; a waiver that matches no finding is a warning, and one that
// names an unknown check or rule an error. Waivers lower lint findings
// only: what the loader refuses is not a finding here.
func Waive(diags []policy.Diagnostic, s *policy.Set, now time.Time) []policy.Diagnostic {
	if s == nil || len(s.Waivers) == 0 {
		return diags
	}
	out := slices.Clone(diags)
	for _, w := range s.Waivers {
		if d, bad := invalidWaiver(w, s); bad {
			out = append(out, d)
			continue
		}
		expired := !now.Before(w.Expires)
		used := false
		for i := range out {
			d := &out[i]
			if d.Code != w.Code || d.Rule != w.Rule || !isLintCode(d.Code) {
				continue
			}
			used = true
			if !expired {
				d.Severity = policy.SeverityNotice
				d.Message = fmt.Sprintf("waived until %s by %s (%s, %s:%d): %s",
					w.Expires.Format(time.DateOnly), w.Approver, w.Reason, w.Pos.File, w.Pos.Line, d.Message)
			}
		}
		switch {
		case expired:
			out = append(out, diag(w.Pos, CodeWaiverExpired, w.Rule,
				"the waiver of %s for rule %q expired on %s (%s); fix the finding, or renew the waiver with a new expiry and approval",
				w.Code, w.Rule, w.Expires.Format(time.DateOnly), w.Reason))
		case !used:
			out = append(out, diag(w.Pos, CodeWaiverUnused, w.Rule,
				"the waiver of %s for rule %q matches no finding (the rule changed or the finding is fixed); remove it",
				w.Code, w.Rule))
		}
	}
	Sort(out)
	return out
}

func invalidWaiver(w policy.Waiver, s *policy.Set) (policy.Diagnostic, bool) {
	if !isLintCode(w.Code) {
		var codes []string
		for _, c := range Checks() {
			if !slices.Contains([]string{CodeWaiverExpired, CodeWaiverUnused, CodeWaiverInvalid}, c.Code) {
				codes = append(codes, c.Code)
			}
		}
		hint := "; the codes are in brackets after each finding of jitkey validate"
		if near := policy.Nearest(w.Code, codes); near != "" {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		return diag(w.Pos, CodeWaiverInvalid, w.Rule, "a waiver names %q, which is not a lint check%s", w.Code, hint), true
	}
	var names []string
	for _, r := range s.Rules {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, w.Rule) {
		hint := ""
		if near := policy.Nearest(w.Rule, names); near != "" {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		return diag(w.Pos, CodeWaiverInvalid, w.Rule, "a waiver of %s names rule %q, which no policy file defines%s", w.Code, w.Rule, hint), true
	}
	return policy.Diagnostic{}, false
}

// isLintCode reports whether code is a finding lint makes about a rule
// (waiver findings cannot themselves be waived).
func isLintCode(code string) bool {
	for _, c := range Checks() {
		if c.Code == code {
			return !slices.Contains([]string{CodeWaiverExpired, CodeWaiverUnused, CodeWaiverInvalid}, code)
		}
	}
	return false
}
