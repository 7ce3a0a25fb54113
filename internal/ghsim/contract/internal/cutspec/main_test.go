package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustDecode(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := decode([]byte(s))
	require.NoError(t, err)
	return v
}

const primaryDoc = `{
 "openapi": "3.0.3", "servers": [{"url": "https://api.github.com"}],
 "paths": {
  "/a": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
     "schema": {"$ref": "#/components/schemas/a"}, "examples": {"default": {"$ref": "#/components/examples/a"}}}}}}},
        "post": {"responses": {"201": {"description": "unused"}}}},
  "/unused": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/unused"}}}}}}}
 },
 "components": {
  "schemas": {
   "a": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/b"}, "example": {"type": "string"}}},
   "b": {"type": "integer", "description": "from github.com"},
   "unused": {"type": "string"}
  },
  "examples": {"a": {"value": {}}}
 }
}`

const secondaryDoc = `{
 "paths": {"/sso": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/b"}}}}}}}},
 "components": {"schemas": {"b": {"type": "integer", "description": "from ghec"}}}
}`

func TestCut(t *testing.T) {
	t.Parallel()
	doc, err := cut(mustDecode(t, primaryDoc), mustDecode(t, secondaryDoc), []string{"GET /a", "GET /sso"}, nil)
	require.NoError(t, err)
	out, err := encode(doc)
	require.NoError(t, err)
	got := string(out)

	assert.Contains(t, got, `"#/components/schemas/b"`, "transitive reference kept")
	assert.Contains(t, got, `"from github.com"`, "primary wins when only prose differs")
	assert.Contains(t, got, `"x-jitkey-source": "ghec.json"`)
	assert.Contains(t, got, `"example": {`, "a property named example is not an example")
	assert.NotContains(t, got, `"unused"`)
	assert.NotContains(t, got, `"post"`)
	assert.NotContains(t, got, `"examples"`)

	again, err := cut(mustDecode(t, primaryDoc), mustDecode(t, secondaryDoc), []string{"GET /sso", "GET /a"}, nil)
	require.NoError(t, err)
	out2, err := encode(again)
	require.NoError(t, err)
	assert.Equal(t, got, string(out2), "deterministic whatever the order of operations")
}

func TestCutErrors(t *testing.T) {
	t.Parallel()
	conflicting := `{"paths": {"/sso": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/b"}}}}}}}},
 "components": {"schemas": {"b": {"type": "string"}}}}`
	tests := map[string]struct {
		secondary string
		ops       []string
		aliases   map[string]string
		want      string
	}{
		"missing operation":   {secondaryDoc, []string{"GET /nowhere"}, nil, "in neither description"},
		"malformed operation": {secondaryDoc, []string{"GET"}, nil, `want "METHOD /path"`},
		"conflict":            {conflicting, []string{"GET /a", "GET /sso"}, nil, "component schemas/b differs"},
		"alias of uncut twin": {secondaryDoc, []string{"GET /a"}, map[string]string{"GET /b": "GET /unused"}, "twin GET /unused is not cut"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := cut(mustDecode(t, primaryDoc), mustDecode(t, tt.secondary), tt.ops, tt.aliases)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestCommittedCutIsCurrent regenerates the cut from the tarball named by
// OPENAPI_TGZ (npm pack @octokit/openapi@23.0.2) and compares it with the
// committed file. Without the tarball (no network in tests) it is skipped.
func TestCommittedCutIsCurrent(t *testing.T) {
	t.Parallel()
	tgz := os.Getenv("OPENAPI_TGZ")
	if tgz == "" {
		t.Skip("set OPENAPI_TGZ to the @octokit/openapi tarball to check the committed cut")
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "openapi", "github.json"))
	require.NoError(t, err)
	got, err := cutFile(tgz)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "committed cut is stale: run OPENAPI_TGZ=%s go generate ./internal/ghsim/contract", tgz)
}

func TestRunNeedsTarball(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(nil, &stderr))
	assert.Contains(t, stderr.String(), "npm pack @octokit/openapi@23.0.2")
	stderr.Reset()
	assert.Equal(t, 1, run([]string{"-tgz", filepath.Join(t.TempDir(), "missing.tgz")}, &stderr))
}

// TestCommittedFixturesAreCurrent is TestCommittedCutIsCurrent for the
// recordings, from the tarball named by FIXTURES_TGZ.
func TestCommittedFixturesAreCurrent(t *testing.T) {
	t.Parallel()
	tgz := os.Getenv("FIXTURES_TGZ")
	if tgz == "" {
		t.Skip("set FIXTURES_TGZ to the @octokit/fixtures tarball to check the committed recordings")
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "fixtures", "octokit.json"))
	require.NoError(t, err)
	got, err := cutFixtures(tgz)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "committed recordings are stale: run FIXTURES_TGZ=%s go generate ./internal/ghsim/contract", tgz)
	_, err = cutFixtures(filepath.Join(t.TempDir(), "missing.tgz"))
	assert.Error(t, err)
}
