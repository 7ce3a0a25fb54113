package cli_test

import (
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// BenchmarkBroker is `jitkey serve` as its own process (this test binary
// acting as jitkey) against the loopback simulator, on SQLite and on
// PostgreSQL, with 16 jobs exchanging at once: exchanges per second,
// latency percentiles as the job sees them (verification, jti, decision,
// intent, mint at the simulator, record, answer), GitHub calls per exchange
// at steady state and the broker's peak resident memory. The in-job mint
// (`jitkey mint` in process, the same simulator) runs in the same
// benchmark for comparison. Run with a fixed count:
//
//	go test -run '^$' -bench BenchmarkBroker -benchtime 3000x ./internal/cli
func BenchmarkBroker(b *testing.B) {
	b.Run("in-job-mint", benchInJob)
	b.Run("serve-sqlite", func(b *testing.B) { benchServe(b, "") })
	b.Run("serve-postgres", func(b *testing.B) {
		benchServe(b, `ledger: postgres: dsn: env: "PG_DSN"`)
	})
}

// benchInJob is `jitkey mint` in process, one job after another, 200 times
// whatever b.N (the job token's rate limit is 1,000 an hour): its latency
// and GitHub calls, to print beside the broker's.
func benchInJob(b *testing.B) {
	w := newMintWorld(b)
	j := w.newJob(b, w.deployClaims())
	ctx := context.Background()
	const n = 200
	lat := make([]time.Duration, 0, n)
	before := total(w.sim.Calls())
	b.ResetTimer()
	start := time.Now()
	for range n {
		t0 := time.Now()
		if code := j.run(ctx, "mint"); code != cli.ExitOK {
			b.Fatalf("mint exited %d: %s", code, &j.stderr)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat, elapsed, total(w.sim.Calls())-before)
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration, calls int) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "exchanges/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "ms-p50")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "ms-p99")
	b.ReportMetric(float64(calls)/float64(len(lat)), "github-calls/op")
}

func benchServe(b *testing.B, ledgerCUE string) {
	env := map[string]string{}
	if ledgerCUE != "" {
		env["PG_DSN"] = pg.Database(b)
	}
	w := newBrokerWorld(b, brokerOpt{noStart: true, ledger: ledgerCUE,
		limits: "limits: {repository_rate: 10000000, global_rate: 100000}"})
	// Audit records only (info): the harness's debug level logs every request.
	cfg, err := os.ReadFile(w.cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte(strings.Replace(string(cfg), `log_level: "debug"`, `log_level: "info"`, 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	key := randomB64(b, 32)
	env["LEDGER_KEY"], env["HOOK_SECRET"] = key, string(w.secret)
	r := w.startReplica(b, env)
	c, err := brokerclient.New(r.url, w.hc)
	if err != nil {
		b.Fatal(err)
	}
	run := w.sim.StartRun(ghsim.RunSpec{Repo: "acme/api"})
	claims := w.sim.RunClaims(run, run.Jobs[0])
	ctx := context.Background()
	if _, err := c.Exchange(ctx, w.oidc(claims), brokerclient.TokenRequest{}); err != nil {
		b.Fatal(err) // warm: the policy, the installation and the read token are cached
	}
	oidc := make([]string, b.N)
	for i := range oidc {
		oidc[i] = w.oidc(claims)
	}
	before := total(w.sim.Calls())
	cpu0 := cpuTime(r.cmd.Process.Pid)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if _, err := c.Exchange(ctx, oidc[i], brokerclient.TokenRequest{}); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1 := cpuTime(r.cmd.Process.Pid)
	reportLatency(b, lat, elapsed, total(w.sim.Calls())-before)
	b.ReportMetric(peakRSS(r.cmd.Process.Pid), "MB-peak-rss")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(b.N), "broker-cpu-ms/op")
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average during the run: %s", strings.Fields(string(load))[0])
	}
}

// cpuTime is a process's user and system CPU time so far (Linux).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start at ") ".
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// peakRSS is a process's peak resident set (VmHWM) in MB.
func peakRSS(pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0 // not Linux: not reported
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
