package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cuelang.org/go/cue/parser"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/schemas"
)

// cueBinary builds the cue command of the module's tool dependency (the
// same cuelang.org/go version jitkey links) once per test binary, with the
// environment's GOPROXY and GOFLAGS, so that a fresh machine downloads what
// the command needs as `go tool cue` would.
var cueBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "jitkey-oracle-cue-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cue")
	build := exec.Command("go", "build", "-o", bin, "cuelang.org/go/cmd/cue")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cuelang.org/go/cmd/cue: %w\n%s", err, out)
	}
	return bin, nil
})

// corpusFile is one file the oracle judges.
type corpusFile struct {
	name string // as jitkey sees it; a *_test.cue name makes a test file
	data []byte
}

// verdict is the cue command's judgement of one file.
type verdict struct {
	valid  bool
	detail string          // cue's errors, when invalid
	export json.RawMessage // cue export of the unified value, when valid
}

// cueOracle runs the cue command on files laid out as a CUE user would:
// a module holding the schema, each file its own package f/K, and a
// package c/K stating `mK: schemas.#Policy & p` (or #Tests). A file is
// valid when `cue vet -c` accepts both its package and c/K. Files are
// checked in batches, one cue process for many packages (`cue vet -c -i`
// goes on after a failing package); a file whose verdict the batch output
// cannot settle is checked alone.
type cueOracle struct {
	mu       sync.Mutex
	runs     int           // cue processes
	cpu      time.Duration // their user and system time
	bin, dir string
	files    []corpusFile
	pkgs     []string // package name of each file
}

func newCueOracle(t *testing.T, files []corpusFile) *cueOracle {
	t.Helper()
	bin, err := cueBinary()
	require.NoError(t, err)
	o := &cueOracle{bin: bin, dir: t.TempDir(), files: files, pkgs: make([]string, len(files))}
	write := func(p string, b []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(o.dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(o.dir, p), b, 0o644))
	}
	write("cue.mod/module.cue", []byte("module: \"jitkey.test@v0\"\nlanguage: version: \"v0.17.0\"\n"))
	for _, f := range schemas.Files {
		b, err := schemas.FS.ReadFile(f)
		require.NoError(t, err)
		write("schemas/"+f, b)
	}
	for k, f := range files {
		data, pkg := withPackage(f.name, f.data)
		o.pkgs[k] = pkg
		def := "#Policy"
		if strings.HasSuffix(f.name, policy.TestSuffix) {
			def = "#Tests"
		}
		write(fmt.Sprintf("f/%d/p.cue", k), data)
		write(fmt.Sprintf("c/%d/c.cue", k), fmt.Appendf(nil,
			"package c\n\nimport (\n\ts \"jitkey.test/schemas\"\n\tp \"jitkey.test/f/%d:%s\"\n)\n\nm%d: s.%s & p\n", k, pkg, k, def))
	}
	return o
}

// withPackage returns the file as a package: its own package clause, or
// "package p" put before it, after a leading byte order mark is removed
// (the clause must come first).
func withPackage(name string, data []byte) ([]byte, string) {
	if f, err := parser.ParseFile(name, data, parser.PackageClauseOnly); err == nil && f.PackageName() != "" {
		return data, f.PackageName()
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	return append([]byte("package p\n"), data...), "p"
}

// loadable reports whether a file can join a batch: cue stops a whole run
// at a package it cannot load or build (a syntax error, an import it
// cannot find or that is not used), so a file jitkey cannot compile is
// checked alone. (Should cue fail to build a file jitkey compiles, vetBatch
// still gets every verdict right, only slower.)
func (o *cueOracle) loadable(k int) bool {
	return policy.Compiles(o.files[k].name, o.files[k].data)
}

// run returns the verdict on every file.
func (o *cueOracle) run(t *testing.T) []verdict {
	t.Helper()
	start := time.Now()
	out := make([]verdict, len(o.files))
	var batch, alone []int
	for k := range o.files {
		if o.loadable(k) {
			batch = append(batch, k)
		} else {
			alone = append(alone, k)
		}
	}
	chunks := chunked(batch)
	var mu sync.Mutex
	parallel(2, len(chunks), func(i int) {
		res, unsettled := o.vetBatch(t, chunks[i])
		mu.Lock()
		for k, v := range res {
			out[k] = v
		}
		alone = append(alone, unsettled...)
		mu.Unlock()
	})
	parallel(2, len(alone), func(i int) {
		k := alone[i]
		v := o.vetOne(t, k)
		mu.Lock()
		out[k] = v
		mu.Unlock()
	})
	t.Logf("cue vet -c: %d files in %s: %d processes, %s CPU", len(o.files), time.Since(start).Round(time.Millisecond), o.runs, o.cpu.Round(time.Millisecond))
	start = time.Now()
	defer func() {
		t.Logf("cue export: %s; in all %d processes, %s CPU", time.Since(start).Round(time.Millisecond), o.runs, o.cpu.Round(time.Millisecond))
	}()
	var valid []int
	for k, v := range out {
		if v.valid {
			valid = append(valid, k)
		}
	}
	o.exportAll(t, valid, out)
	return out
}

// chunked splits ks into batches for one cue process each.
func chunked(ks []int) [][]int {
	const size = 160
	var out [][]int
	for len(ks) > 0 {
		n := min(size, len(ks))
		out = append(out, ks[:n])
		ks = ks[n:]
	}
	return out
}

func parallel(workers, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (o *cueOracle) cue(t *testing.T, args ...string) (stdout, stderr []byte, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Dir = o.dir
	cmd.Env = []string{"CUE_REGISTRY=none", "HOME=" + o.dir, "CUE_CACHE_DIR=" + filepath.Join(o.dir, ".cache"), "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.ProcessState != nil {
		o.mu.Lock()
		o.runs++
		o.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		o.mu.Unlock()
		if *oracleTrace {
			t.Logf("TRACE %s %d args: %s CPU ok=%v", args[0], len(args), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), err == nil)
		}
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run cue %s: %v", args[0], err)
	}
	return out.Bytes(), errb.Bytes(), err == nil
}

// pkgArgs are the check packages of the files ks. The file's own package
// is not vetted alone: a disjunction only the schema settles leaves it
// incomplete, as the CUE user's package is until unified with the schema.
func pkgArgs(ks []int) []string {
	var args []string
	for _, k := range ks {
		args = append(args, fmt.Sprintf("./c/%d", k))
	}
	return args
}

var (
	errPath = regexp.MustCompile(`^m(\d+)[.:]`)
	errFile = regexp.MustCompile(`\./[fc]/(\d+)/`)
)

// vetBatch vets the files ks in one process, again and again: cue prints
// each error as a block (a line with the path and message, then indented
// positions), attributed to file K by its path (mK.…) or by a position in
// f/K or c/K. A file with an error is invalid; when the run fails, the
// files without one are vetted again without it, since cue stops a whole
// run at a package it cannot build (an unused import, say). Files still
// unsettled when a failing run names none of them are returned.
func (o *cueOracle) vetBatch(t *testing.T, ks []int) (map[int]verdict, []int) {
	res := map[int]verdict{}
	for len(ks) > 0 {
		_, stderr, ok := o.cue(t, append([]string{"vet", "-c", "-i"}, pkgArgs(ks)...)...)
		if ok {
			for _, k := range ks {
				res[k] = verdict{valid: true}
			}
			return res, nil
		}
		failed := attribute(string(stderr))
		var rest []int
		for _, k := range ks {
			if b, bad := failed[k]; bad {
				res[k] = verdict{detail: b}
			} else {
				rest = append(rest, k)
			}
		}
		if len(rest) == len(ks) {
			return res, rest
		}
		ks = rest
	}
	return res, nil
}

// attribute maps each file to the error blocks cue printed for it.
func attribute(stderr string) map[int]string {
	out := map[int]string{}
	for _, block := range errorBlocks(stderr) {
		m := errPath.FindStringSubmatch(block)
		if m == nil {
			m = errFile.FindStringSubmatch(block)
		}
		if m == nil {
			continue
		}
		k, _ := strconv.Atoi(m[1])
		out[k] += block
	}
	return out
}

// errorBlocks splits cue's error output into blocks, each starting at an
// unindented line.
func errorBlocks(s string) []string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") || len(out) == 0 {
			out = append(out, "")
		}
		out[len(out)-1] += line + "\n"
	}
	return out
}

func (o *cueOracle) vetOne(t *testing.T, k int) verdict {
	_, stderr, ok := o.cue(t, append([]string{"vet", "-c"}, pkgArgs([]int{k})...)...)
	return verdict{valid: ok, detail: string(stderr)}
}

// exportAll exports the unified value of every valid file: in batches,
// one JSON document per package, and alone when a batch fails.
func (o *cueOracle) exportAll(t *testing.T, ks []int, out []verdict) {
	chunks := chunked(ks)
	var mu sync.Mutex
	parallel(2, len(chunks), func(i int) {
		docs := o.export(t, chunks[i])
		if docs == nil {
			docs = map[int]json.RawMessage{}
			for _, k := range chunks[i] {
				for kk, d := range o.export(t, []int{k}) {
					docs[kk] = d
				}
			}
		}
		mu.Lock()
		for k, d := range docs {
			out[k].export = d
		}
		mu.Unlock()
	})
}

// export returns the exported value of each package, nil if cue fails.
func (o *cueOracle) export(t *testing.T, ks []int) map[int]json.RawMessage {
	var args []string
	for _, k := range ks {
		args = append(args, fmt.Sprintf("./c/%d", k))
	}
	stdout, _, ok := o.cue(t, append([]string{"export", "--out", "json"}, args...)...)
	if !ok {
		return nil
	}
	docs := map[int]json.RawMessage{}
	dec := json.NewDecoder(bytes.NewReader(stdout))
	for {
		var doc map[string]json.RawMessage
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("cue export printed something that is not JSON: %v", err)
		}
		for key, v := range doc {
			k, err := strconv.Atoi(strings.TrimPrefix(key, "m"))
			require.NoError(t, err, "cue export field %q", key)
			docs[k] = v
		}
	}
	return docs
}
