package broker

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics is the broker's Prometheus registry, written by hand: a dozen
// series of counters, gauges and histograms in the text exposition format
// (version 0.0.4) need about a hundred lines, where
// prometheus/client_golang would link six more modules (procfs, protobuf,
// common) into the binary the broker ships as. Safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	counters map[string]*family
	hists    map[string]*histFamily
	gauges   []gaugeFunc
	help     map[string]string
}

type family struct {
	labels []string
	values map[string]float64 // joined label values -> value
}

type histFamily struct {
	labels  []string
	buckets []float64
	series  map[string]*histogram
}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

type gaugeFunc struct {
	name, help string
	fn         func() []Sample
}

// Sample is one value of a gauge, with its label pairs ("name", "value", ...).
type Sample struct {
	Labels []string
	Value  float64
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	return &Metrics{counters: map[string]*family{}, hists: map[string]*histFamily{}, help: map[string]string{}}
}

// Counter declares a counter family with label names.
func (m *Metrics) Counter(name, help string, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters[name] = &family{labels: labels, values: map[string]float64{}}
	m.help[name] = help
}

// Histogram declares a histogram family with upper bounds in seconds.
func (m *Metrics) Histogram(name, help string, buckets []float64, labels ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hists[name] = &histFamily{labels: labels, buckets: buckets, series: map[string]*histogram{}}
	m.help[name] = help
}

// Gauge declares a gauge read at scrape time.
func (m *Metrics) Gauge(name, help string, fn func() []Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gaugeFunc{name: name, help: help, fn: fn})
}

// Add adds v to the counter's series with these label values.
func (m *Metrics) Add(name string, v float64, values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.counters[name]; f != nil {
		f.values[strings.Join(values, "\x00")] += v
	}
}

// Inc adds one.
func (m *Metrics) Inc(name string, values ...string) { m.Add(name, 1, values...) }

// Observe records a duration in the histogram's series.
func (m *Metrics) Observe(name string, d time.Duration, values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.hists[name]
	if f == nil {
		return
	}
	key := strings.Join(values, "\x00")
	h := f.series[key]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(f.buckets))}
		f.series[key] = h
	}
	s := d.Seconds()
	for i, b := range f.buckets {
		if s <= b {
			h.counts[i]++
		}
	}
	h.sum += s
	h.n++
}

// Value reads a counter's series (for tests and the sandbox).
func (m *Metrics) Value(name string, values ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.counters[name]; f != nil {
		return f.values[strings.Join(values, "\x00")]
	}
	return 0
}

// WriteTo writes the text exposition, families sorted by name.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	m.mu.Lock()
	names := make([]string, 0, len(m.counters)+len(m.hists))
	for n := range m.counters {
		names = append(names, n)
	}
	for n := range m.hists {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if f := m.counters[n]; f != nil {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", n, m.help[n], n)
			for _, key := range sortedKeys(f.values) {
				fmt.Fprintf(&b, "%s%s %s\n", n, labelText(f.labels, key, ""), num(f.values[key]))
			}
			continue
		}
		f := m.hists[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", n, m.help[n], n)
		for _, key := range sortedKeys(f.series) {
			h := f.series[key]
			for i, ub := range f.buckets {
				fmt.Fprintf(&b, "%s_bucket%s %d\n", n, labelText(f.labels, key, num(ub)), h.counts[i])
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", n, labelText(f.labels, key, "+Inf"), h.n)
			fmt.Fprintf(&b, "%s_sum%s %s\n%s_count%s %d\n", n, labelText(f.labels, key, ""), num(h.sum), n, labelText(f.labels, key, ""), h.n)
		}
	}
	gauges := append([]gaugeFunc(nil), m.gauges...)
	m.mu.Unlock()
	for _, g := range gauges {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", g.name, g.help, g.name)
		for _, s := range g.fn() {
			fmt.Fprintf(&b, "%s%s %s\n", g.name, pairs(s.Labels), num(s.Value))
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func labelText(names []string, key, le string) string {
	var kv []string
	if len(names) > 0 {
		for i, v := range strings.Split(key, "\x00") {
			if i < len(names) {
				kv = append(kv, names[i], v)
			}
		}
	}
	if le != "" {
		kv = append(kv, "le", le)
	}
	return pairs(kv)
}

func pairs(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(escapeLabel(kv[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func num(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
