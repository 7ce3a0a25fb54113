package issue

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/jitkey/jitkey/internal/inventory"
	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/review"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// hostile is what a user who can name a credential writes into the name:
// a team mention, a link, an image, an HTML comment that would hide the rest
// of the issue, backticks to leave a code span, a pipe to split a table
// cell, and a line break to start a heading or a table row of its own.
const hostile = "ci @acme/security [Approve](https://evil.example) ![x](https://evil.example/x.png) <!-- `` ` | x\n# h\n| Credential | `forged` |"

// hostileCredentials is one credential of every kind whose every
// credential-supplied string is hostile.
func hostileCredentials() []inventory.Credential {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	never := time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC)
	return []inventory.Credential{
		{Kind: policy.KindDeployKey, ID: "acme/api:deploy_key:1", Name: hostile, Owner: hostile, Org: "acme", Repo: "acme/api",
			Scope: inventory.ScopeRepository, RemoteID: 1, CreatedAt: old, LastUsedAt: &never, Write: true},
		{Kind: policy.KindActionsSecret, ID: "acme/api:environment:" + hostile + ":actions_secret:" + hostile, Name: hostile, Org: "acme",
			Repo: "acme/api", Environment: hostile, Scope: inventory.ScopeEnvironment, CreatedAt: old, UpdatedAt: old},
		{Kind: policy.KindActionsSecret, ID: "acme:actions_secret:" + hostile, Name: hostile, Org: "acme", Scope: inventory.ScopeOrganization,
			CreatedAt: old, UpdatedAt: old, Visibility: "all"},
		{Kind: policy.KindFineGrainedPAT, ID: "acme:fine_grained_pat:7", Name: hostile, Owner: hostile, Org: "acme", Scope: inventory.ScopeOrganization,
			RemoteID: 7, CreatedAt: old, LastUsedAt: &never, Permissions: map[string]string{"administration": "write"}},
		{Kind: policy.KindSSOAuthorization, ID: "acme:sso_authorization:8", Name: hostile, Owner: hostile, Org: "acme", Scope: inventory.ScopeOrganization,
			RemoteID: 8, CreatedAt: old, LastUsedAt: &never},
		{Kind: policy.KindAppInstallation, ID: "acme:app_installation:9", Name: hostile, Owner: hostile, Org: "acme", Scope: inventory.ScopeOrganization,
			RemoteID: 9, CreatedAt: old, RepositorySelection: "all", Permissions: map[string]string{"administration": "write"}},
		{Kind: policy.KindWebhook, ID: "acme/api:webhook:10", Name: hostile, URL: hostile, Org: "acme", Repo: "acme/api", Scope: inventory.ScopeRepository,
			RemoteID: 10, CreatedAt: old},
	}
}

// TestBodiesNeutraliseHostileNames renders the issue body of every finding
// about the hostile credentials the way GitHub does (CommonMark with GFM
// tables, raw HTML passed through) and requires that none of it became a
// link, an image, a mention or an HTML comment, that every evidence row
// kept its two cells, and that the marker and credential ID read back are
// the real ones. The bodies are kept as a golden file (-update rewrites it).
func TestBodiesNeutraliseHostileNames(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rep := review.Evaluate(&inventory.Inventory{Credentials: hostileCredentials()}, policy.Review{}, now)
	require.GreaterOrEqual(t, len(rep.Findings), 7)
	md := goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithRendererOptions(html.WithUnsafe()))
	var all strings.Builder
	for _, f := range rep.Findings {
		body := Body(f, []string{"@octocat", "@acme/security", "@x[y](https://evil.example)"}, 0)
		all.WriteString("<!-- ======== " + f.Title + " -->\n" + body + "\n")
		var out bytes.Buffer
		require.NoError(t, md.Convert([]byte(body), &out))
		page := out.String()
		outside := codeRE.ReplaceAllString(page, "<code/>")
		assert.NotContains(t, outside, "<a ", "%s: a link", f.Title)
		assert.NotContains(t, outside, "<img", "%s: an image", f.Title)
		assert.Equal(t, 1, strings.Count(outside, "<!--"), "%s: only the marker is an HTML comment", f.Title)
		assert.NotContains(t, outside, "evil.example", "%s", f.Title)
		assert.Regexp(t, `Owners: @octocat @acme/security <code/>`, outside, "%s: the owners line mentions real owners only", f.Title)
		assert.NotRegexp(t, `@acme/security [^<]*\[Approve|@everyone`, outside, "%s", f.Title)
		assert.Equal(t, 1, strings.Count(outside, "@acme/security"), "%s: only the owners line mentions the team", f.Title)
		assert.NotContains(t, outside, "<h1", "%s: a heading", f.Title)
		for _, row := range regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(page, -1)[1:] {
			assert.Equal(t, 2, strings.Count(row[1], "<td"), "%s: an evidence row split: %s", f.Title, row[1])
		}
		// a line break cannot stay in a code span (GitHub's names hold none)
		assert.Equal(t, strings.ReplaceAll(f.Credential.ID, "\n", " "), credentialID(body), "%s: the credential read back", f.Title)
		m, ok := ParseMarker(body)
		require.True(t, ok)
		assert.Equal(t, f.Fingerprint, m.Fingerprint)
	}
	golden := filepath.Join("testdata", "hostile-bodies.golden.md")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(all.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./internal/issue -run TestBodiesNeutraliseHostileNames -update")
	assert.Equal(t, string(want), all.String(), "the bodies changed: check them and rewrite with -update")
}

var codeRE = regexp.MustCompile(`(?s)<code[^>]*>.*?</code>`)
