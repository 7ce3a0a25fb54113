package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/cli"
)

// genPolicyFiles writes files policy files of rules rules each under
// dir/policies, every rule distinct, and returns their paths.
func genPolicyFiles(tb testing.TB, dir string, files, rules int) []string {
	tb.Helper()
	pdir := filepath.Join(dir, "policies")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var paths []string
	for f := range files {
		var b strings.Builder
		b.WriteString("apiVersion: \"jitkey.dev/v1\"\n\nrules: [")
		for r := range rules {
			if r > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, `{
	name:            "svc-%d-deploy-%d"
	requireVerified: true
	match: {
		repository:   "acme/svc-%d"
		workflow_ref: {pattern: "^acme/svc-%d/\\.github/workflows/deploy\\.yml@refs/heads/main$"}
		ref:          "refs/heads/main"
		ref_protected: true
		environment:  "env-%d"
	}
	grant: {
		repositories: ["caller", "acme/infra"]
		permissions: {contents: "read", deployments: "write"}
	}
}`, f, r, f, f, r)
		}
		b.WriteString("]\n")
		p := filepath.Join(pdir, fmt.Sprintf("svc-%04d.cue", f))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// usage is what one run of a command cost.
type usage struct {
	wall, cpu time.Duration // cpu: user + system
	rss       int64         // peak resident set, bytes
}

// measured runs a command and returns its wall time, CPU time and peak
// RSS. Linux carries the parent's peak RSS into a child's at exec, so the
// parent must be small when it runs this: measure before any heavy work.
func measured(cmd *exec.Cmd) (usage, error) {
	start := time.Now()
	err := cmd.Run()
	u := usage{wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return u, err
	}
	u.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return u, err
}

// BenchmarkValidate1000Files validates 1,000 generated policy files of 5
// rules each: in-process through cli.Run (ns/op), then once as a separate
// `jitkey validate` (schema and lint) process for wall time and peak RSS,
// printed beside two baselines run in the same benchmark: `cue vet -c` run
// once over the same files as one package set (what a CUE user runs: the
// like-for-like comparison), and one cue process per file, two at a time
// (the machine's cores). cue is the binary named by $JITKEY_CUE, or is
// built from the module's tool dependency:
//
//	go test -run '^$' -bench Validate1000 -benchtime 3x ./internal/cli/
func BenchmarkValidate1000Files(b *testing.B) {
	dir := b.TempDir()
	files := genPolicyFiles(b, dir, 1000, 5)
	// Separate processes first, while this process is small (see measured).
	jitkey, err := exec.LookPath("jitkey") // the test binary, installed by testscript.Main
	if err != nil {
		b.Fatal(err)
	}
	// No evaluation deadline: on a loaded machine 1,000 files can take
	// longer than the default 10s of wall time, which is a bound for
	// hostile files, not what this measures.
	args := []string{"validate", "--eval-timeout", "0", "policies"}
	cmd := exec.Command(jitkey, args...)
	cmd.Dir = dir
	own, err := measured(cmd)
	if err != nil {
		b.Fatalf("jitkey validate: %v", err)
	}
	cue := cueBinary(b)
	vetOnce := cueVetOnce(b, cue, files)
	vet := cueVet(b, cue, files)

	var stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Now: time.Now, Dir: dir}
	for b.Loop() {
		if code := cli.Run(context.Background(), args, env); code != cli.ExitOK {
			b.Fatalf("jitkey validate exited %d: %s", code, stderr.String())
		}
	}
	inProcess := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(own.rss)/(1<<20), "peak-RSS-MB")

	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Printf("\n%-46s %10s %10s %10s\n", "1,000 files x 5 rules", "wall", "CPU", "peak RSS")
	fmt.Printf("%-46s %10s\n", "jitkey validate, in-process (cli.Run)", ms(inProcess))
	fmt.Printf("%-46s %10s %10s %7.1f MB\n", "jitkey validate, own process", ms(own.wall), ms(own.cpu), float64(own.rss)/(1<<20))
	fmt.Printf("%-46s %10s %10s %7.1f MB\n", "cue vet -c, one run, the files as a package set", ms(vetOnce.wall), ms(vetOnce.cpu), float64(vetOnce.rss)/(1<<20))
	fmt.Printf("%-46s %10s %10s %7.1f MB\n", "cue vet -c, a process per file, 2 at a time", ms(vet.wall), ms(vet.cpu), float64(vet.rss)/(1<<20))
	fmt.Printf("%-46s %9.1fx %9.1fx\n", "cue vet -c one run / jitkey validate", vetOnce.wall.Seconds()/own.wall.Seconds(), vetOnce.cpu.Seconds()/own.cpu.Seconds())
	fmt.Printf("%-46s %9.1fx %9.1fx\n\n", "cue vet -c per file / jitkey validate", vet.wall.Seconds()/own.wall.Seconds(), vet.cpu.Seconds()/own.cpu.Seconds())
	b.ReportMetric(vetOnce.wall.Seconds()/own.wall.Seconds(), "x-faster-than-one-cue-vet")
}

// cueBinary is $JITKEY_CUE, or the cue command built from the module's
// tool dependency.
func cueBinary(b *testing.B) string {
	b.Helper()
	cue := os.Getenv("JITKEY_CUE")
	if cue == "" {
		cue = filepath.Join(b.TempDir(), "cue")
		build := exec.Command("go", "build", "-o", cue, "cuelang.org/go/cmd/cue")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build cue: %v\n%s", err, out)
		}
	}
	return cue
}

// cueVetOnce runs `cue vet -c` once over every file, as a CUE user checks a
// set of files: a module holding the schema, each policy file its own
// package f/N (the files cannot share one: their rules lists would unify),
// and a package c/N stating `policy: schemas.#Policy & p` for each, all
// vetted by one process (./c/...).
func cueVetOnce(b *testing.B, cue string, files []string) usage {
	b.Helper()
	root := b.TempDir()
	write := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("cue.mod/module.cue", []byte("module: \"jitkey.bench@v0\"\nlanguage: version: \"v0.17.0\"\n"))
	for _, name := range []string{"policy.cue", "permissions.cue"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "schemas", name))
		if err != nil {
			b.Fatal(err)
		}
		write("schemas/"+name, data)
	}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		write(fmt.Sprintf("f/%d/p.cue", i), append([]byte("package p\n"), data...))
		write(fmt.Sprintf("c/%d/c.cue", i), fmt.Appendf(nil,
			"package c\n\nimport (\n\ts \"jitkey.bench/schemas\"\n\tp \"jitkey.bench/f/%d:p\"\n)\n\npolicy: s.#Policy & p\n", i))
	}
	cmd := exec.Command(cue, "vet", "-c", "./c/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CUE_REGISTRY=none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	u, err := measured(cmd)
	if err != nil {
		b.Fatalf("cue vet -c ./c/...: %v\n%s", err, stderr.String())
	}
	return u
}

// cueVet runs `cue vet -c` on each file inside a directory that holds the
// schema and a file stating `check: #Policy & p`, p being the policy file's
// content, and returns the total wall and CPU time and the largest peak RSS.
func cueVet(b *testing.B, cue string, files []string) usage {
	b.Helper()
	schema := map[string][]byte{}
	for _, name := range []string{"policy.cue", "permissions.cue"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "schemas", name))
		if err != nil {
			b.Fatal(err)
		}
		schema[name] = data
	}
	root := b.TempDir()
	dirs := make([]string, len(files))
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		dirs[i] = filepath.Join(root, fmt.Sprint(i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			b.Fatal(err)
		}
		for name, s := range schema {
			if err := os.WriteFile(filepath.Join(dirs[i], name), s, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		check := "package schemas\n\np: {\n" + string(data) + "}\n\ncheck: #Policy & p\n"
		if err := os.WriteFile(filepath.Join(dirs[i], "check.cue"), []byte(check), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	var total usage
	var failed error
	work := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for range min(2, runtime.NumCPU()) {
		wg.Go(func() {
			for d := range work {
				cmd := exec.Command(cue, "vet", "-c", ".")
				cmd.Dir = d
				u, err := measured(cmd)
				mu.Lock()
				total.cpu += u.cpu
				total.rss = max(total.rss, u.rss)
				if err != nil && failed == nil {
					failed = fmt.Errorf("cue vet -c in %s: %w", d, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, d := range dirs {
		work <- d
	}
	close(work)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	total.wall = time.Since(start)
	return total
}
