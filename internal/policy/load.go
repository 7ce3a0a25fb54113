package policy

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/parser"

	"github.com/jitkey/jitkey/schemas"
)

// MaxFileSize is the largest policy file Load reads.
const MaxFileSize = 1 << 20

// TestSuffix ends the name of a policy unit test file.
const TestSuffix = "_test.cue"

// Load reads the CUE policy files and *_test.cue test files at paths in
// fsys, validates each against the schema and returns the Set. When any
// file is invalid it returns a nil Set and an Errors value positioned in
// the policy files; a *BoundError when evaluating crossed DefaultLimits;
// any other error is an I/O error.
func Load(fsys fs.FS, paths []string) (*Set, error) {
	return LoadContext(context.Background(), fsys, paths)
}

// LoadContext is Load that also returns at once, with ctx's error, when
// ctx ends (the evaluation itself goes on in the background; see Limits).
func LoadContext(ctx context.Context, fsys fs.FS, paths []string) (*Set, error) {
	return LoadLimits(ctx, DefaultLimits, fsys, paths)
}

// LoadLimits is LoadContext under lim instead of DefaultLimits (the CLI's
// --eval-timeout and --eval-memory).
func LoadLimits(ctx context.Context, lim Limits, fsys fs.FS, paths []string) (*Set, error) {
	srcs := make([]source, len(paths))
	for i, p := range paths {
		data, err := readFile(fsys, p)
		if err != nil {
			return nil, err
		}
		srcs[i] = source{name: p, data: data}
	}
	return loadSources(ctx, lim, srcs)
}

// LoadBytes validates one file, named name (a *_test.cue name makes it a
// test file), and returns its Set.
func LoadBytes(name string, data []byte) (*Set, error) {
	return loadSources(context.Background(), DefaultLimits, []source{{name: name, data: data}})
}

func readFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read policy %q: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read policy %q: %w", name, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read policy %q: it is a directory; pass the .cue files or let the caller find them", name)
	}
	if st.Size() > MaxFileSize {
		// Read nothing: the size check in check() reports it positioned.
		return make([]byte, MaxFileSize+1), nil
	}
	return fs.ReadFile(fsys, name)
}

type source struct {
	name string
	data []byte
}

// schema is the compiled policy language in one cue.Context.
type schema struct {
	ctx    *cue.Context
	policy cue.Value
	tests  cue.Value
	used   int // files evaluated in ctx
}

// schemaPool keeps contexts that have evaluated fewer than
// filesPerContext files, so that small runs (one file read through the
// API, a test) do not rebuild the schema each time; a context is dropped
// once full, so memory stays bounded. A sync.Pool returns a context to the
// processor that put it, so one context is also kept in lastSchema, which
// any goroutine takes: a mint evaluates its policy directories one after
// the other on whichever processor is free, and each would otherwise build
// the schema anew (a few milliseconds each).
var (
	schemaPool sync.Pool
	lastSchema atomic.Pointer[schema]
)

// preparing is closed when the Prepare in progress has kept its schema.
var preparing struct {
	mu   sync.Mutex
	done chan struct{} // nil when no Prepare runs
}

func getSchema() (*schema, error) {
	if sc := takeSchema(); sc != nil {
		return sc, nil
	}
	// A schema being prepared is ready sooner than a new one, and building
	// both would cost the CPU the head start was meant to save.
	preparing.mu.Lock()
	done := preparing.done
	preparing.mu.Unlock()
	if done != nil {
		<-done
		if sc := takeSchema(); sc != nil {
			return sc, nil
		}
	}
	return newSchema()
}

func takeSchema() *schema {
	if sc := lastSchema.Swap(nil); sc != nil {
		return sc
	}
	if sc, ok := schemaPool.Get().(*schema); ok {
		return sc
	}
	return nil
}

// putSchema keeps sc for the next getSchema.
func putSchema(sc *schema) {
	if !lastSchema.CompareAndSwap(nil, sc) {
		schemaPool.Put(sc)
	}
}

// Prepare builds the schema into a context and keeps it for the next Load,
// so a caller that will load a policy after some network round trips (jitkey
// mint reads it through the API) can build the schema meanwhile; a Load
// that starts before it is done waits for it rather than build another. It
// is only a head start: Load works the same without it.
func Prepare() {
	if sc := takeSchema(); sc != nil {
		putSchema(sc)
		return
	}
	preparing.mu.Lock()
	if preparing.done != nil {
		preparing.mu.Unlock()
		return
	}
	done := make(chan struct{})
	preparing.done = done
	preparing.mu.Unlock()
	defer func() {
		preparing.mu.Lock()
		preparing.done = nil
		preparing.mu.Unlock()
		close(done)
	}()
	if sc, err := newSchema(); err == nil {
		// The schema's patterns (names, repositories, permissions) are
		// compiled on first use, process-wide: checking a small policy now
		// compiles them while the caller waits on the network.
		sc.file("prepare.cue", warmUpPolicy)
		sc.used++
		putSchema(sc)
	}
}

// warmUpPolicy is a policy with a rule and a ceiling, the parts of the
// schema a mint's policies use.
var warmUpPolicy = []byte(`apiVersion: "jitkey.dev/v1"
rules: [{
	name:            "deploy"
	requireVerified: true
	match: {repository: "acme/api", ref: "refs/heads/main", environment: "production", event_name: "push"}
	grant: {repositories: ["caller", "acme/infra"], permissions: {contents: "read", deployments: "write"}}
}]
ceiling: {permissions: {contents: "write", deployments: "write"}, repositories: ["acme/*"]}
`)

// schemaInstance parses the embedded schema files once per process; each
// run builds them into its own context. The instance is assembled by hand
// rather than with cue/load: the schema is one package of two files with
// only standard-library imports, and cue/load would link the module
// registry client (OCI, protobuf) into every jitkey process and cost the
// action's mint step its start-up time.
var schemaInstance = sync.OnceValues(func() (*build.Instance, error) {
	inst := build.NewContext().NewInstance("jitkey.dev/schemas", nil)
	for _, name := range schemas.Files {
		data, err := schemas.FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read the embedded schema (a build defect): %w", err)
		}
		f, err := parser.ParseFile(path.Join("schemas", name), data, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse the embedded schema (a build defect): %w", err)
		}
		if err := inst.AddSyntax(f); err != nil {
			return nil, fmt.Errorf("assemble the embedded schema (a build defect): %w", err)
		}
	}
	// Complete here, once: BuildInstance would otherwise complete the shared
	// instance on first use, from every goroutine building a context.
	if err := inst.Complete(); err != nil {
		return nil, fmt.Errorf("assemble the embedded schema (a build defect): %w", err)
	}
	return inst, nil
})

// newSchema builds the embedded schema in a fresh context: one context per
// run, so that memory does not grow across runs.
func newSchema() (*schema, error) {
	inst, err := schemaInstance()
	if err != nil {
		return nil, err
	}
	ctx := newContext()
	v := ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("build the embedded schema (a build defect): %w", err)
	}
	return &schema{ctx: ctx, policy: v.LookupPath(cue.MakePath(cue.Def("Policy"))), tests: v.LookupPath(cue.MakePath(cue.Def("Tests")))}, nil
}

// fileResult is one file, checked and decoded.
type fileResult struct {
	name  string
	data  []byte
	test  bool
	diags []Diagnostic
	pol   *filePolicy
	tests []TestCase
}

// filesPerContext bounds how many files one cue.Context evaluates: a
// context keeps everything it built, and evaluation slows as it grows.
const filesPerContext = 64

func loadSources(ctx context.Context, lim Limits, srcs []source) (*Set, error) {
	key := memoKey(srcs)
	if s := memoGet(key); s != nil {
		return s, nil
	}
	fl := &inFlight{files: map[int]flight{}}
	s, err := bounded(ctx, lim, fl, func() (*Set, error) { return loadFresh(fl, srcs) })
	if err == nil {
		memoPut(key, s)
	}
	var be *BoundError
	if errors.As(err, &be) && be.File == "" && len(srcs) == 1 {
		// Stopped before the worker began on it (a tight bound): the one
		// file is the culprit all the same.
		be.File = srcs[0].name
	}
	return s, err
}

// loadFresh evaluates srcs, telling fl which file each worker is on.
func loadFresh(fl *inFlight, srcs []source) (*Set, error) {
	if _, err := schemaInstance(); err != nil {
		return nil, err
	}
	results := make([]fileResult, len(srcs))
	workers := max(1, min(runtime.GOMAXPROCS(0), len(srcs)))
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := range workers {
		wg.Go(func() {
			var sc *schema
			var failed bool
			for i := range next {
				if failed {
					continue // drain, so that the sender never blocks
				}
				if sc == nil || sc.used >= filesPerContext {
					var err error
					if sc, err = getSchema(); err != nil {
						mu.Lock()
						firstErr = cmp.Or(firstErr, err)
						mu.Unlock()
						failed = true
						continue
					}
				}
				if !fl.begin(w, srcs[i].name) {
					failed = true // the caller gave up
					continue
				}
				results[i] = sc.file(srcs[i].name, srcs[i].data)
				fl.end(w)
				sc.used++
			}
			if sc != nil && sc.used < filesPerContext {
				putSchema(sc)
			}
		})
	}
	for i := range srcs {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return assemble(results)
}

// file checks one file against the schema and decodes it.
func (sc *schema) file(name string, data []byte) fileResult {
	res := fileResult{name: name, data: data, test: strings.HasSuffix(name, TestSuffix)}
	if d, bad := checkBytes(name, data); bad {
		res.diags = []Diagnostic{d}
		return res
	}
	raw, u, diags := sc.validate(name, data)
	if diags != nil {
		res.diags = runeColumns(data, diags)
		return res
	}
	d := decoder{file: name, raw: raw, cols: newColumns(data)}
	if res.test {
		res.tests = d.tests(u)
	} else {
		res.pol = d.policy(u)
	}
	res.diags = d.diags
	return res
}

// validate is the schema's verdict on one file: it compiles the file and
// unifies it with #Policy, or #Tests for a *_test.cue file. It returns the
// compiled file (for positions) and the unified value (what CUE evaluates,
// and what jitkey decodes), or the diagnostics.
func (sc *schema) validate(name string, data []byte) (raw, unified cue.Value, _ []Diagnostic) {
	// As the cue command's loader does, read bytes that are not UTF-8 as
	// U+FFFD; Load refuses such files before, in checkBytes.
	raw, diags := sc.compile(name, bytes.ToValidUTF8(data, []byte("\uFFFD")))
	if diags != nil {
		return raw, cue.Value{}, diags
	}
	def := sc.policy
	if strings.HasSuffix(name, TestSuffix) {
		def = sc.tests
	}
	u := raw.Unify(def)
	if err := u.Validate(cue.Concrete(true), cue.All()); err != nil {
		return raw, u, cueDiagnostics(name, raw, u, err)
	}
	return raw, u, nil
}

// compile checks that data is CUE and builds it; diagnostics carry
// CodeSyntax when the file is not CUE at all.
func (sc *schema) compile(name string, data []byte) (cue.Value, []Diagnostic) {
	f, err := parser.ParseFile(name, data, parser.ParseComments)
	if err != nil {
		return cue.Value{}, syntaxDiagnostics(name, err)
	}
	for spec := range f.ImportSpecs() {
		if p, err := strconv.Unquote(spec.Path.Value); err == nil && !isStdlib(p) {
			return cue.Value{}, []Diagnostic{toPos(name, spec.Pos()).diag(CodeSchema, "",
				"import %q: a policy file is self-contained and may import only CUE's standard library; inline the values", p)}
		}
	}
	if pos, ok := embedFile(f); ok {
		return cue.Value{}, []Diagnostic{toPos(name, pos).diag(CodeSchema, "", "%s", embedMessage)}
	}
	raw := sc.ctx.BuildFile(f)
	if err := raw.Err(); err != nil {
		return cue.Value{}, cueDiagnostics(name, raw, raw, err)
	}
	return raw, nil
}

// embedMessage refuses @extern(embed) in a file jitkey reads.
const embedMessage = "@extern(embed): the file is read on its own, outside any CUE module, so it cannot embed other files; write their values in the file"

// checkBytes rejects input that cannot be a policy before CUE sees it:
// these checks are jitkey's, beyond the schema (CUE itself accepts bytes
// that are not UTF-8 inside strings).
// isStdlib reports whether an import path names CUE's standard library,
// whose first element has no dot.
func isStdlib(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

func checkBytes(name string, data []byte) (Diagnostic, bool) {
	start := Pos{File: name, Line: 1, Col: 1}
	switch {
	case len(data) > MaxFileSize:
		return start.diag(CodeSyntax, "", "the file is larger than %d bytes; a policy file is small CUE, split it", MaxFileSize), true
	case len(bytes.TrimSpace(data)) == 0:
		return start.diag(CodeSyntax, "", "the file is empty; a policy file starts with apiVersion: %q", APIVersion), true
	case !utf8.Valid(data):
		return invalidUTF8(name, data), true
	}
	return Diagnostic{}, false
}

func invalidUTF8(name string, data []byte) Diagnostic {
	line, col := 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++ // columns count characters
		}
		data = data[size:]
	}
	return Pos{File: name, Line: line, Col: col}.diag(CodeSyntax, "", "the file is not valid UTF-8 here; save it as UTF-8")
}
