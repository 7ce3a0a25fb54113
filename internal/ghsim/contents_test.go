package ghsim

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-github/v62/github"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContentsAtRef reads files at the default branch, another branch and a
// tag, by short name and by full ref name, and a ref that does not exist.
func TestContentsAtRef(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	f.sim.PutFile("acme", "api", "main", "README.md", []byte("main\n"))
	f.sim.PutFile("acme", "api", "release", "README.md", []byte("release\n"))
	f.sim.PutFile("acme", "api", "release", "CHANGELOG.md", []byte("only on release\n"))
	f.sim.PutFile("acme", "api", "v1.0.0", "README.md", []byte("tagged\n"))
	c := f.client(t, f.mint(t, nil))

	cases := []struct {
		name, path, ref string
		status          int
		content         string
		message         string // of a refusal
	}{
		{"default branch when no ref", "README.md", "", 200, "main\n", ""},
		{"default branch by name", "README.md", "main", 200, "main\n", ""},
		{"another branch", "README.md", "release", 200, "release\n", ""},
		{"another branch by full ref", "README.md", "refs/heads/release", 200, "release\n", ""},
		{"file only on another branch", "CHANGELOG.md", "release", 200, "only on release\n", ""},
		{"file only on another branch, read at the default", "CHANGELOG.md", "", 404, "", "Not Found"},
		{"tag", "README.md", "v1.0.0", 200, "tagged\n", ""},
		{"tag by full ref", "README.md", "refs/tags/v1.0.0", 200, "tagged\n", ""},
		{"missing file at a tag", "CHANGELOG.md", "v1.0.0", 404, "", "Not Found"},
		{"missing ref", "README.md", "nope", 404, "", "No commit found for the ref nope"},
		{"missing full ref", "README.md", "refs/heads/nope", 404, "", "No commit found for the ref refs/heads/nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file, _, resp, err := c.Repositories.GetContents(context.Background(), "acme", "api", tc.path, &github.RepositoryContentGetOptions{Ref: tc.ref})
			require.NotNil(t, resp, "%v", err)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusOK {
				var ge *github.ErrorResponse
				require.ErrorAs(t, err, &ge)
				assert.Equal(t, tc.message, ge.Message)
				assert.Equal(t, docsURL, ge.DocumentationURL)
				return
			}
			require.NoError(t, err)
			got, err := file.GetContent()
			require.NoError(t, err)
			assert.Equal(t, tc.content, got)
			assert.Equal(t, gitBlobSHA([]byte(tc.content)), file.GetSHA())
			ref := tc.ref
			switch ref {
			case "":
				ref = "main"
			case "refs/heads/release":
				ref = "release"
			case "refs/tags/v1.0.0":
				ref = "v1.0.0"
			}
			assert.Contains(t, file.GetURL(), "/contents/"+tc.path+"?ref="+ref, "the answer names the ref it was read at")
		})
	}
}
