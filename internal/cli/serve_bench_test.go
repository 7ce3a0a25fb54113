package cli_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jitkey/jitkey/internal/brokerclient"
	"github.com/jitkey/jitkey/internal/cli"
	"github.com/jitkey/jitkey/internal/ghsim"
)

// BenchmarkBroker is `jitkey serve` as its own process (this test binary
// acting as jitkey) against the loopback simulator, on SQLite and on
// PostgreSQL (a cluster with PostgreSQL's default durability), with 16 jobs
// exchanging at once: exchanges per second; latency percentiles as the job
// sees them and as added by the broker (its Server-Timing: the time in the
// broker, the mint's round trip to GitHub excluded); GitHub calls per
// exchange at steady state; the broker's peak resident memory; the CPU per
// exchange of the broker, of this process (the simulator and the jobs) and
// of the rest of the machine, and the rate the broker's CPU alone implies on
// the machine's cores. The in-job mint (`jitkey mint` in process, the same
// simulator) runs in the same benchmark for comparison. Run with a fixed
// count; JITKEY_BENCH_BROKER_CPUPROFILE=FILE writes the broker's CPU profile
// to FILE.sqlite and FILE.postgres:
//
//	go test -run '^$' -bench BenchmarkBroker -benchtime 2000x ./internal/cli
func BenchmarkBroker(b *testing.B) {
	b.Run("in-job-mint", benchInJob)
	b.Run("serve-sqlite", func(b *testing.B) { benchServe(b, "sqlite", "") })
	b.Run("serve-postgres", func(b *testing.B) {
		benchServe(b, "postgres", `ledger: postgres: dsn: env: "PG_DSN"`)
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
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "exchanges/s")
	b.ReportMetric(msOf(lat[len(lat)/2]), "ms-p50")
	b.ReportMetric(msOf(lat[len(lat)*99/100]), "ms-p99")
	b.ReportMetric(float64(calls)/float64(len(lat)), "github-calls/op")
}

func benchServe(b *testing.B, name, ledgerCUE string) {
	env := map[string]string{brokerProfileEnv: ""}
	if p := os.Getenv(brokerProfileEnv); p != "" {
		env[brokerProfileEnv] = p + "." + name
	}
	postmaster := 0
	if ledgerCUE != "" {
		env["PG_DSN"] = pgDurable.Database(b)
		postmaster = postmasterOf(b, env["PG_DSN"])
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
	// The jobs' connections are kept alive, as a proxy in front keeps its
	// connections to the broker.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: timingTransport{&http.Transport{MaxIdleConnsPerHost: benchJobs}}}
	c, err := brokerclient.New(r.url, hc)
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
	cpu0, self0, all0, pg0 := cpuTime(r.cmd.Process.Pid), selfCPU(), machineCPU(), clusterCPU(postmaster)
	lat := make([]time.Duration, b.N)
	timings := make([]serverTimings, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchJobs {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if _, err := c.Exchange(context.WithValue(ctx, timingKey{}, &timings[i]), oidc[i], brokerclient.TokenRequest{}); err != nil {
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
	cpu1, self1, all1, pg1 := cpuTime(r.cmd.Process.Pid), selfCPU(), machineCPU(), clusterCPU(postmaster)
	reportLatency(b, lat, elapsed, total(w.sim.Calls())-before)
	added := make([]time.Duration, b.N)
	for i, t := range timings {
		added[i] = t.broker
	}
	sort.Slice(added, func(i, j int) bool { return added[i] < added[j] })
	b.ReportMetric(msOf(added[b.N/2]), "ms-p50-added")
	b.ReportMetric(msOf(added[b.N*99/100]), "ms-p99-added")
	b.ReportMetric(peakRSS(r.cmd.Process.Pid), "MB-peak-rss")
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	broker, harness := perOp(cpu1-cpu0), perOp(self1-self0)
	b.ReportMetric(broker, "broker-cpu-ms/op")
	b.ReportMetric(harness, "sim+jobs-cpu-ms/op")
	b.ReportMetric(max(perOp(all1-all0)-broker-harness, 0), "other-cpu-ms/op")
	if postmaster != 0 {
		// The part of other-cpu that is this cluster's processes alone,
		// whatever else runs on the machine.
		b.ReportMetric(perOp(pg1-pg0), "postgres-cpu-ms/op")
	}
	b.ReportMetric(float64(runtime.NumCPU())*1000/broker, "implied-exchanges/s")
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average during the run: %s", strings.Fields(string(load))[0])
	}
	if env[brokerProfileEnv] != "" {
		// A graceful stop writes the profile.
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
		b.Logf("broker CPU profile: %s", env[brokerProfileEnv])
	}
}

// benchJobs is how many jobs exchange at once in BenchmarkBroker.
const benchJobs = 16

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// serverTimings is what the broker's Server-Timing header says of one
// exchange: its own time, and the mint's round trip to GitHub.
type serverTimings struct{ broker, github time.Duration }

type timingKey struct{}

// timingTransport reads the Server-Timing header of each answer into the
// *serverTimings its request's context carries.
type timingTransport struct{ rt http.RoundTripper }

func (t timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if st, ok := req.Context().Value(timingKey{}).(*serverTimings); ok && err == nil {
		for _, part := range strings.Split(resp.Header.Get("Server-Timing"), ",") {
			name, dur, _ := strings.Cut(strings.TrimSpace(part), ";dur=")
			v, _ := strconv.ParseFloat(dur, 64)
			d := time.Duration(v * float64(time.Millisecond))
			switch name {
			case "broker":
				st.broker = d
			case "github":
				st.github = d
			}
		}
	}
	return resp, err
}

// selfCPU is this process's CPU time so far: the simulator and the jobs.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the CPU time every process of the machine used so far
// (Linux /proc/stat: user, nice, system, irq, softirq, steal).
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * time.Second / 100
}

// cpuTime is a process's user and system CPU time so far (Linux).
func cpuTime(pid int) time.Duration {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// postmasterOf is the process ID of the PostgreSQL server holding dsn: the
// parent of a backend.
func postmasterOf(b *testing.B, dsn string) int {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var backend int
	if err := db.QueryRow("SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	f := procStat(backend)
	if len(f) < 2 {
		return 0 // not Linux: not reported
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// clusterCPU is the CPU time of a PostgreSQL server's processes so far: the
// postmaster, its children (backends, WAL writer, checkpointer), and the
// children it already reaped (Linux).
func clusterCPU(postmaster int) time.Duration {
	if postmaster == 0 {
		return 0
	}
	ticks := func(f []string, from int) int64 {
		var n int64
		for _, v := range f[from : from+2] {
			t, _ := strconv.ParseInt(v, 10, 64)
			n += t
		}
		return n
	}
	var total int64
	if f := procStat(postmaster); len(f) > 14 {
		total += ticks(f, 11) + ticks(f, 13) // its own time, its reaped children's
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) > 14 && f[1] == strconv.Itoa(postmaster) {
			total += ticks(f, 11)
		}
	}
	return time.Duration(total) * time.Second / 100 // USER_HZ
}

// procStat is the fields of /proc/PID/stat after the command: state, ppid,
// ... (utime is index 11, stime 12, cutime 13, cstime 14).
func procStat(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// The command (which may hold spaces) ends at the last ")".
	return strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
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

// brokerProfileEnv names a file the benchmark's broker process writes its
// CPU profile to when it stops (SIGTERM): `go tool pprof -top FILE`.
const brokerProfileEnv = "JITKEY_BENCH_BROKER_CPUPROFILE"

// profiled runs the jitkey command line, under the CPU profiler when
// brokerProfileEnv is set.
func profiled(main func() int) int {
	path := os.Getenv(brokerProfileEnv)
	if path == "" {
		return main()
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer pprof.StopCPUProfile()
	return main()
}
