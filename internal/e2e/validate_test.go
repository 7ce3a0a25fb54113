//go:build unix

package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/secretscan"
)

// TestValidateMode runs the action with command: validate, the way ci.yml's
// dogfood job does, on this repository's own policies and on a broken one.
func TestValidateMode(t *testing.T) {
	t.Parallel()
	act := requireAct(t)
	root := repoRoot(t)
	requireAction(t, root)
	bins := releaseBinaries(t, root)

	tests := []struct {
		name     string
		policies func(t *testing.T, dir string)
		wantExit bool
		want     []string
	}{{
		name:     "this repository's policies",
		policies: func(t *testing.T, dir string) { copyTree(t, filepath.Join(root, "policies"), dir) },
		want:     []string{"jitkey validate: 0 errors"},
	}, {
		name: "a broken policy",
		policies: func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.cue"),
				[]byte("apiVersion: \"jitkey.dev/v1\"\nrules: [{name: 1}]\n"), 0o644))
		},
		wantExit: true,
		want:     []string{"::error file=policies/bad.cue,line=2", "jitkey validate: 1 error"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := workspace(t, root, "validate.yml", bins)
			tt.policies(t, filepath.Join(ws, "policies"))
			res := run(t, act, ws, "validate.yml", actRun{Job: "validate"})
			if tt.wantExit {
				assert.NotZero(t, res.ExitCode, "the job should fail")
			} else {
				assert.Zero(t, res.ExitCode, "the job should succeed")
			}
			for _, w := range tt.want {
				assert.Contains(t, res.Output, w)
			}
			secretscan.AssertClean(t, "act output", res.Output)
		})
	}
}
