package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadKeepsSetsByContent(t *testing.T) {
	t.Parallel()
	src := []byte(`apiVersion: "jitkey.dev/v1"
rules: [{name: "memo-a", match: {repository: "acme/memo"}, grant: {repositories: ["caller"], permissions: {contents: "read"}}}]
`)
	a, err := LoadBytes("memo.cue", src)
	require.NoError(t, err)
	b, err := LoadBytes("memo.cue", append([]byte(nil), src...))
	require.NoError(t, err)
	assert.Same(t, a, b, "the same bytes are evaluated once")
	c, err := LoadBytes("other.cue", src)
	require.NoError(t, err)
	assert.NotSame(t, a, c, "another name is another set (positions name the file)")
	assert.Equal(t, "other.cue", c.Rules[0].Pos.File)
	changed := append(append([]byte(nil), src...), "// v2\n"...)
	d, err := LoadBytes("memo.cue", changed)
	require.NoError(t, err)
	assert.NotSame(t, a, d, "changed bytes are evaluated again")
	_, err = LoadBytes("memo.cue", []byte("apiVersion: 1\n"))
	require.Error(t, err)
	_, err = LoadBytes("memo.cue", []byte("apiVersion: 1\n"))
	require.Error(t, err, "an invalid file is never kept")
}
