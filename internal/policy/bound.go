package policy

import (
	"cmp"
	"context"
	"fmt"
	"runtime/metrics"
	"sync"
	"time"
)

// Limits bound the evaluation of policy files. CUE's evaluator cannot be
// interrupted, so Load runs it in goroutines and a watchdog stops waiting:
// when the deadline passes, the heap grows by more than Heap, or the
// caller's context ends, Load returns at once. The abandoned evaluation
// cannot be stopped; it finishes its current file in the background and
// then ends. A short-lived process (the jitkey CLI, the action's mint
// step) exits soon after reporting the error, which ends it; a long-lived
// one carries it until it finishes.
type Limits struct {
	// Deadline is how long evaluating the files may take; zero means no
	// deadline.
	Deadline time.Duration
	// Heap is how many bytes the heap in use (live objects and garbage not
	// yet collected, process wide) may grow by during the evaluation; zero
	// means no bound.
	Heap uint64
}

// DefaultLimits are the Limits of Load and LoadBytes. A caller that wants
// others (a flag of the CLI) sets them before loading.
var DefaultLimits = Limits{Deadline: 10 * time.Second, Heap: 512 << 20}

// BoundReason is which bound an evaluation crossed.
type BoundReason string

// The bounds.
const (
	BoundDeadline BoundReason = "deadline"
	BoundMemory   BoundReason = "memory"
)

// BoundError is an evaluation stopped by Limits: File is the file being
// evaluated when it was stopped.
type BoundError struct {
	File   string
	Reason BoundReason
	Limit  string // the bound crossed, "10s" or "512 MiB"
}

func (e *BoundError) Error() string {
	file := cmp.Or(e.File, "files")
	what := "took longer than " + e.Limit + " to evaluate"
	if e.Reason == BoundMemory {
		what = "needed more than " + e.Limit + " of memory to evaluate"
	}
	return fmt.Sprintf("policy %s: the policy %s; simplify it: a policy is small data, "+
		"so replace large comprehensions (for loops over list.Range or nested lists) and "+
		"deep recursion with the values written out", file, what)
}

// heapMetric is the heap the watchdog samples: cheap to read, without
// stopping the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// watchEvery is how often the watchdog samples the clock and the heap.
const watchEvery = 25 * time.Millisecond

// inFlight tracks which file each worker is evaluating, so that a bound
// error names the file that crossed it.
type inFlight struct {
	mu      sync.Mutex
	files   map[int]flight // by worker
	stopped bool           // the caller gave up: start nothing new
}

type flight struct {
	name  string
	start time.Time
}

// begin records that worker w starts on name; it reports false once the
// caller gave up, so that abandoned workers stop at the next file.
func (f *inFlight) begin(w int, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	f.files[w] = flight{name: name, start: time.Now()}
	return true
}

func (f *inFlight) end(w int) {
	f.mu.Lock()
	delete(f.files, w)
	f.mu.Unlock()
}

// stop makes workers start nothing new and returns the file evaluated the
// longest, the one most likely to be the culprit.
func (f *inFlight) stop() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	var oldest flight
	for _, fl := range f.files {
		if oldest.name == "" || fl.start.Before(oldest.start) {
			oldest = fl
		}
	}
	return oldest.name
}

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// bounded runs eval, which evaluates under fl, and waits for it within lim
// and ctx.
func bounded[T any](ctx context.Context, lim Limits, fl *inFlight, eval func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned eval does not block
	base := heapInUse()
	go func() {
		v, err := eval()
		done <- result{v, err}
	}()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	var deadline <-chan time.Time
	if lim.Deadline > 0 {
		t := time.NewTimer(lim.Deadline)
		defer t.Stop()
		deadline = t.C
	}
	var zero T
	for {
		select {
		case r := <-done:
			return r.v, r.err
		case <-ctx.Done():
			fl.stop()
			return zero, fmt.Errorf("evaluate the policy: %w", context.Cause(ctx))
		case <-deadline:
			return zero, &BoundError{File: fl.stop(), Reason: BoundDeadline, Limit: lim.Deadline.String()}
		case <-tick.C:
			if h := heapInUse(); lim.Heap > 0 && h > base && h-base > lim.Heap {
				return zero, &BoundError{File: fl.stop(), Reason: BoundMemory, Limit: fmt.Sprintf("%d MiB", lim.Heap>>20)}
			}
		}
	}
}
