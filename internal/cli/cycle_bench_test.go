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
	"strconv"
	"testing"
	"time"
)

// BenchmarkActionCycle runs a whole action step pair as the runner does:
// node action/main.js (the launcher verifies dist/jitkey-mint against
// dist/SHA256SUMS and runs it), then node action/post.js (the launcher
// verifies dist/jitkey-post and revokes), against the loopback simulator,
// with the runner's files (outputs, state, summary, RUNNER_TEMP) emulated
// and the state handed from main to post as STATE_ variables, the action's
// files written over a second before the first step, as the runner writes
// them when it sets up the job. The binaries
// are built as release.yml builds them. In the same run, as baselines: the
// same two binaries alone (no node, no checksums), and node starting an
// empty script; the floor is two node starts plus the binaries alone, what
// any launcher in node pays. The environment is the runner's: PATH and HOME,
// no NODE_OPTIONS or NODE_EXTRA_CA_CERTS (GitHub's runners set neither, and
// the latter alone costs ~80 ms per node start).
//
// Metrics, medians over b.N: ms-cycle (main + post, wall), ms-main,
// ms-post, ms-binaries (the baseline), ms-node (one bare node start),
// ms-floor (2 × ms-node + ms-binaries), cycle/binaries and cycle/floor; the
// same in CPU time (user + system, children included: what to compare on a
// loaded machine): cpu-ms-cycle, -main, -post, -floor, -mint and -revoke
// (the binaries alone), -node; peaks (ru_maxrss, MiB,
// the largest over b.N) of each process: MiB-node-main and MiB-node-post
// (node alone, measured in one extra cycle through a preload that reads
// node's own rusage), MiB-mint and MiB-post (the binaries, from the
// baseline), MiB-node-bare, and MiB-peak (the largest of the cycle).
func BenchmarkActionCycle(b *testing.B) {
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node is not on PATH")
	}
	root, pr := actionRoot(b), buildPeakrun(b)
	// The runner downloads the action when it sets up the job, seconds
	// before a step runs it; the launcher identifies (and post need not hash
	// again) only a dist/ file that changed at least a second before main
	// verified it (see IDENTITY_AGE in action/launch.js).
	time.Sleep(1100 * time.Millisecond)
	empty := filepath.Join(b.TempDir(), "empty.js")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	w := newMintWorld(b)
	var cycle, main, post, bins, node, floor, cpuCycle, cpuFloor, cpuMain, cpuPost, cpuMint, cpuRevoke, cpuNode samples
	var peak, mintPeak, postPeak, nodePeak int64
	b.ResetTimer()
	for range b.N {
		j := w.newJob(b, w.deployClaims())
		j.vars["RUNNER_TEMP"] = j.dir
		m := runStep(b, pr, "node", j, filepath.Join(root, "action", "main.js"))
		p := j.post()
		p.vars["RUNNER_TEMP"] = j.dir
		q := runStep(b, pr, "node", p, filepath.Join(root, "action", "post.js"))
		cycle.add(m.wall + q.wall)
		main.add(m.wall)
		post.add(q.wall)
		cpuCycle.add(m.cpu + q.cpu)
		cpuMain.add(m.cpu)
		cpuPost.add(q.cpu)
		peak = max(peak, m.rss, q.rss)

		// The baselines: the same binaries alone, and a bare node.
		j = w.newJob(b, w.deployClaims())
		bm := runStep(b, pr, filepath.Join(root, "dist", distName("jitkey-mint")), j)
		bp := runStep(b, pr, filepath.Join(root, "dist", distName("jitkey-post")), j.post())
		n := runStep(b, pr, "node", j, empty)
		bins.add(bm.wall + bp.wall)
		node.add(n.wall)
		floor.add(2*n.wall + bm.wall + bp.wall)
		cpuFloor.add(2*n.cpu + bm.cpu + bp.cpu)
		cpuMint.add(bm.cpu)
		cpuRevoke.add(bp.cpu)
		cpuNode.add(n.cpu)
		mintPeak, postPeak, nodePeak = max(mintPeak, bm.rss), max(postPeak, bp.rss), max(nodePeak, n.rss)
	}
	b.StopTimer()
	nodeMain, nodePost := nodeSelfPeaks(b, pr, w, root)
	if n := len(w.sim.ValidTokens()); n != 0 {
		b.Fatalf("%d tokens left valid", n)
	}
	c := cycle.median()
	b.ReportMetric(c, "ms-cycle")
	b.ReportMetric(main.median(), "ms-main")
	b.ReportMetric(post.median(), "ms-post")
	b.ReportMetric(bins.median(), "ms-binaries")
	b.ReportMetric(node.median(), "ms-node")
	b.ReportMetric(floor.median(), "ms-floor")
	b.ReportMetric(cpuCycle.median(), "cpu-ms-cycle")
	b.ReportMetric(cpuFloor.median(), "cpu-ms-floor")
	b.ReportMetric(cpuMain.median(), "cpu-ms-main")
	b.ReportMetric(cpuPost.median(), "cpu-ms-post")
	b.ReportMetric(cpuMint.median(), "cpu-ms-mint")
	b.ReportMetric(cpuRevoke.median(), "cpu-ms-revoke")
	b.ReportMetric(cpuNode.median(), "cpu-ms-node")
	b.ReportMetric(c/bins.median(), "cycle/binaries")
	b.ReportMetric(c/floor.median(), "cycle/floor")
	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	b.ReportMetric(mib(peak), "MiB-peak")
	b.ReportMetric(mib(nodeMain), "MiB-node-main")
	b.ReportMetric(mib(nodePost), "MiB-node-post")
	b.ReportMetric(mib(mintPeak), "MiB-mint")
	b.ReportMetric(mib(postPeak), "MiB-post")
	b.ReportMetric(mib(nodePeak), "MiB-node-bare")
}

// samples are durations in milliseconds.
type samples []float64

func (s *samples) add(d time.Duration) { *s = append(*s, float64(d.Microseconds())/1000) }

func (s samples) median() float64 {
	sort.Float64s(s)
	return s[len(s)/2]
}

// nodeSelfPeaks runs one more cycle with a preload that writes node's own
// peak RSS (getrusage(RUSAGE_SELF): its children excluded) when it exits,
// and returns main's and post's, in KiB.
func nodeSelfPeaks(b *testing.B, pr string, w *mintWorld, root string) (main, post int64) {
	b.Helper()
	dir := b.TempDir()
	preload := filepath.Join(dir, "peak.js")
	js := `process.on('exit', () => require('fs').writeFileSync(process.env.JITKEY_BENCH_PEAK, String(process.resourceUsage().maxRSS)));`
	if err := os.WriteFile(preload, []byte(js), 0o644); err != nil {
		b.Fatal(err)
	}
	read := func(f string) int64 {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		n, err := strconv.ParseInt(string(data), 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	j := w.newJob(b, w.deployClaims())
	j.vars["RUNNER_TEMP"], j.vars["JITKEY_BENCH_PEAK"] = j.dir, filepath.Join(dir, "main")
	runStep(b, pr, "node", j, "--require", preload, filepath.Join(root, "action", "main.js"))
	p := j.post()
	p.vars["JITKEY_BENCH_PEAK"] = filepath.Join(dir, "post")
	runStep(b, pr, "node", p, "--require", preload, filepath.Join(root, "action", "post.js"))
	return read(filepath.Join(dir, "main")), read(filepath.Join(dir, "post"))
}

func distName(cmd string) string {
	return fmt.Sprintf("%s-%s-%s", cmd, runtime.GOOS, runtime.GOARCH)
}

// actionRoot lays out the action as a release tag holds it: action.yml,
// action/*.js, and dist/ with the binaries of a mint's two steps,
// jitkey-mint and jitkey-post (built as release.yml builds them), and
// SHA256SUMS. A release also holds jitkey, which a mint does not run.
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
	for _, cmd := range []string{"jitkey-mint", "jitkey-post"} {
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

// stepUsage is one process's wall time, CPU time (user + system) and peak
// RSS in KiB, its children included.
type stepUsage struct {
	wall, cpu time.Duration
	rss       int64
}

// buildPeakrun builds testdata/peakrun, under which each step runs so that
// its peak RSS is its own (see peakrun's doc).
func buildPeakrun(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "peakrun")
	if msg, err := exec.Command("go", "build", "-o", bin, "./testdata/peakrun").CombinedOutput(); err != nil {
		b.Fatalf("build peakrun: %v\n%s", err, msg)
	}
	return bin
}

// runStep runs one step's process with the job's environment, under
// peakrun pr.
func runStep(b *testing.B, pr, bin string, j *job, args ...string) stepUsage {
	b.Helper()
	report := filepath.Join(j.dir, "peakrun")
	cmd := exec.Command(pr, append([]string{report, bin}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + j.dir}
	for k, v := range j.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	var wall, cpu, rss int64
	if _, err := fmt.Sscan(string(data), &wall, &cpu, &rss); err != nil {
		b.Fatalf("peakrun's report %q: %v", data, err)
	}
	return stepUsage{wall: time.Duration(wall) * time.Microsecond, cpu: time.Duration(cpu) * time.Microsecond, rss: maxrssKiB(rss)}
}
