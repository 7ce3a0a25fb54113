package policytest_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policytest"
)

func set(tests ...policy.TestCase) *policy.Set {
	return &policy.Set{
		Rules: []policy.Rule{
			{Name: "main", Pos: policy.Pos{File: "p.cue", Line: 2, Col: 3}, RequireVerified: true,
				Match: []policy.Condition{{Claim: "ref", Values: []string{"refs/heads/main"}}},
				Grant: policy.Grant{Repositories: []string{"acme/api"}, Permissions: map[string]string{"contents": "read"}}},
			{Name: "release", Pos: policy.Pos{File: "p.cue", Line: 9, Col: 3}, RequireVerified: true,
				Match: []policy.Condition{{Claim: "ref", Values: []string{"refs/tags/v1"}}},
				Grant: policy.Grant{Repositories: []string{"acme/api"}, Permissions: map[string]string{"contents": "write"}}},
		},
		Tests: tests,
	}
}

func tc(name string, line int, ref string, verified bool, want policy.Expectation) policy.TestCase {
	return policy.TestCase{Name: name, Pos: policy.Pos{File: "p_test.cue", Line: line, Col: 2},
		Claims: policy.Claims{Repository: "acme/api", Ref: ref, Verified: verified}, Expect: want}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		cases        []policy.TestCase
		wantFailures map[string][]string
		wantCovered  []string
		wantCoverage float64
	}{
		{
			name: "all pass, half covered",
			cases: []policy.TestCase{
				tc("main reads", 3, "refs/heads/main", true, policy.Expectation{Allow: true, Rule: "main",
					Permissions: map[string]string{"contents": "read"}, Repositories: []string{"acme/api"}}),
				tc("dev denied", 4, "refs/heads/dev", true, policy.Expectation{Allow: false}),
			},
			wantFailures: map[string][]string{},
			wantCovered:  []string{"main"},
			wantCoverage: 50,
		},
		{
			name: "wrong verdict, rule, permissions, repositories",
			cases: []policy.TestCase{
				tc("unverified", 3, "refs/heads/main", false, policy.Expectation{Allow: true}),
				tc("release", 4, "refs/tags/v1", true, policy.Expectation{Allow: true, Rule: "main",
					Permissions: map[string]string{"contents": "read"}, Repositories: []string{"acme/web"}}),
			},
			wantFailures: map[string][]string{
				"unverified": {"expected allow, got deny"},
				"release": {`expected rule "main" to match, got "release"`,
					"expected permissions {contents: read}, got {contents: write}",
					"expected repositories [acme/web], got [acme/api]"},
			},
			wantCovered:  []string{"release"},
			wantCoverage: 50,
		},
		{name: "no tests", wantFailures: map[string][]string{}, wantCoverage: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := set(tt.cases...)
			res := policytest.Run(s)
			require.Len(t, res.Cases, len(tt.cases))
			got := map[string][]string{}
			for _, c := range res.Cases {
				if !c.Passed() {
					got[c.Name] = c.Failures
				}
			}
			require.Len(t, got, len(tt.wantFailures))
			for name, want := range tt.wantFailures {
				require.Len(t, got[name], len(want), name)
				for i, w := range want {
					assert.Contains(t, got[name][i], w)
				}
			}
			assert.Equal(t, tt.wantCovered, res.Covered)
			assert.InDelta(t, tt.wantCoverage, res.Coverage(), 0.001)
			assert.Equal(t, []string{"main", "release"}, res.Rules)

			diags := policytest.Diagnostics(s, res)
			var failed, uncovered int
			for _, d := range diags {
				switch d.Code {
				case policytest.CodeFailed:
					failed++
					assert.Equal(t, "p_test.cue", d.File)
					assert.Equal(t, policy.Severity("error"), d.Severity)
				case policytest.CodeUncovered:
					uncovered++
					assert.Equal(t, "p.cue", d.File)
				}
			}
			assert.Equal(t, len(tt.wantFailures), failed)
			assert.Equal(t, len(res.Uncovered), uncovered)
		})
	}
}

func TestCoverageOfEmptySet(t *testing.T) {
	t.Parallel()
	assert.InDelta(t, 100, policytest.Run(&policy.Set{}).Coverage(), 0.001)
}

func TestConditions(t *testing.T) {
	t.Parallel()
	rule := policy.Rule{Name: "deploy", Pos: policy.Pos{File: "p.cue", Line: 2}, RequireVerified: true,
		Match: []policy.Condition{{Claim: "repository", Values: []string{"acme/api"}, Pos: policy.Pos{File: "p.cue", Line: 3}},
			{Claim: "ref", Values: []string{"refs/heads/main"}, Pos: policy.Pos{File: "p.cue", Line: 4}}},
		Grant: policy.Grant{Caller: true, Permissions: map[string]string{"contents": "write"}}}
	ok := policy.Claims{Repository: "acme/api", Ref: "refs/heads/main", Verified: true}
	with := func(f func(*policy.Claims)) policy.Claims { c := ok; f(&c); return c }
	allow := policy.TestCase{Name: "main deploys", Claims: ok, Expect: policy.Expectation{Allow: true}}
	tests := []struct {
		name    string
		cases   []policy.TestCase
		covered map[string]bool
	}{
		{"an allow alone pins nothing", []policy.TestCase{allow},
			map[string]bool{"requireVerified": false, "repository": false, "ref": false}},
		{"a denial differing in one claim pins that condition", []policy.TestCase{allow,
			{Name: "dev denied", Claims: with(func(c *policy.Claims) { c.Ref = "refs/heads/dev" })}},
			map[string]bool{"requireVerified": false, "repository": false, "ref": true}},
		{"every condition pinned", []policy.TestCase{allow,
			{Name: "dev denied", Claims: with(func(c *policy.Claims) { c.Ref = "refs/heads/dev" })},
			{Name: "web denied", Claims: with(func(c *policy.Claims) { c.Repository = "acme/web" })},
			{Name: "unverified denied", Claims: with(func(c *policy.Claims) { c.Verified = false })}},
			map[string]bool{"requireVerified": true, "repository": true, "ref": true}},
		{"a denial differing in two claims pins neither", []policy.TestCase{allow,
			{Name: "web dev denied", Claims: with(func(c *policy.Claims) { c.Ref = "refs/heads/dev"; c.Repository = "acme/web" })}},
			map[string]bool{"requireVerified": false, "repository": false, "ref": false}},
		{"a failing case pins nothing", []policy.TestCase{
			{Name: "wrong", Claims: with(func(c *policy.Claims) { c.Ref = "refs/heads/dev" }), Expect: policy.Expectation{Allow: true}}},
			map[string]bool{"requireVerified": false, "repository": false, "ref": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &policy.Set{Rules: []policy.Rule{rule}, Tests: tt.cases}
			rcs := policytest.Conditions(s)
			require.Len(t, rcs, 1)
			got := map[string]bool{}
			for _, c := range rcs[0].Conditions {
				got[c.Claim] = c.Covered
			}
			assert.Equal(t, tt.covered, got)
			diags := policytest.ConditionDiagnostics(rcs, 100)
			allCovered := rcs[0].Covered() == len(rcs[0].Conditions)
			assert.Equal(t, allCovered, len(diags) == 0)
			for _, d := range diags {
				assert.Equal(t, policy.SeverityError, d.Severity, "below --min-coverage is an error")
			}
		})
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	s := &policy.Set{Tests: []policy.TestCase{{Name: "main deploys"}, {Name: "dev denied"}, {Name: "main reads"}}}
	got, err := policytest.Select(s, "^main")
	require.NoError(t, err)
	require.Len(t, got.Tests, 2)
	assert.Len(t, s.Tests, 3, "the set is not changed")
	_, err = policytest.Select(s, "(")
	assert.ErrorContains(t, err, "RE2")
}

// TestConditionsEqualsBruteForce holds the fast condition coverage to the
// brute-force one (every passing case re-run against every mutant) on this
// repository's policies and on generated sets.
func TestConditionsEqualsBruteForce(t *testing.T) {
	t.Parallel()
	covered := func(rcs []policytest.RuleCoverage) [][]bool {
		var out [][]bool
		for _, rc := range rcs {
			var row []bool
			for _, c := range rc.Conditions {
				row = append(row, c.Covered)
			}
			out = append(out, row)
		}
		return out
	}
	fsys := os.DirFS(filepath.Join("..", ".."))
	names, err := fs.Glob(fsys, "policies/*.cue")
	require.NoError(t, err)
	own, err := policy.Load(fsys, names)
	require.NoError(t, err)
	sets := []*policy.Set{own}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	for range 200 {
		s := &policy.Set{}
		for i := range 1 + rng.IntN(5) {
			r := policy.Rule{Name: fmt.Sprintf("r%d", i), RequireVerified: rng.IntN(2) == 0,
				Grant: policy.Grant{Caller: true, Permissions: map[string]string{"contents": pick("read", "write")}}}
			for _, claim := range []string{"repository", "ref", "environment", "event_name"} {
				if rng.IntN(2) == 0 {
					r.Match = append(r.Match, policy.Condition{Claim: claim, Values: []string{pick("a", "b"), pick("a", "c")}})
				}
			}
			s.Rules = append(s.Rules, r)
		}
		for i := range rng.IntN(6) {
			c := policy.Claims{Repository: pick("a", "b", "c"), Ref: pick("a", "b", "c"), Environment: pick("a", "b", ""),
				EventName: pick("a", "c"), Verified: rng.IntN(3) > 0}
			d := policy.Decide(s, c, policy.Request{})
			want := policy.Expectation{Allow: d.Allowed, Rule: d.Rule}
			if rng.IntN(4) == 0 {
				want.Allow = !want.Allow // some cases fail, and must count for nothing
			}
			if rng.IntN(2) == 0 {
				want.Rule = ""
			}
			s.Tests = append(s.Tests, policy.TestCase{Name: fmt.Sprintf("t%d", i), Claims: c, Expect: want})
		}
		sets = append(sets, s)
	}
	for i, s := range sets {
		assert.Equal(t, covered(policytest.NaiveConditions(s)), covered(policytest.Conditions(s)), "set %d", i)
	}
}
