package policy_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
)

// comprehension is a small policy file whose evaluation grows with n²: a
// few kilobytes of CUE that, with n in the thousands, evaluate for minutes.
// The n used here finish within seconds, so the abandoned evaluation does
// not outlive the test for long.
func comprehension(n int) []byte {
	return fmt.Appendf(nil, "import \"list\"\napiVersion: \"jitkey.dev/v1\"\n"+
		"x: [for a in list.Range(0,%d,1) for b in list.Range(0,%d,1) {a*b}]\n", n, n)
}

// TestLoadBounded checks that a slow or memory-hungry policy is an error
// naming the file, returned at once, not a hang.
func TestLoadBounded(t *testing.T) {
	tests := []struct {
		name   string
		lim    policy.Limits
		reason policy.BoundReason
		msg    string
	}{
		{"deadline", policy.Limits{Deadline: 100 * time.Millisecond}, policy.BoundDeadline,
			"policy slow.cue: the policy took longer than 100ms to evaluate; simplify it: a policy is small data, so replace large comprehensions (for loops over list.Range or nested lists) and deep recursion with the values written out"},
		{"memory", policy.Limits{Heap: 8 << 20}, policy.BoundMemory,
			"policy slow.cue: the policy needed more than 8 MiB of memory to evaluate; simplify it: a policy is small data, so replace large comprehensions (for loops over list.Range or nested lists) and deep recursion with the values written out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := policy.LoadBytesLimits(t.Context(), tt.lim, "slow.cue", comprehension(60))
			took := time.Since(start)
			var be *policy.BoundError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, policy.BoundError{File: "slow.cue", Reason: tt.reason, Limit: be.Limit}, *be)
			assert.Equal(t, tt.msg, err.Error())
			t.Logf("returned after %v", took)
		})
	}
}

// TestLoadCancelled checks that a cancelled caller gets its error at once.
func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := policy.LoadBytesLimits(ctx, policy.Limits{}, "slow.cue", comprehension(40))
	require.ErrorIs(t, err, context.Canceled)
	var be *policy.BoundError
	assert.False(t, errors.As(err, &be))
}

// TestLoadWithinLimits checks that a normal policy is unaffected by tight
// limits.
func TestLoadWithinLimits(t *testing.T) {
	s, err := policy.LoadBytesLimits(t.Context(), policy.Limits{Deadline: 5 * time.Second, Heap: 256 << 20}, "ok.cue",
		[]byte(head+rule("a", "", okGrant)+"}]\n"))
	require.NoError(t, err)
	require.NotNil(t, s)
}
