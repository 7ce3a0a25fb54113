package policyfile_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policyfile"
)

func TestFind(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"policies/deploy.cue":       {Data: []byte("rules: []\n")},
		"policies/deploy_test.cue":  {Data: []byte("tests: []\n")},
		"policies/sub/release.cue":  {Data: []byte("rules: []\n")},
		"policies/README.md":        {Data: []byte("# hi\n")},
		"policies/.hidden/x.cue":    {Data: []byte("x: 1\n")},
		"policies/testdata/bad.cue": {Data: []byte("x: \n")},
		"policies/inside.cue":       {Data: []byte("sub/release.cue"), Mode: fs.ModeSymlink},
		"empty/notes.txt":           {Data: []byte("nothing\n")},
		"huge/big.cue":              {Data: []byte(strings.Repeat("a", 1<<20+1))},
		"latin1/bad.cue":            {Data: []byte("name: \"caf\xe9\"\n")},
		"escape/out.cue":            {Data: []byte("../../etc/passwd"), Mode: fs.ModeSymlink},
		"escape-abs/out.cue":        {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink},
		"linkdir":                   {Data: []byte("../outside"), Mode: fs.ModeSymlink},
		"notcue/policy.yaml":        {Data: []byte("rules: []\n")},
	}
	tests := []struct {
		name    string
		paths   []string
		want    policyfile.Files
		wantErr string
	}{
		{name: "directory", paths: []string{"policies"}, want: policyfile.Files{
			Policies: []string{"policies/deploy.cue", "policies/inside.cue", "policies/sub/release.cue"},
			Tests:    []string{"policies/deploy_test.cue"},
		}},
		{name: "file and duplicate", paths: []string{"./policies/deploy.cue", "policies/deploy.cue"}, want: policyfile.Files{
			Policies: []string{"policies/deploy.cue"},
		}},
		{name: "explicit testdata file", paths: []string{"policies/testdata/bad.cue"}, want: policyfile.Files{
			Policies: []string{"policies/testdata/bad.cue"},
		}},
		{name: "empty directory", paths: []string{"empty"}, wantErr: "empty: directory holds no .cue policy files"},
		{name: "missing", paths: []string{"nope"}, wantErr: "nope: no such file or directory"},
		{name: "outside", paths: []string{"../x.cue"}, wantErr: "path is outside the repository"},
		{name: "absolute", paths: []string{"/etc/x.cue"}, wantErr: "path is outside the repository"},
		// The loader reports these at their position, beside the other files.
		{name: "huge", paths: []string{"huge"}, want: policyfile.Files{Policies: []string{"huge/big.cue"}}},
		{name: "not utf-8", paths: []string{"latin1/bad.cue"}, want: policyfile.Files{Policies: []string{"latin1/bad.cue"}}},
		{name: "symlink outside in walk", paths: []string{"escape"}, wantErr: "escape/out.cue: symlink leads outside the repository"},
		{name: "absolute symlink", paths: []string{"escape-abs/out.cue"}, wantErr: "escape-abs/out.cue: symlink leads outside the repository"},
		{name: "symlinked directory outside", paths: []string{"linkdir/x.cue"}, wantErr: "linkdir: symlink leads outside the repository"},
		{name: "not cue", paths: []string{"notcue/policy.yaml"}, wantErr: "not a CUE file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := policyfile.Find(fsys, tt.paths)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				var pe *policyfile.Error
				assert.ErrorAs(t, err, &pe)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestFindOSRoot checks the refusals on a real directory tree opened as an
// os.Root, the file system the CLI uses.
func TestFindOSRoot(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.cue"), []byte("x: 1\n"), 0o600))
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "policies"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policies", "a.cue"), []byte("x: 1\n"), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.cue"), filepath.Join(dir, "policies", "b.cue")))
	require.NoError(t, os.Symlink("a.cue", filepath.Join(dir, "policies", "c.cue")))
	root, err := os.OpenRoot(dir)
	require.NoError(t, err)
	t.Cleanup(func() { root.Close() })

	_, err = policyfile.Find(root.FS(), []string{"policies"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "policies/b.cue: symlink leads outside the repository")

	got, err := policyfile.Find(root.FS(), []string{"policies/c.cue", "policies/a.cue"})
	require.NoError(t, err)
	assert.Equal(t, []string{"policies/a.cue", "policies/c.cue"}, got.Policies)
}

func FuzzFind(f *testing.F) {
	f.Add("policies", "a.cue", []byte("x: 1"))
	f.Add("../x", "b_test.cue", []byte("\xff"))
	f.Fuzz(func(t *testing.T, arg, name string, data []byte) {
		fsys := fstest.MapFS{"policies/" + name: {Data: data}}
		files, err := policyfile.Find(fsys, []string{arg})
		if err == nil {
			for _, p := range files.All() {
				assert.True(t, fs.ValidPath(p))
			}
		}
	})
}
