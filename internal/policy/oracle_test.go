package policy_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cuelang.org/go/cue/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/schemas"
)

const corpusDir = "../../testdata/corpus"

// TestOracleCueVet compares jitkey's schema verdict with `cue vet -c`, the
// cue command of the same cuelang.org/go version (a tool dependency in
// go.mod, built here, nothing downloaded), on every file of the corpus.
// File names state the expected verdict: valid-*, invalid-* (the schema
// rejects it), goinvalid-* (the schema accepts it, Load's Go checks reject it).
func TestOracleCueVet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the cue command")
	}
	t.Parallel()
	entries, err := os.ReadDir(corpusDir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(entries), 45)

	tmp := t.TempDir()
	cueBin := filepath.Join(tmp, "cue")
	build := exec.Command("go", "build", "-o", cueBin, "cuelang.org/go/cmd/cue")
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build cue: %s", out)

	var mu sync.Mutex
	valid := map[string]bool{}
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, e := range entries {
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(corpusDir, name))
		require.NoError(t, err)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok, detail := cueVet(t, cueBin, filepath.Join(tmp, "m-"+name), name, data)
			mu.Lock()
			valid[name] = ok
			mu.Unlock()
			if !ok {
				t.Logf("%s: cue vet: %s", name, firstLine(detail))
			}
		})
	}
	wg.Wait()

	for _, e := range entries {
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(corpusDir, name))
			require.NoError(t, err)
			diags := policy.SchemaCheck(name, data)
			assert.Equal(t, valid[name], len(diags) == 0, "cue vet -c says valid=%v; jitkey says %v", valid[name], diags)
			_, loadErr := policy.LoadBytes(name, data)
			switch {
			case strings.HasPrefix(name, "valid-"):
				assert.Empty(t, diags)
				assert.NoError(t, loadErr)
			case strings.HasPrefix(name, "goinvalid-"):
				assert.Empty(t, diags, "the schema accepts it")
				var errs policy.Errors
				require.ErrorAs(t, loadErr, &errs, "Load rejects it")
				for _, d := range errs {
					assert.NotEqual(t, policy.CodeSchema, d.Code)
				}
			case strings.HasPrefix(name, "invalid-"):
				assert.NotEmpty(t, diags)
				assert.Error(t, loadErr)
			default:
				t.Fatalf("corpus file %s: name it valid-, invalid- or goinvalid-", name)
			}
			if len(data) > 0 {
				assert.True(t, strings.HasPrefix(string(data), "// "), "every corpus file starts with a comment saying what it tests")
			}
		})
	}
}

// cueVet vets one policy file the way a CUE user would: in a module that
// holds the schema, as package p, with `policy: schemas.#Policy & p`.
func cueVet(t *testing.T, cueBin, dir, name string, data []byte) (bool, string) {
	t.Helper()
	pkg := "p"
	if f, err := parser.ParseFile(name, data, parser.PackageClauseOnly); err == nil && f.PackageName() != "" {
		pkg = f.PackageName()
	} else {
		data = append([]byte("package p\n"), data...)
	}
	def, field := "#Policy", "policy"
	if strings.HasSuffix(name, policy.TestSuffix) {
		def, field = "#Tests", "tests"
	}
	files := map[string][]byte{
		"cue.mod/module.cue": []byte("module: \"jitkey.test@v0\"\nlanguage: version: \"v0.17.0\"\n"),
		"p/p.cue":            data,
		"check/check.cue": []byte("package check\n\nimport (\n\t\"jitkey.test/schemas\"\n\tp \"jitkey.test/p:" + pkg + "\"\n)\n\n" +
			field + ": schemas." + def + " & p\n"),
	}
	for _, f := range schemas.Files {
		b, err := schemas.FS.ReadFile(f)
		require.NoError(t, err)
		files["schemas/"+f] = b
	}
	for p, b := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), b, 0o644))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cueBin, "vet", "-c", "./check")
	cmd.Dir = dir
	cmd.Env = []string{"CUE_REGISTRY=none", "HOME=" + dir, "CUE_CACHE_DIR=" + filepath.Join(dir, ".cache"), "PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run cue vet: %v", err)
	}
	return err == nil, string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
