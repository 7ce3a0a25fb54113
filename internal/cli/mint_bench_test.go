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
// simulator. The binaries are built as release.yml builds them (-trimpath,
// -s -w, no cgo). Metrics: ms-median and ms-p90 (the mint, wall),
// ms-revoke-median, and cpu-ms-mint and cpu-ms-revoke (medians of each
// process's user + system time: what to compare on a loaded machine).
func BenchmarkMintProcess(b *testing.B) {
	bin, postBin := filepath.Join(b.TempDir(), "jitkey-mint"), filepath.Join(b.TempDir(), "jitkey-post")
	for out, pkg := range map[string]string{bin: "github.com/jitkey/jitkey/cmd/jitkey-mint", postBin: "github.com/jitkey/jitkey/cmd/jitkey-post"} {
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, msg)
		}
	}
	w := newMintWorld(b)
	var mints, revokes, cpuMint, cpuRevoke []time.Duration
	b.ResetTimer()
	for range b.N {
		j := w.newJob(b, w.deployClaims())
		start := time.Now()
		cpu := runProcess(b, bin, j)
		mints = append(mints, time.Since(start))
		cpuMint = append(cpuMint, cpu)
		p := j.post()
		start = time.Now()
		cpu = runProcess(b, postBin, p)
		revokes = append(revokes, time.Since(start))
		cpuRevoke = append(cpuRevoke, cpu)
	}
	b.StopTimer()
	reportMedian(b, mints)
	b.ReportMetric(medianMs(revokes), "ms-revoke-median")
	b.ReportMetric(medianMs(cpuMint), "cpu-ms-mint")
	b.ReportMetric(medianMs(cpuRevoke), "cpu-ms-revoke")
}

func medianMs(d []time.Duration) float64 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[len(d)/2].Microseconds()) / 1000
}

// runProcess runs bin as a step of job j and returns its CPU time (user +
// system).
func runProcess(b *testing.B, bin string, j *job, args ...string) time.Duration {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + j.dir}
	for k, v := range j.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}
