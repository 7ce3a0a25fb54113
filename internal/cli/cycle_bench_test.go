//go:build linux || darwin

package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"
)

// BenchmarkActionCycle runs a whole action step pair as the runner does:
// node action/main.js (the launcher verifies dist/jitkey against
// dist/SHA256SUMS and runs jitkey mint), then node action/post.js (the
// launcher verifies dist/jitkey-post and revokes), against the loopback
// simulator, with the runner's files (outputs, state, summary, RUNNER_TEMP)
// emulated and the state handed from main to post as STATE_ variables. The
// binaries are built as release.yml builds them. In the same run, as the
// baseline, the same two binaries are run alone (no node, no checksums):
// what the launchers add is the difference.
//
// Metrics: ms-cycle-median (main + post, wall), ms-binaries-median (the
// baseline), ms-main-median and ms-post-median, MiB-peak (the largest peak
// RSS of any process of the cycle: node or the binary, ru_maxrss),
// MiB-peak-binaries (the same for the baseline), and cycle/binaries.
func BenchmarkActionCycle(b *testing.B) {
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node is not on PATH")
	}
	root := actionRoot(b)
	w := newMintWorld(b)
	var cycles, mains, posts, bare []time.Duration
	var peak, barePeak int64
	b.ResetTimer()
	for range b.N {
		j := w.newJob(b, w.deployClaims())
		j.vars["RUNNER_TEMP"] = j.dir
		start := time.Now()
		rss := runStep(b, "node", j, filepath.Join(root, "action", "main.js"))
		mid := time.Now()
		p := j.post()
		p.vars["RUNNER_TEMP"] = j.dir
		rss = max(rss, runStep(b, "node", p, filepath.Join(root, "action", "post.js")))
		end := time.Now()
		cycles, mains, posts = append(cycles, end.Sub(start)), append(mains, mid.Sub(start)), append(posts, end.Sub(mid))
		peak = max(peak, rss)

		// The baseline: the same binaries, alone.
		j = w.newJob(b, w.deployClaims())
		start = time.Now()
		barePeak = max(barePeak, runStep(b, filepath.Join(root, "dist", distName("jitkey")), j, "mint"))
		barePeak = max(barePeak, runStep(b, filepath.Join(root, "dist", distName("jitkey-post")), j.post()))
		bare = append(bare, time.Since(start))
	}
	b.StopTimer()
	if n := len(w.sim.ValidTokens()); n != 0 {
		b.Fatalf("%d tokens left valid", n)
	}
	ms := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	c, base := ms(cycles), ms(bare)
	b.ReportMetric(c, "ms-cycle-median")
	b.ReportMetric(base, "ms-binaries-median")
	b.ReportMetric(ms(mains), "ms-main-median")
	b.ReportMetric(ms(posts), "ms-post-median")
	b.ReportMetric(c/base, "cycle/binaries")
	b.ReportMetric(float64(peak)/1024, "MiB-peak")
	b.ReportMetric(float64(barePeak)/1024, "MiB-peak-binaries")
}

func distName(cmd string) string {
	return fmt.Sprintf("%s-%s-%s", cmd, runtime.GOOS, runtime.GOARCH)
}

// actionRoot lays out the action as a release tag holds it: action.yml,
// action/*.js, and dist/ with both binaries (built as release.yml builds
// them) and SHA256SUMS.
func actionRoot(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	for _, d := range []string{"action", "dist"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []string{"action.yml", "action/launch.js", "action/main.js", "action/post.js"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var sums string
	for _, cmd := range []string{"jitkey", "jitkey-post"} {
		out := filepath.Join(root, "dist", distName(cmd))
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/"+cmd)
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", cmd, err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums += hex.EncodeToString(sum[:]) + "  " + distName(cmd) + "\n"
	}
	if err := os.WriteFile(filepath.Join(root, "dist", "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		b.Fatal(err)
	}
	return root
}

// runStep runs one step's process with the job's environment and returns
// its peak RSS in KiB (the largest of it and its children).
func runStep(b *testing.B, bin string, j *job, args ...string) int64 {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + j.dir}
	for k, v := range j.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return maxrssKiB(ru)
	}
	return 0
}
