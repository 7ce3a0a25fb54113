package policydiff_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policydiff"
)

func ruleAt(name string, line int, perms map[string]string, match ...policy.Condition) policy.Rule {
	return policy.Rule{Name: name, Pos: policy.Pos{File: "p.cue", Line: line, Col: 2}, RequireVerified: true, Match: match,
		Grant: policy.Grant{Caller: true, Permissions: perms}}
}

func cond(claim string, v ...string) policy.Condition {
	return policy.Condition{Claim: claim, Values: v}
}

func TestCompareRowsAndMoves(t *testing.T) {
	t.Parallel()
	read, write := map[string]string{"contents": "read"}, map[string]string{"contents": "write"}
	org := ruleAt("org-read", 3, read, cond("repository_owner", "acme"))
	api := ruleAt("api-write", 10, write, cond("repository", "acme/api"), cond("ref", "refs/heads/main"))
	tests := []struct {
		name      string
		base      []policy.Rule
		head      []policy.Rule
		wantRows  map[string]string // rule -> status
		wantMoves []string          // "from->to wider"
	}{
		{"unchanged", []policy.Rule{org, api}, []policy.Rule{org, api}, map[string]string{}, nil},
		{"a later rule moved first takes the jobs it overlaps", []policy.Rule{org, api}, []policy.Rule{api, org},
			map[string]string{"api-write": "moved", "org-read": "moved"}, []string{"org-read->api-write wider"}},
		{"a removed rule's jobs go to the next rule, and may be denied", []policy.Rule{api, org}, []policy.Rule{org},
			map[string]string{"api-write": "removed"}, []string{"api-write->org-read narrower"}},
		{"narrowing moves jobs to the rule below", []policy.Rule{org, ruleAt("api-read", 10, read, cond("repository", "acme/api"))},
			[]policy.Rule{ruleAt("org-read", 3, read, cond("repository_owner", "acme"), cond("event_name", "push")), ruleAt("api-read", 10, read, cond("repository", "acme/api"))},
			map[string]string{"org-read": "changed"}, []string{"org-read->", "org-read->api-read narrower"}},
		{"a new rule first takes jobs", []policy.Rule{org}, []policy.Rule{api, org},
			map[string]string{"api-write": "added"}, []string{"org-read->api-write wider"}},
		{"rules that cannot overlap move nothing", []policy.Rule{ruleAt("a", 3, read, cond("repository", "acme/a")), ruleAt("b", 9, write, cond("repository", "acme/b"))},
			[]policy.Rule{ruleAt("b", 3, write, cond("repository", "acme/b")), ruleAt("a", 9, read, cond("repository", "acme/a"))},
			map[string]string{"a": "moved", "b": "moved"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := policydiff.Compare(&policy.Set{Rules: tt.base}, &policy.Set{Rules: tt.head}, nil)
			rows := map[string]string{}
			for _, r := range res.Rows {
				rows[r.Rule] = r.Status
			}
			assert.Equal(t, tt.wantRows, rows)
			var moves []string
			for _, m := range res.Moves {
				s := m.From + "->" + m.To
				if m.To != "" {
					s += map[bool]string{true: " wider", false: " narrower"}[m.Wider]
				}
				moves = append(moves, s)
				assert.NotEmpty(t, m.Sentence)
			}
			assert.ElementsMatch(t, tt.wantMoves, moves)
		})
	}
}

func TestCompareTableSides(t *testing.T) {
	t.Parallel()
	base := ruleAt("deploy", 3, map[string]string{"deployments": "write"}, cond("ref", "refs/heads/main"))
	head := ruleAt("deploy", 3, map[string]string{"deployments": "write", "contents": "read"}, cond("ref", "refs/heads/main", "refs/heads/hotfix"))
	head.Grant.Repositories = []string{"acme/infra"}
	res := policydiff.Compare(&policy.Set{Rules: []policy.Rule{base}}, &policy.Set{Rules: []policy.Rule{head}}, nil)
	require.Len(t, res.Rows, 1)
	assert.Equal(t, policydiff.Side{Match: "ref: refs/heads/main; verified only", Repositories: "caller", Permissions: "deployments: write"}, res.Rows[0].Before)
	assert.Equal(t, policydiff.Side{Match: "ref: refs/heads/main or refs/heads/hotfix; verified only", Repositories: "caller, acme/infra",
		Permissions: "contents: read, deployments: write"}, res.Rows[0].After)
}

func TestComparePlacesOnChangedLines(t *testing.T) {
	t.Parallel()
	hunks := policydiff.ParseUnifiedDiff(`diff --git a/p.cue b/p.cue
--- a/p.cue
+++ b/p.cue
@@ -5 +5 @@ rules: [{
-		ref: "refs/heads/main"
+		ref: ["refs/heads/main", "refs/heads/hotfix"]
@@ -14,6 +13,0 @@ rules: [{
-}, {
`)
	assert.Equal(t, policydiff.Hunks{"p.cue": {{OldStart: 5, OldLines: 1, NewStart: 5, NewLines: 1}, {OldStart: 14, OldLines: 6, NewStart: 13, NewLines: 0}}}, hunks)
	read, write := map[string]string{"contents": "read"}, map[string]string{"contents": "write"}
	widened := ruleAt("deploy", 3, write, cond("ref", "refs/heads/main", "refs/heads/hotfix"))
	base := []policy.Rule{ruleAt("deploy", 3, write, cond("ref", "refs/heads/main")), ruleAt("gone", 14, read, cond("repository", "acme/api")),
		ruleAt("later", 20, write, cond("repository", "acme/api"))}
	later := ruleAt("later", 14, write, cond("repository", "acme/api"))
	res := policydiff.Compare(&policy.Set{Rules: base}, &policy.Set{Rules: []policy.Rule{widened, later}}, hunks)
	byRule := map[string]int{}
	for _, g := range res.Grants {
		byRule[g.Rule] = g.Pos.Line
	}
	assert.Equal(t, map[string]int{"deploy": 5, "later": 13}, byRule, "the widened rule at its changed line, the displaced one where the rule above it was deleted")
	for _, r := range res.Rows {
		if r.Rule == "gone" {
			assert.Equal(t, 13, r.Pos.Line)
		}
	}
}

func TestParseUnifiedDiffHostile(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "@@ -x +y @@", "+++ b/f\n@@ -1,a +2 @@", "+++ b/f\n@@ broken", "--- a/f\n+++ /dev/null\n@@ -1,3 +0,0 @@"} {
		assert.NotPanics(t, func() { policydiff.ParseUnifiedDiff(in) }, in)
	}
	assert.Equal(t, policydiff.Hunks{"f": {{OldStart: 1, OldLines: 3, NewStart: 0, NewLines: 0}}}, policydiff.ParseUnifiedDiff("--- a/f\n+++ /dev/null\n@@ -1,3 +0,0 @@"))
}

func TestMovesKnowWhatClaimsImply(t *testing.T) {
	t.Parallel()
	read, write := map[string]string{"contents": "read"}, map[string]string{"contents": "write"}
	other := ruleAt("other-org", 3, read, cond("repository_owner", "other"))
	api := ruleAt("api-write", 10, write, cond("repository", "acme/api"))
	res := policydiff.Compare(&policy.Set{Rules: []policy.Rule{other, api}}, &policy.Set{Rules: []policy.Rule{api, other}}, nil)
	assert.Empty(t, res.Moves, "a job of acme/api is never owned by other")
	assert.Empty(t, res.Grants)
	acme := ruleAt("acme-read", 3, read, cond("repository_owner", "acme"))
	res = policydiff.Compare(&policy.Set{Rules: []policy.Rule{acme, api}}, &policy.Set{Rules: []policy.Rule{api, acme}}, nil)
	assert.Len(t, res.Moves, 1)
	assert.Len(t, res.Grants, 1)
}
