// Command mutants writes the single-change mutants of jitkey's own
// policies (policies/*.cue) to a directory, each file headed by a comment
// saying what was changed. The committed corpus is its output for seed 1:
//
//	go generate ./internal/policy/
//
// The oracle test makes a fresh set with another seed each run.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jitkey/jitkey/internal/policy/internal/mutate"
	"github.com/jitkey/jitkey/policies"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed choosing one change per value")
	out := flag.String("out", "", "directory to write the mutants to (emptied of *.cue first)")
	flag.Parse()
	if err := run(*seed, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(1)
	}
}

func run(seed uint64, out string) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	files, err := mutate.Sources(policies.FS)
	if err != nil {
		return err
	}
	ms, err := mutate.Generate(seed, files)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o750); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(out, "*.cue"))
	if err != nil {
		return err
	}
	for _, o := range old {
		if err := os.Remove(o); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if err := os.WriteFile(filepath.Join(out, m.Name), m.File(), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("mutants: %d files in %s (seed %d)\n", len(ms), out, seed)
	return nil
}
