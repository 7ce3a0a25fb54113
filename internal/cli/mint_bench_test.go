package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/cli"
)

// BenchmarkMintCommand is the whole `jitkey mint` in-process against the
// loopback simulator: inputs, OIDC request and verification (discovery and
// JWKS), policy read at the default branch, decision, installation lookup,
// mint, mask, state, outputs, summary, audit line. It reports the median.
func BenchmarkMintCommand(b *testing.B) {
	w := newMintWorld(b)
	j := w.newJob(b, w.deployClaims())
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if code := j.run(ctx, "mint"); code != cli.ExitOK {
			b.Fatalf("mint exited %d: %s", code, &j.stderr)
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		for _, f := range []string{"output", "state", "summary"} {
			_ = os.Remove(j.dir + "/" + f)
		}
		b.StartTimer()
	}
	reportMedian(b, times)
}

// BenchmarkRevokeCommand is the whole `jitkey revoke` post step.
func BenchmarkRevokeCommand(b *testing.B) {
	w := newMintWorld(b)
	ctx := context.Background()
	posts := make([]*job, b.N)
	for i := range posts {
		j := w.newJob(b, w.deployClaims())
		if code := j.run(ctx, "mint"); code != cli.ExitOK {
			b.Fatalf("mint exited %d", code)
		}
		posts[i] = j.post()
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, p := range posts {
		start := time.Now()
		if code := p.run(ctx, "revoke"); code != cli.ExitOK {
			b.Fatalf("revoke exited %d", code)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	if n := len(w.sim.ValidTokens()); n != 0 {
		b.Fatalf("%d tokens left valid", n)
	}
	reportMedian(b, times)
}

func reportMedian(b *testing.B, times []time.Duration) {
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	if len(times) > 0 {
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
		b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, "ms-p90")
	}
}

// BenchmarkMintProcess runs the built binaries as the action's launchers
// do: a fresh jitkey-mint process per mint (main step) and a fresh
// jitkey-post process per revoke (post step), against the loopback
// simulator.
func BenchmarkMintProcess(b *testing.B) {
	bin, postBin := filepath.Join(b.TempDir(), "jitkey-mint"), filepath.Join(b.TempDir(), "jitkey-post")
	for out, pkg := range map[string]string{bin: "github.com/jitkey/jitkey/cmd/jitkey-mint", postBin: "github.com/jitkey/jitkey/cmd/jitkey-post"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	w := newMintWorld(b)
	var mints, revokes []time.Duration
	b.ResetTimer()
	for range b.N {
		j := w.newJob(b, w.deployClaims())
		start := time.Now()
		runProcess(b, bin, j)
		mints = append(mints, time.Since(start))
		p := j.post()
		start = time.Now()
		runProcess(b, postBin, p)
		revokes = append(revokes, time.Since(start))
	}
	b.StopTimer()
	reportMedian(b, mints)
	sort.Slice(revokes, func(i, j int) bool { return revokes[i] < revokes[j] })
	b.ReportMetric(float64(revokes[len(revokes)/2].Microseconds())/1000, "ms-revoke-median")
}

func runProcess(b *testing.B, bin string, j *job, args ...string) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + j.dir}
	for k, v := range j.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
}
