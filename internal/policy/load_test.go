package policy_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

func rule(name, match, grant string) string {
	return "\tname: \"" + name + "\"\n\tmatch: {" + match + "}\n\tgrant: {" + grant + "}\n"
}

const head = "apiVersion: \"jitkey.dev/v1\"\nrules: [{\n"
const okGrant = `repositories: ["caller"], permissions: {contents: "read"}`

// TestLoadErrorPositions checks that every error lands on the exact line
// and column of the policy file, also those CUE reports against the schema.
func TestLoadErrorPositions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line, col int
		code      string
		contains  string
	}{
		{"unknown field", head + rule("a", `enviroment: "prod"`, okGrant) + "}]\n", 4, 10, policy.CodeSchema, "rules.0.match.enviroment: field not allowed"}, //nolint:misspell // the typo is what this case tests
		{"unknown permission", head + rule("a", "", `repositories: ["caller"], permissions: {secret: "read"}`) + "}]\n", 5, 50, policy.CodeSchema, `"secret" is not a GitHub App permission`},
		{"level not accepted", head + rule("a", "", `repositories: ["caller"], permissions: {contents: "admin"}`) + "}]\n", 5, 60, policy.CodeSchema, "contents accepts read, write"},
		{"missing grant, reported against the schema", head + "\tname: \"a\"\n\tmatch: {}\n}]\n", 2, 9, policy.CodeSchema, "rules.0.grant: field is required but not present"},
		{"missing apiVersion", "rules: [{\n" + rule("a", "", okGrant) + "}]\n", 1, 1, policy.CodeSchema, "apiVersion: field is required"},
		{"wrong apiVersion", "apiVersion: \"jitkey.dev/v2\"\n", 1, 13, policy.CodeSchema, `apiVersion: this jitkey reads apiVersion "jitkey.dev/v1" only; write apiVersion: "jitkey.dev/v1"`},
		{"empty permissions", head + rule("a", "", `repositories: ["caller"], permissions: {}`) + "}]\n", 5, 49, policy.CodeSchema, "grant at least one permission"},
		{"empty rule list", "apiVersion: \"jitkey.dev/v1\"\nrules: []\n", 2, 1, policy.CodeSchema, "rules: the list is empty"},
		{"bad date", "apiVersion: \"jitkey.dev/v1\"\nreview: exemptions: [{kind: \"deploy_key\", credential: \"1\", finding: \"*\", reason: \"r\", approver: \"bob\", expires: \"2026-02-30\"}]\n", 2, 113, policy.CodeSchema, "expires"},
		{"invalid pattern", head + rule("a", `ref: {pattern: "("}`, okGrant) + "}]\n", 4, 16, policy.CodePattern, "rules.0.match.ref.pattern: error parsing regexp"},
		{"syntax", head + "\tname: \"a\"\n", 3, 12, policy.CodeSyntax, "expected '}'"},
		{"not UTF-8", "apiVersion: \"jitkey.dev/v1\"\n// caf\xe9\n", 2, 7, policy.CodeSyntax, "not valid UTF-8"},
		{"not UTF-8, columns in characters", "apiVersion: \"jitkey.dev/v1\"\n// çà \xe9\n", 2, 7, policy.CodeSyntax, "not valid UTF-8"},
		{"columns in characters", head + rule("a", `actor: "jürgen", enviroment: "prod"`, okGrant) + "}]\n", 4, 27, policy.CodeSchema, "rules.0.match.enviroment: field not allowed"}, //nolint:misspell // the typo is what this case tests
		{"empty file", "", 1, 1, policy.CodeSyntax, "the file is empty"},
		{"blank file", " \n\t\n", 1, 1, policy.CodeSyntax, "the file is empty"},
		{"huge file", strings.Repeat("// x\n", policy.MaxFileSize/5+1), 1, 1, policy.CodeSyntax, "larger than"},
		{"module import", "import \"acme.com/x\"\napiVersion: \"jitkey.dev/v1\"\n", 1, 8, policy.CodeSchema, "may import only CUE's standard library"},
		{"embedding", "@extern(embed)\n\npackage p\n\napiVersion: \"jitkey.dev/v1\"\nrules: _ @embed(file=rules.json)\n", 1, 1, policy.CodeSchema, "cannot embed other files; write their values in the file"},
		{"embedding, quoted, after a comment", "// generated\n@extern( \"embed\" )\npackage p\n\napiVersion: \"jitkey.dev/v1\"\n", 2, 1, policy.CodeSchema, "cannot embed other files"},
		{"embedding without a package clause", "@extern(embed)\n\napiVersion: \"jitkey.dev/v1\"\n", 1, 1, policy.CodeSchema, "extern attribute without package clause"},
		{"another injection", "@extern(wasm)\n\npackage p\n\napiVersion: \"jitkey.dev/v1\"\n", 1, 1, policy.CodeSchema, `no injection defined for "wasm"`},
		{"above ceiling", head + rule("a", "", `repositories: ["caller"], permissions: {contents: "write"}`) + "}]\nceiling: permissions: contents: \"read\"\n", 5, 50, policy.CodeAboveCeiling, "allows at most read"},
		{"repository outside ceiling", head + rule("a", "", `repositories: ["other/y"], permissions: {contents: "read"}`) + "}]\nceiling: {permissions: contents: \"read\", repositories: [\"acme/*\"]}\n", 5, 25, policy.CodeAboveCeiling, "does not list"},
		{"all repositories under a ceiling", head + rule("a", "", `repositories: "*", permissions: {contents: "read"}`) + "}]\nceiling: {permissions: contents: \"read\", repositories: [\"acme/*\"]}\n", 5, 10, policy.CodeAboveCeiling, "grants every repository"},
		{"duplicate names", head + rule("a", "", okGrant) + "}, {\n" + rule("a", "", okGrant) + "}]\n", 7, 2, policy.CodeDuplicateName, `rule name "a" is already used at dup.cue:3:2`},
		{"bad repository name", head + rule("a", "", `repositories: ["acme"], permissions: {contents: "read"}`) + "}]\n", 5, 25, policy.CodeSchema, `rules.0.grant.repositories.0: "acme" is not a repository name (write "owner/name"`},
		{"bad ref_type", head + rule("a", `ref_type: "branches"`, okGrant) + "}]\n", 4, 20, policy.CodeSchema, `rules.0.match.ref_type: "branches" is not one of "branch", "tag"; did you mean "branch"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "dup.cue"
			_, err := policy.LoadBytes(name, []byte(tt.src))
			var errs policy.Errors
			require.ErrorAs(t, err, &errs)
			require.NotEmpty(t, errs)
			d := errs[0]
			assert.Equal(t, name, d.File)
			assert.Equal(t, [2]int{tt.line, tt.col}, [2]int{d.Line, d.Col}, d.Message)
			if d.Code != policy.CodeSyntax {
				assert.True(t, d.EndLine > d.Line || (d.EndLine == d.Line && d.EndCol > d.Col), "an end after the start: %+v", d)
			}
			assert.Equal(t, tt.code, d.Code)
			assert.Equal(t, policy.SeverityError, d.Severity)
			assert.Contains(t, d.Message, tt.contains)
			assert.True(t, strings.HasPrefix(err.Error(), name+":"), "file:line:col: message form")
		})
	}
}

func TestLoadErrorSpans(t *testing.T) {
	t.Parallel()
	src := head + rule("a", `enviroment: "prod"`, `repositories: ["caller"], permissions: {contents: "admin"}`) + "}]\n" //nolint:misspell // the typo is the test
	_, err := policy.LoadBytes("span.cue", []byte(src))
	var errs policy.Errors
	require.ErrorAs(t, err, &errs)
	var spans [][4]int
	for _, d := range errs {
		spans = append(spans, [4]int{d.Line, d.Col, d.EndLine, d.EndCol})
	}
	// The unknown field spans the whole field; the bad level spans `"admin"`.
	assert.Contains(t, spans, [4]int{5, 60, 5, 67})
	_, err = policy.LoadBytes("span.cue", []byte(head+rule("a", `enviroment: "prod"`, okGrant)+"}]\n")) //nolint:misspell // the typo is the test
	require.ErrorAs(t, err, &errs)
	assert.Equal(t, [4]int{4, 10, 4, 28}, [4]int{errs[0].Line, errs[0].Col, errs[0].EndLine, errs[0].EndCol})
}

func TestLoadFiles(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"policies/b.cue": {Data: []byte(head + rule("b1", `ref: "refs/heads/main"`, okGrant) + "}, {\n" + rule("b2", "", okGrant) + "}]\n")},
		"policies/a.cue": {Data: []byte(head + rule("a1", "", okGrant) + "}]\nceiling: permissions: contents: \"write\"\n")},
		"policies/a_test.cue": {Data: []byte(`apiVersion: "jitkey.dev/v1"
tests: [{
	name: "main may read"
	claims: {repository: "acme/api", ref: "refs/heads/main", ref_protected: true}
	request: permissions: contents: "read"
	expect: {allow: true, rule: "b1", permissions: contents: "read", repositories: ["acme/api"]}
}, {
	name: "unverified"
	claims: {verified: false}
	expect: allow: false
}]
`)},
	}
	s, err := policy.Load(fsys, []string{"policies/b.cue", "policies/a.cue", "policies/a_test.cue"})
	require.NoError(t, err)
	assert.Equal(t, policy.APIVersion, s.APIVersion)
	assert.Equal(t, []string{"policies/b.cue", "policies/a.cue", "policies/a_test.cue"}, s.Files)
	var names []string
	for _, r := range s.Rules {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"b1", "b2", "a1"}, names, "rules keep the order of the files given")
	require.NotNil(t, s.Ceiling)
	assert.Equal(t, map[string]string{"contents": "write"}, s.Ceiling.Permissions)
	assert.Equal(t, policy.Pos{File: "policies/a.cue", Line: 7, Col: 1}, s.Ceiling.Pos)

	b1 := s.Rules[0]
	assert.Equal(t, policy.Pos{File: "policies/b.cue", Line: 2, Col: 9}, b1.Pos)
	assert.Equal(t, []policy.Condition{{Claim: "ref", Values: []string{"refs/heads/main"}, Pos: policy.Pos{File: "policies/b.cue", Line: 4, Col: 10}}}, b1.Match)
	assert.Equal(t, policy.Grant{Caller: true, Permissions: map[string]string{"contents": "read"}, Pos: policy.Pos{File: "policies/b.cue", Line: 5, Col: 2}}, b1.Grant)

	require.Len(t, s.Tests, 2)
	tc := s.Tests[0]
	assert.Equal(t, "main may read", tc.Name)
	assert.Equal(t, policy.Pos{File: "policies/a_test.cue", Line: 2, Col: 9}, tc.Pos)
	assert.Equal(t, policy.Claims{Repository: "acme/api", Ref: "refs/heads/main", RefProtected: true, Verified: true}, tc.Claims, "verified defaults to true in tests")
	assert.Equal(t, policy.Request{Permissions: map[string]string{"contents": "read"}}, tc.Request)
	assert.Equal(t, policy.Expectation{Allow: true, Rule: "b1", Permissions: map[string]string{"contents": "read"}, Repositories: []string{"acme/api"}}, tc.Expect)
	assert.False(t, s.Tests[1].Claims.Verified)

	d := policy.Decide(s, tc.Claims, tc.Request)
	assert.True(t, d.Allowed)
	assert.Equal(t, "b1", d.Rule)
}

func TestLoadAcrossFiles(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"a.cue":   {Data: []byte(head + rule("same", "", okGrant) + "}]\nceiling: permissions: contents: \"write\"\nreview: {}\n")},
		"b.cue":   {Data: []byte(head + rule("same", "", `repositories: ["caller"], permissions: {issues: "read"}`) + "}]\nceiling: permissions: contents: \"read\"\nreview: {}\n")},
		"bad.cue": {Data: []byte("apiVersion: 1\n")},
	}
	_, err := policy.Load(fsys, []string{"a.cue", "b.cue", "bad.cue"})
	var errs policy.Errors
	require.ErrorAs(t, err, &errs)
	var got []string
	for _, d := range errs {
		got = append(got, d.File+" "+d.Code)
	}
	assert.Equal(t, []string{
		"b.cue duplicate-name", "b.cue above-ceiling", "b.cue duplicate-section", "b.cue duplicate-section", "bad.cue schema",
	}, got, "every file is checked; errors are sorted by file then position")
	assert.Equal(t, "same", errs[0].Rule)
}

func TestLoadIOErrors(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"dir/x.cue": {Data: []byte("x")}}
	_, err := policy.Load(fsys, []string{"missing.cue"})
	require.Error(t, err)
	var errs policy.Errors
	assert.False(t, errors.As(err, &errs), "a missing file is an I/O error, not a policy error")
	_, err = policy.Load(fsys, []string{"dir"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")
	s, err := policy.Load(fsys, nil)
	require.NoError(t, err, "no files is an empty set")
	assert.Empty(t, s.Rules)
}

func TestLoadReview(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "review.cue", `apiVersion: "jitkey.dev/v1"
review: {
	owners: ["alice", "@acme/security"]
	central_repository: "acme/credential-review"
	labels: ["security"]
	renotify: after_days: 7
	kinds: {
		deploy_key: {dormant_days: 60, allow_write: true}
		webhook: enabled: false
		fine_grained_pat: max_permissions: contents: "read"
	}
	exemptions: [{
		kind:       "deploy_key"
		credential: "acme/api#123"
		finding:    "dormant"
		reason:     "yearly disaster-recovery key"
		approver:   "@acme/security"
		expires:    "2027-01-31"
	}]
}
`)
	rv := s.Review
	require.NotNil(t, rv)
	assert.Equal(t, []string{"alice", "@acme/security"}, rv.Owners)
	assert.Equal(t, "acme/credential-review", rv.CentralRepository)
	assert.Equal(t, []string{"security"}, rv.Labels)
	assert.Equal(t, policy.DefaultMaxIssuesPerRun, rv.MaxIssuesPerRun)
	assert.Equal(t, policy.Renotify{Enabled: true, AfterDays: 7, MaxReminds: policy.DefaultMaxReminds}, rv.Renotify)
	assert.False(t, rv.AutoRemediate)
	assert.Equal(t, map[policy.CredentialKind]policy.KindRule{
		policy.KindDeployKey:      {Enabled: true, DormantDays: 60, NeverUsedDays: 30, AllowWrite: true},
		policy.KindWebhook:        {Enabled: false, RequireSecret: true, RequireSSL: true},
		policy.KindFineGrainedPAT: {Enabled: true, DormantDays: 90, NeverUsedDays: 30, RequireExpiry: true, MaxPermissions: map[string]string{"contents": "read"}},
	}, rv.Kinds, "a field the policy sets replaces only that field's default")
	assert.Equal(t, []policy.Exemption{{
		Kind: policy.KindDeployKey, Credential: "acme/api#123", Finding: "dormant", Reason: "yearly disaster-recovery key",
		Approver: "@acme/security", Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), File: "review.cue", Line: 12,
	}}, rv.Exemptions)
}

func TestLoadSchemaAgreesWithPermissionsTable(t *testing.T) {
	t.Parallel()
	// Every level the Go table accepts, the schema accepts; "admin" is
	// rejected where the table does not list it.
	for name, levels := range policy.Permissions() {
		for _, level := range []string{"read", "write", "admin"} {
			src := head + rule("a", "", `repositories: ["caller"], permissions: {`+name+`: "`+level+`"}`) + "}]\n"
			_, err := policy.LoadBytes("p.cue", []byte(src))
			assert.Equal(t, policy.ValidLevel(name, level), err == nil, "%s: %s: %v", name, level, err)
		}
		_ = levels
	}
}
