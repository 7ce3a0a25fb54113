package policy_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// grant is a rule granting perms to the caller.
func grant(perms string) string {
	return head + rule("a", "", `repositories: ["caller"], permissions: {`+perms+`}`) + "}]\n"
}

// messageCases holds one bad policy input per kind of message a policy
// author can meet; name is the file name (a *_test.cue name makes a test file).
var messageCases = []struct{ kind, name, src string }{
	{"unknown top-level field", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nceilling: permissions: contents: \"read\"\n"},
	{"unknown rule field", "p.cue", head + rule("a", "", okGrant) + "\trequireVerifed: true\n}]\n"},
	{"unknown grant field", "p.cue", head + rule("a", "", okGrant+`, repository: "acme/api"`) + "}]\n"},
	{"unknown review field", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: owner: [\"@acme/security\"]\n"},
	{"unknown review kind", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: kinds: deploy_keys: dormant_days: 30\n"},
	{"misspelt claim", "p.cue", head + rule("a", `event_nmae: "push"`, okGrant) + "}]\n"}, //nolint:misspell // the typo is the case
	{"unknown claim", "p.cue", head + rule("a", `zzzzzz: "x"`, okGrant) + "}]\n"},
	{"misspelt permission", "p.cue", grant(`"pull-requests": "read"`)},
	{"unknown permission", "p.cue", grant(`launch_missiles: "write"`)},
	{"misspelt level", "p.cue", grant(`contents: "wrtie"`)},
	{"capitalised level", "p.cue", grant(`contents: "Read"`)},
	{"admin where not a level", "p.cue", grant(`contents: "admin"`)},
	{"empty permissions", "p.cue", grant(``)},
	{"misspelt choice", "p.cue", head + rule("a", `ref_type: "branches"`, okGrant) + "}]\n"},
	{"misspelt exemption finding", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: exemptions: [{kind: \"deploy_key\", credential: \"k\", finding: \"dormnat\", reason: \"r\", approver: \"@acme\", expires: \"2027-06-30\"}]\n"},
	{"bare word needing quotes", "p.cue", head + rule("a", `environment: production`, okGrant) + "}]\n"},
	{"single value where a list is needed", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: owners: \"@acme/security\"\n"},
	{"list where a map is needed", "p.cue", head + rule("a", "", `repositories: ["caller"], permissions: ["contents"]`) + "}]\n"},
	{"either-of between condition values", "p.cue", head + rule("a", `event_name: "push" | "workflow_dispatch"`, okGrant) + "}]\n"},
	{"either-of between plain values", "p.cue", head + rule("a", "", okGrant) + "\trequireVerified: true | false\n}]\n"},
	{"not UTF-8", "p.cue", "apiVersion: \"jitkey.dev/v1\"\n// caf\xe9\n"},
	{"over the size limit", "p.cue", "apiVersion: \"jitkey.dev/v1\"\n" + strings.Repeat("// padding\n", policy.MaxFileSize/11+1)},
	{"empty file", "p.cue", "\n"},
	{"byte order mark", "p.cue", "\ufeffapiVersion: \"jitkey.dev/v1\"\nceilling: {}\n"},
	{"syntax error", "p.cue", head + rule("a", "", okGrant) + "\n"},
	{"missing apiVersion", "p.cue", "rules: [{\n" + rule("a", "", okGrant) + "}]\n"},
	{"wrong apiVersion", "p.cue", "apiVersion: \"jitkey.dev/v2\"\n"},
	{"missing grant", "p.cue", head + "\tname: \"a\"\n\tmatch: {}\n}]\n"},
	{"bad rule name", "p.cue", head + rule("Deploy API", "", okGrant) + "}]\n"},
	{"bad repository name", "p.cue", head + rule("a", "", `repositories: ["acme api"], permissions: {contents: "read"}`) + "}]\n"},
	{"empty repository list", "p.cue", head + rule("a", "", `repositories: [], permissions: {contents: "read"}`) + "}]\n"},
	{"duplicate rule names", "p.cue", head + rule("a", "", okGrant) + "}, {\n" + rule("a", "", okGrant) + "}]\n"},
	{"CUE constraint for a pattern", "p.cue", head + rule("a", `ref: =~"^refs/heads/main$"`, okGrant) + "}]\n"},
	{"bad pattern", "p.cue", head + rule("a", `ref: pattern: "^refs/heads/(main"`, okGrant) + "}]\n"},
	{"bad central repository", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: central_repository: \"acme\"\n"},
	{"bad exemption date", "p.cue", "apiVersion: \"jitkey.dev/v1\"\nreview: exemptions: [{kind: \"deploy_key\", credential: \"k\", finding: \"dormant\", reason: \"r\", approver: \"@acme\", expires: \"30/06/2027\"}]\n"},
	{"unknown top-level field in a test file", "p_test.cue", "apiVersion: \"jitkey.dev/v1\"\ntest: []\n"},
	{"misspelt test claim", "p_test.cue", "apiVersion: \"jitkey.dev/v1\"\ntests: [{name: \"t\", claims: {repositry: \"acme/api\"}, expect: allow: true}]\n"}, //nolint:misspell // the typo is the case
}

// TestGoldenMessages: every message on the policy author's path, rendered
// as the text format prints it (file:line:col: severity: message [code]),
// is the one in testdata/messages.golden; any change to a message fails
// here and is reviewed as a change to the golden file (go test -update).
func TestGoldenMessages(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	var all []policy.Diagnostic
	for _, c := range messageCases {
		_, err := policy.LoadBytes(c.name, []byte(c.src))
		var errs policy.Errors
		require.True(t, errors.As(err, &errs), "%s: want diagnostics, got %v", c.kind, err)
		require.NotEmpty(t, errs, c.kind)
		all = append(all, errs...)
		fmt.Fprintf(&b, "# %s\n", c.kind)
		for _, d := range errs {
			fmt.Fprintf(&b, "%s:%d:%d: %s: %s [%s]\n", d.File, d.Line, d.Col, d.Severity, d.Message, d.Code)
			assert.NotContains(t, d.Message, "schemas/", "%s: a message names a file inside jitkey", c.kind)
			assert.NotContains(t, d.Message, `=~"^(`, "%s: a raw schema pattern in a message", c.kind)
			assert.NotContains(t, d.Message, "#", "%s: a schema definition in a message", c.kind)
		}
		b.WriteString("\n")
	}
	checkGolden(t, "messages.golden", b.String())
	// The same diagnostics as the other formats render them: GitHub
	// annotations, JSON and SARIF (one report of every case, in order).
	r := &report.Report{Command: "validate", Files: []string{"p.cue", "p_test.cue"}, Diagnostics: all}
	for _, format := range []string{"github", "json", "sarif"} {
		got, err := report.Render(format, r)
		require.NoError(t, err, format)
		checkGolden(t, "messages."+format+".golden", got)
	}
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestGoldenMessages -update to create it")
	assert.Equal(t, string(want), got, "%s changed; review and run go test -run TestGoldenMessages -update", name)
}
