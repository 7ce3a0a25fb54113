package ghsim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkThroughput drives the simulator with 8 concurrent clients over loopback
// and reports requests per second. Each request is authenticated, rate-limited,
// counted and given an ETag: GET /repos/{owner}/{repo}/contents/{path} of a policy file.
func BenchmarkThroughput(b *testing.B) {
	sim := New(Options{RateLimit: 1 << 30})
	if _, err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	if err := sim.Apply(Generate(GenSpec{Repos: 200, OtherApps: 0, PATs: 1, SSO: 1, OrgSecrets: 1})); err != nil {
		b.Fatal(err)
	}
	sim.PutFile("acme", "repo-0001", "main", ".github/jitkey/policy.cue", []byte("apiVersion: \"jitkey.dev/v1\"\n"))
	tok := sim.JobToken("acme/repo-0001")
	url := sim.URL() + "repos/acme/repo-0001/contents/.github/jitkey/policy.cue"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	clients := 8
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	perReq := (cpuTime() - cpu0) / time.Duration(b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	// CPU per request (client and server together) does not depend on other load on
	// the machine; 2 cores divided by it is the throughput a quiet 2-core machine gives.
	b.ReportMetric(float64(perReq.Microseconds()), "cpu-µs/req")
	b.ReportMetric(2*float64(time.Second)/float64(perReq), "req/s-on-2-idle-cores")
	b.ReportMetric(float64(sim.MaxInFlight()), "max-in-flight")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandler measures the simulator alone, without sockets: the same
// request served by Handler() into a recorder, from 8 goroutines.
func BenchmarkHandler(b *testing.B) {
	sim := New(Options{RateLimit: 1 << 30})
	if err := sim.Apply(Generate(GenSpec{Repos: 200, OtherApps: 0, PATs: 1, SSO: 1, OrgSecrets: 1})); err != nil {
		b.Fatal(err)
	}
	sim.PutFile("acme", "repo-0001", "main", ".github/jitkey/policy.cue", []byte("apiVersion: \"jitkey.dev/v1\"\n"))
	tok := sim.JobToken("acme/repo-0001")
	h := sim.Handler()
	b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/repos/acme/repo-0001/contents/.github/jitkey/policy.cue", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d", rec.Code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
