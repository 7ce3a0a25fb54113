package policy_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jitkey/jitkey/internal/policy"
	"github.com/jitkey/jitkey/internal/policy/internal/mutate"
	"github.com/jitkey/jitkey/policies"
)

//go:generate go run ./internal/mutate/mutants -seed 1 -out ../../testdata/corpus/mutants

const corpusDir = "../../testdata/corpus"

var (
	oracleSeed  = flag.Uint64("oracle.seed", 2, "seed of the freshly generated mutants the oracle test checks")
	oracleTrace = flag.Bool("oracle.trace", false, "log each cue process the oracle test runs, with its CPU time")
)

// TestOracleCueVet holds jitkey to the cue command of the same
// cuelang.org/go version: on every file of the corpus, the hand-written
// files of testdata/corpus, the committed mutants of testdata/corpus/mutants
// and a set of mutants of policies/ generated afresh (-oracle.seed), the
// schema's verdict must be `cue vet -c`'s, and for every file cue accepts,
// what jitkey decoded must be what `cue export` prints of the same
// unification (rules, conditions, grants, ceiling, review, exemptions,
// tests), read with the defaults the schema documents.
func TestOracleCueVet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the cue command")
	}
	t.Parallel()
	hand := readCorpus(t, corpusDir)
	require.GreaterOrEqual(t, len(hand), 45)
	committed := readCorpus(t, filepath.Join(corpusDir, "mutants"))
	require.GreaterOrEqual(t, len(committed), 500, "run go generate ./internal/policy/")
	srcs, err := mutate.Sources(policies.FS)
	require.NoError(t, err)
	ms, err := mutate.Generate(*oracleSeed, srcs)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ms), 500)
	var fresh []corpusFile
	for _, m := range ms {
		fresh = append(fresh, corpusFile{name: m.Name, data: m.File()})
	}

	for _, f := range hand {
		t.Run("corpus/"+f.name, func(t *testing.T) { handNaming(t, f) })
	}
	sets := []struct {
		name  string
		files []corpusFile
	}{{"corpus", hand}, {"mutants", committed}, {"fresh", fresh}}
	// Each distinct file goes to cue once: the fresh set shares with the
	// committed one every change made to all values (removals, unknown
	// fields), and differs in the changes the seed picks.
	var unique []corpusFile
	index := map[string]int{}
	key := func(f corpusFile) string {
		return strconv.FormatBool(strings.HasSuffix(f.name, policy.TestSuffix)) + string(f.data)
	}
	for _, s := range sets {
		for _, f := range s.files {
			if _, seen := index[key(f)]; !seen {
				index[key(f)] = len(unique)
				unique = append(unique, f)
			}
		}
	}
	// jitkey reads the files while cue runs.
	views := make([]jitkeyView, len(unique))
	done := make(chan struct{})
	go func() {
		defer close(done)
		parallel(runtime.GOMAXPROCS(0), len(unique), func(i int) { views[i] = jitkeyRead(unique[i]) })
	}()
	verdicts := newCueOracle(t, unique).run(t)
	<-done
	outcomes := make([]outcome, len(unique))
	for i, f := range unique {
		outcomes[i] = agree(t, f, views[i], verdicts[i])
	}
	for _, s := range sets {
		var st oracleStats
		for _, f := range s.files {
			st.count(outcomes[index[key(f)]])
		}
		t.Logf("%s: %d files; cue accepts %d (jitkey decodes the same meaning for %d, its Go checks refuse %d), rejects %d; disagreements %d",
			s.name, len(s.files), st.accepted, st.sameMeaning, st.goRefused, st.rejected, st.disagree)
	}
}

type oracleStats struct{ accepted, sameMeaning, goRefused, rejected, disagree int }

func (st *oracleStats) count(o outcome) {
	switch o {
	case disagree:
		st.disagree++
	case bothReject:
		st.rejected++
	case goRefuses:
		st.accepted++
		st.goRefused++
	case sameMeaning:
		st.accepted++
		st.sameMeaning++
	}
}

// jitkeyView is what jitkey makes of one file.
type jitkeyView struct {
	set   *policy.Set
	err   error
	diags []policy.Diagnostic // the schema check's, when Load fails
}

func jitkeyRead(f corpusFile) jitkeyView {
	set, err := policy.LoadBytes(f.name, f.data)
	v := jitkeyView{set: set, err: err}
	if err != nil { // Load runs the schema check and more: only a failure needs it alone
		v.diags = policy.SchemaCheck(f.name, f.data)
	}
	return v
}

// outcome is how jitkey and cue compare on one file.
type outcome int

const (
	disagree    outcome = iota
	bothReject          // cue rejects, and so does jitkey's schema check
	goRefuses           // cue accepts, and so does the schema check; a check Load adds in Go refuses it
	sameMeaning         // both accept, and jitkey decoded what cue exports
)

// agree reports (and fails the test on) any difference between jitkey and
// the cue command on one file.
func agree(t *testing.T, f corpusFile, jk jitkeyView, v verdict) outcome {
	t.Helper()
	label, set, err, diags := f.name, jk.set, jk.err, jk.diags
	if v.valid != (len(diags) == 0) {
		t.Errorf("%s: cue vet -c says valid=%v, jitkey's schema check says %v\ncue: %s\nfile:\n%s", label, v.valid, diags, v.detail, clip(f.data))
		return disagree
	}
	if !v.valid {
		if err == nil {
			t.Errorf("%s: cue and the schema check reject it, Load accepts it", label)
			return disagree
		}
		return bothReject
	}
	if err != nil {
		var errs policy.Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: Load: %v", label, err)
			return disagree
		}
		for _, d := range errs {
			if d.Code == policy.CodeSchema {
				t.Errorf("%s: cue accepts it, but Load refuses it with a schema diagnostic: %v", label, d)
				return disagree
			}
		}
		return goRefuses // a check jitkey adds in Go: UTF-8, duplicate names, patterns, the ceiling
	}
	if v.export == nil {
		t.Errorf("%s: cue vet -c accepts it, cue export fails", label)
		return disagree
	}
	want, err := meaningOfExport(v.export)
	if err != nil {
		t.Errorf("%s: read cue export: %v\n%s", label, err, clip(v.export))
		return disagree
	}
	if !assert.Equal(t, want, meaningOfSet(set), "%s: jitkey decoded another meaning than cue export's (expected: cue)\nfile:\n%s", label, clip(f.data)) {
		return disagree
	}
	return sameMeaning
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

func readCorpus(t *testing.T, dir string) []corpusFile {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []corpusFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".cue") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out = append(out, corpusFile{name: e.Name(), data: data})
	}
	slices.SortFunc(out, func(a, b corpusFile) int { return strings.Compare(a.name, b.name) })
	return out
}

// handNaming checks the hand-written corpus's own promise: the file name
// states the verdict. valid-*: accepted; invalid-*: the schema rejects
// it; goinvalid-*: the schema accepts it and Load's Go checks reject it.
func handNaming(t *testing.T, f corpusFile) {
	diags := policy.SchemaCheck(f.name, f.data)
	_, loadErr := policy.LoadBytes(f.name, f.data)
	switch {
	case strings.HasPrefix(f.name, "valid-"):
		assert.Empty(t, diags)
		assert.NoError(t, loadErr)
	case strings.HasPrefix(f.name, "goinvalid-"):
		assert.Empty(t, diags, "the schema accepts it")
		var errs policy.Errors
		require.ErrorAs(t, loadErr, &errs, "Load rejects it")
		for _, d := range errs {
			assert.NotEqual(t, policy.CodeSchema, d.Code)
		}
	case strings.HasPrefix(f.name, "invalid-"):
		assert.NotEmpty(t, diags)
		assert.Error(t, loadErr)
	default:
		t.Fatalf("corpus file %s: name it valid-, invalid- or goinvalid-", f.name)
	}
	if len(f.data) > 0 {
		assert.True(t, strings.HasPrefix(string(f.data), "// "), "every corpus file starts with a comment saying what it tests")
	}
}
