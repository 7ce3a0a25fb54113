package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

// TestDidYouMean: an unknown field or permission name is answered with the
// closest name the schema allows there, and the hint names a file the
// author can read, not a schema file inside jitkey.
func TestDidYouMean(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"claim", head + rule("a", `event_nmae: "push"`, okGrant) + "}]\n", "rules.0.match.event_nmae: field not allowed; did you mean event_name?"}, //nolint:misspell // the typo is the test
		{"permission", head + rule("a", "", `repositories: ["caller"], permissions: {"pull-requests": "read"}`) + "}]\n", "field not allowed; did you mean pull_requests?"},
		{"rule field", head + rule("a", "", okGrant) + "\trequireVerifed: true\n}]\n", "rules.0.requireVerifed: field not allowed; did you mean requireVerified?"},
		{"top-level field", "apiVersion: \"jitkey.dev/v1\"\nceilling: permissions: contents: \"read\"\n", "ceilling: field not allowed; did you mean ceiling?"},
		{"review kind", "apiVersion: \"jitkey.dev/v1\"\nreview: kinds: deploy_keys: dormant_days: 30\n", "did you mean deploy_key?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := loadErrors(t, "p.cue", tt.src)
			assert.Contains(t, errs[0].Message, tt.want)
			assert.NotContains(t, errs[0].Message, "schemas/")
		})
	}
	_, err := policy.LoadBytes("p.cue", []byte(head+rule("a", `zzzzzz: "x"`, okGrant)+"}]\n"))
	assert.NotContains(t, err.Error(), "did you mean", "no suggestion when nothing is close")
}

// TestMessagesForPeople: what a newcomer writes wrong is answered in their
// terms, without the schema's regular expressions.
func TestMessagesForPeople(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"bare word", head + rule("a", `environment: production`, okGrant) + "}]\n",
			`production is read as a reference to a field, and the file defines none of that name; if you meant the text, quote it: "production"`},
		{"bare yes", head + "\tname: \"a\"\n\trequireVerified: yes\n\tmatch: {}\n\tgrant: {" + okGrant + "}\n}]\n",
			`if you meant the text, quote it: "yes"`},
		{"value where a list is needed", "apiVersion: \"jitkey.dev/v1\"\nreview: owners: \"@acme/security\"\n",
			`review.owners: a single value where a list is needed; use a list: ["@acme/security"]`},
		{"list where a map is needed", head + rule("a", "", `repositories: ["caller"], permissions: ["contents"]`) + "}]\n",
			`rules.0.grant.permissions: a list where a map of name: value is needed (write a map, e.g. {contents: "read", deployments: "write"})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := loadErrors(t, "p.cue", tt.src)
			assert.Contains(t, errs[0].Message, tt.want)
			for _, d := range errs {
				assert.Less(t, len(d.Message), 400, "no schema pattern in a message: %s", d.Message)
				assert.NotContains(t, d.Message, "=~\"^(actions|")
			}
		})
	}
}

// loadErrors loads src, which must fail, and returns its diagnostics.
func loadErrors(t *testing.T, name, src string) policy.Errors {
	t.Helper()
	_, err := policy.LoadBytes(name, []byte(src))
	var errs policy.Errors
	require.ErrorAs(t, err, &errs)
	require.NotEmpty(t, errs)
	return errs
}

// TestDidYouMeanNearest: the one spelling suggestion ignores case and "-"
// against "_", counts a swap as one edit, and stays silent when nothing
// is close (a short word needs a one-edit typo).
func TestDidYouMeanNearest(t *testing.T) {
	t.Parallel()
	levels := []string{"read", "write", "admin"}
	tests := []struct{ in, want string }{
		{"wrtie", "write"},
		{"Read", "read"},
		{"READ", "read"},
		{"admn", "admin"},
		{"delete", ""},
		{"pull-requests", "pull_requests"},
		{"repo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, policy.Nearest(tt.in, append(levels, "pull_requests", "ref")))
		})
	}
}
