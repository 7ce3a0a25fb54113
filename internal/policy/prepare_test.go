package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWarmUpPolicyIsValid: Prepare checks warmUpPolicy to compile the
// schema's patterns ahead of a mint; a policy the schema refused would stop
// short of some of them.
func TestWarmUpPolicyIsValid(t *testing.T) {
	t.Parallel()
	res := newTestSchema(t).file("prepare.cue", warmUpPolicy)
	assert.Empty(t, res.diags)
	if assert.NotNil(t, res.pol) {
		assert.Len(t, res.pol.rules, 1)
		assert.NotNil(t, res.pol.ceiling)
	}
}

func newTestSchema(t *testing.T) *schema {
	t.Helper()
	sc, err := newSchema()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
