package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// runsCode matches a run script that executes code from the repository
// beyond a plain build: tests (any test can read the runner's OIDC request
// variables and mint a token for the release's identity), go run, go generate.
var runsCode = regexp.MustCompile(`\bgo\s+(test|run|generate)\b|\bnode\s+--test\b|\bnpm\s+(test|run)\b`)

// TestWorkflowsRunNoTestsWithIDToken holds this repository's workflows to one
// rule: a job that can request an OIDC token (id-token: write, which the
// release needs to sign its provenance) runs no test and no go run. A test
// (or anything it imports) sees ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN in
// such a job, so a malicious test in a tagged commit could obtain a token
// that attests as the release workflow.
func TestWorkflowsRunNoTestsWithIDToken(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var wf struct {
				Permissions yaml.Node `yaml:"permissions"`
				Jobs        map[string]struct {
					Permissions yaml.Node `yaml:"permissions"`
					Steps       []struct {
						Name string `yaml:"name"`
						Run  string `yaml:"run"`
					} `yaml:"steps"`
				} `yaml:"jobs"`
			}
			require.NoError(t, yaml.Unmarshal(data, &wf))
			for name, job := range wf.Jobs {
				perms := &wf.Permissions
				if job.Permissions.Kind != 0 {
					perms = &job.Permissions
				}
				if !grantsIDToken(perms) {
					continue
				}
				for _, s := range job.Steps {
					assert.False(t, runsCode.MatchString(s.Run),
						"job %q has id-token: write and its step %q runs tests or repository code; run them in a job without it", name, s.Name)
				}
			}
		})
	}
}

// grantsIDToken reports whether a permissions node gives id-token: write
// (explicitly, or through write-all).
func grantsIDToken(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value == "write-all"
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id-token" && n.Content[i+1].Value == "write" {
				return true
			}
		}
	}
	return false
}

func TestGrantsIDToken(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]bool{
		"write-all": true, "read-all": false, "{}": false,
		"{id-token: write}": true, "{id-token: read, contents: write}": false, "{contents: read}": false,
	} {
		var n yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte(src), &n))
		assert.Equal(t, want, grantsIDToken(n.Content[0]), src)
	}
}
