package lint_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/lint"
	"github.com/jitkey/jitkey/internal/policy"
)

func TestWaive(t *testing.T) {
	t.Parallel()
	day := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	finding := func(rule string) policy.Diagnostic {
		return policy.Diagnostic{File: "p.cue", Line: 3, Col: 3, Severity: policy.SeverityError, Code: lint.CodeWriteOnPullRequest, Rule: rule, Message: "m"}
	}
	set := func(w ...policy.Waiver) *policy.Set {
		return &policy.Set{Rules: []policy.Rule{{Name: "a"}, {Name: "b"}}, Waivers: w}
	}
	waiver := policy.Waiver{Code: lint.CodeWriteOnPullRequest, Rule: "a", Reason: "r", Approver: "@acme/sec", Expires: day,
		Pos: policy.Pos{File: "p.cue", Line: 20, Col: 4}}
	type out struct {
		Code string
		Rule string
		Sev  policy.Severity
	}
	tests := []struct {
		name string
		now  time.Time
		in   []policy.Diagnostic
		set  *policy.Set
		want []out
	}{
		{"in force the day before", day.Add(-time.Nanosecond), []policy.Diagnostic{finding("a")}, set(waiver),
			[]out{{lint.CodeWriteOnPullRequest, "a", policy.SeverityNotice}}},
		{"expired as the day starts", day, []policy.Diagnostic{finding("a")}, set(waiver),
			[]out{{lint.CodeWriteOnPullRequest, "a", policy.SeverityError}, {lint.CodeWaiverExpired, "a", policy.SeverityError}}},
		{"another rule's finding is not waived", day.AddDate(0, 0, -1), []policy.Diagnostic{finding("a"), finding("b")}, set(waiver),
			[]out{{lint.CodeWriteOnPullRequest, "a", policy.SeverityNotice}, {lint.CodeWriteOnPullRequest, "b", policy.SeverityError}}},
		{"another code of the rule is not waived", day.AddDate(0, 0, -1),
			[]policy.Diagnostic{{File: "p.cue", Line: 3, Severity: policy.SeverityError, Code: lint.CodeAllRepositories, Rule: "a"}}, set(waiver),
			[]out{{lint.CodeAllRepositories, "a", policy.SeverityError}, {lint.CodeWaiverUnused, "a", policy.SeverityWarning}}},
		{"a loader error is no lint finding", day.AddDate(0, 0, -1),
			[]policy.Diagnostic{{File: "p.cue", Line: 3, Severity: policy.SeverityError, Code: policy.CodeAboveCeiling, Rule: "a"}},
			set(policy.Waiver{Code: policy.CodeAboveCeiling, Rule: "a", Expires: day, Pos: waiver.Pos}),
			[]out{{policy.CodeAboveCeiling, "a", policy.SeverityError}, {lint.CodeWaiverInvalid, "a", policy.SeverityError}}},
		{"a waiver cannot waive an expired waiver", day,
			[]policy.Diagnostic{finding("a")},
			set(waiver, policy.Waiver{Code: lint.CodeWaiverExpired, Rule: "a", Expires: day.AddDate(1, 0, 0), Pos: waiver.Pos}),
			[]out{{lint.CodeWriteOnPullRequest, "a", policy.SeverityError}, {lint.CodeWaiverExpired, "a", policy.SeverityError}, {lint.CodeWaiverInvalid, "a", policy.SeverityError}}},
		{"no waivers", day, []policy.Diagnostic{finding("a")}, set(), []out{{lint.CodeWriteOnPullRequest, "a", policy.SeverityError}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []out
			for _, d := range lint.Waive(tt.in, tt.set, tt.now) {
				got = append(got, out{d.Code, d.Rule, d.Severity})
			}
			assert.ElementsMatch(t, tt.want, got)
			assert.Equal(t, policy.SeverityError, tt.in[0].Severity, "the input is not changed")
		})
	}
}
