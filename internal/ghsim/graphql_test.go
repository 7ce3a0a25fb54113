package ghsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGraphQL drives the GraphQL endpoint: a repository's default branch
// and a directory's blobs, a repository the token cannot see (NOT_FOUND,
// as GitHub answers), a query the schema rejects, and no credentials.
func TestGraphQL(t *testing.T) {
	t.Parallel()
	for _, prefix := range prefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, prefix)
			tok := f.mint(t, nil)
			url := f.sim.root() + prefix + "/graphql"
			if prefix == "/api/v3" {
				url = f.sim.root() + "/api/graphql"
			}
			post := func(token, query string) (int, map[string]any) {
				body, _ := json.Marshal(map[string]string{"query": query})
				req, err := http.NewRequest("POST", url, bytes.NewReader(body))
				require.NoError(t, err)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out
			}
			status, out := post(tok, `query { a: repository(owner: "acme", name: "api") { nameWithOwner databaseId defaultBranchRef { name target { oid ... on Commit { file(path: ".github/jitkey") { type object { ... on Tree { entries { name type object { ... on Blob { text isBinary isTruncated } } } } } } } } } } b: repository(owner: "nobody", name: "x") { databaseId } }`)
			require.Equal(t, http.StatusOK, status)
			data := out["data"].(map[string]any)
			a := data["a"].(map[string]any)
			assert.Equal(t, "acme/api", a["nameWithOwner"])
			ref := a["defaultBranchRef"].(map[string]any)
			assert.Equal(t, "main", ref["name"])
			file := ref["target"].(map[string]any)["file"].(map[string]any)
			assert.Equal(t, "tree", file["type"])
			entries := file["object"].(map[string]any)["entries"].([]any)
			require.Len(t, entries, 1)
			e := entries[0].(map[string]any)
			assert.Equal(t, "policy.cue", e["name"])
			assert.Equal(t, "package jitkey\n", e["object"].(map[string]any)["text"])
			assert.Nil(t, data["b"])
			errs := out["errors"].([]any)
			require.Len(t, errs, 1)
			assert.Equal(t, "NOT_FOUND", errs[0].(map[string]any)["type"])

			_, out = post(tok, `query { repository(owner: "acme", name: "api") { noSuchField } }`)
			assert.Nil(t, out["data"])
			assert.NotEmpty(t, out["errors"], "the schema rejects an unknown field")

			status, _ = post("", `query { repository(owner: "acme", name: "api") { name } }`)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}
}
