package policy_test

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jitkey/jitkey/internal/policy"
)

// genPolicy writes a policy file of n rules, names prefixed by id.
func genPolicy(id string, n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: \"jitkey.dev/v1\"\nrules: [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{
	name:            "%s-rule-%d"
	requireVerified: true
	match: {
		repository:   "acme/repo-%d"
		ref:          ["refs/heads/main", "refs/heads/release"]
		environment:  "env-%d"
		workflow_ref: {pattern: "^acme/repo-%d/\\.github/workflows/deploy\\.yml@"}
		event_name:   "push"
	}
	grant: {repositories: ["caller", "acme/infra-%d"], permissions: {contents: "read", deployments: "write"}}
}`, id, i, i, i, i, i)
	}
	b.WriteString("]\n")
	return b.String()
}

// BenchmarkDecide500Rules decides a request that only the last of 500
// rules matches: every rule is tried.
func BenchmarkDecide500Rules(b *testing.B) {
	s, err := policy.LoadBytes("big.cue", []byte(genPolicy("p", 500)))
	if err != nil {
		b.Fatal(err)
	}
	c := policy.Claims{Repository: "acme/repo-499", RepositoryOwner: "acme", Ref: "refs/heads/main", Environment: "env-499",
		WorkflowRef: "acme/repo-499/.github/workflows/deploy.yml@refs/heads/main", EventName: "push", Verified: true}
	req := policy.Request{Permissions: map[string]string{"contents": "read"}}
	if d := policy.Decide(s, c, req); !d.Allowed {
		b.Fatal(d.Reason)
	}
	b.ReportAllocs()
	reportMedian(b, func() { policy.Decide(s, c, req) })
}

// BenchmarkDecide500RulesDenied decides a request no rule matches, with
// near misses explained.
func BenchmarkDecide500RulesDenied(b *testing.B) {
	s, err := policy.LoadBytes("big.cue", []byte(genPolicy("p", 500)))
	if err != nil {
		b.Fatal(err)
	}
	c := policy.Claims{Repository: "acme/other", Ref: "refs/heads/dev", Verified: true}
	b.ReportAllocs()
	reportMedian(b, func() { policy.Decide(s, c, policy.Request{}) })
}

var benchFiles = 1000

// BenchmarkLoad loads 1,000 generated files of 5 rules each.
func BenchmarkLoad(b *testing.B) {
	fsys := fstest.MapFS{}
	var paths []string
	for i := range benchFiles {
		p := fmt.Sprintf("policies/p%04d.cue", i)
		fsys[p] = &fstest.MapFile{Data: []byte(genPolicy(fmt.Sprintf("f%d", i), 5))}
		paths = append(paths, p)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op") }()
	for b.Loop() {
		s, err := policy.Load(fsys, paths)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Rules) != 5*benchFiles {
			b.Fatal(len(s.Rules))
		}
	}
}

// BenchmarkLoadBytes loads one small file: the fixed cost of a run.
func BenchmarkLoadBytes(b *testing.B) {
	src := []byte(genPolicy("one", 1))
	for b.Loop() {
		if _, err := policy.LoadBytes("one.cue", src); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the process's user and system CPU time: on a shared machine
// it measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportMedian runs f b.N times and reports the median duration of one
// call in microseconds: on a shared machine the median resists the
// preemptions that inflate the mean.
func reportMedian(b *testing.B, f func()) {
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		f()
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "median-µs")
}
