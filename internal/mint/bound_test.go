package mint_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/mint"
	"github.com/jitkey/jitkey/internal/policy"
)

// slowPolicy evaluates for seconds (a comprehension over 60×60 values,
// small enough that the abandoned evaluation ends soon after the test).
const slowPolicy = `import "list"

apiVersion: "jitkey.dev/v1"
x: [for a in list.Range(0, 60, 1) for b in list.Range(0, 60, 1) {a * b}]
`

// TestEvaluationBound: a policy past the evaluation bound, in the
// organisation policy or a target repository's, is a clear error naming
// the file; nothing is minted for the job.
func TestEvaluationBound(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, repo, dir string }{
		{"organisation policy", ".github", "acme/.github:.github/jitkey"},
		{"target repository's policy", "infra", "acme/infra:.github/jitkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sim.PutFile("acme", tt.repo, "main", ".github/jitkey/slow.cue", []byte(slowPolicy))
			m := f.minterWith(t, mint.WithEvaluator(mint.InProcess{Limits: policy.Limits{Deadline: 100 * time.Millisecond}}))
			in := deployInput()
			in.Request.Repositories = []string{"api", "infra"}
			start := time.Now()
			_, err := m.Mint(context.Background(), in)
			require.Error(t, err)
			assert.Less(t, time.Since(start), 5*time.Second, "stopped at the bound, not when the evaluation ends")
			var inv *mint.PolicyInvalidError
			require.True(t, errors.As(err, &inv), "%v", err)
			var be *policy.BoundError
			require.True(t, errors.As(err, &be), "%v", err)
			assert.Equal(t, ".github/jitkey/slow.cue", be.File)
			assert.Contains(t, err.Error(), "the policy "+tt.dir+" at main is invalid")
			assert.Contains(t, err.Error(), "policy .github/jitkey/slow.cue: the policy took longer than 100ms to evaluate; simplify it")
			assert.Empty(t, jobTokensOf(f), "nothing minted for the job")
		})
	}
}
