package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Without the server binaries the tests fail (not skip) and say how to
// install them; with several Debian versions the newest is used.
func TestServerBin(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	debian := filepath.Join(root, "*", "bin", "initdb")
	none := func(string) (string, error) { return "", errors.New("not found") }

	_, err := serverBin(debian, none)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apt-get install -y postgresql")
	assert.Contains(t, err.Error(), "JITKEY_TEST_POSTGRES=off")

	onPath := func(string) (string, error) { return "/opt/pg/bin/initdb", nil }
	bin, err := serverBin(debian, onPath)
	require.NoError(t, err)
	assert.Equal(t, "/opt/pg/bin", bin)

	for _, v := range []string{"9", "15", "13"} {
		dir := filepath.Join(root, v, "bin")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "initdb"), nil, 0o755))
	}
	bin, err = serverBin(debian, onPath)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(root, "15", "bin"), bin, "not the newest version (15 > 13 > 9, not by string order)")
}
