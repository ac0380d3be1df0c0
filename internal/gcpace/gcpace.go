// Package gcpace sets the Go collector's GOGC after every collection so that
// the heap may grow by a generous multiple of a small live set but by a
// bounded amount over a large one.
//
// A sidecar's live set is small while it serves quick requests (the token
// tables and the requests in flight), and nearly everything it allocates is
// garbage by the end of a request, so a high GOGC (400) saves most of the
// collector's CPU. But GOGC is a ratio of everything the collector scans —
// the live heap AND every goroutine's stack — and a sidecar holding 10,000
// slow streamed answers open has ~80 MB of live heap and ~80 MB of stacks:
// at 400 the heap may reach ~700 MB before the next collection (measured:
// 51 KB of resident memory per open stream under traffic, against 19 KB
// just after opening them). The pacer keeps GOGC at its maximum until the
// growth it allows passes Headroom (or LiveShare of the live heap, when that
// is larger), and lowers it from there, never below MinPercent.
package gcpace

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Config bounds the collector's headroom: the heap may grow past the live
// heap by MaxPercent of what the collector scans (live heap, stacks,
// globals), but by at most max(Headroom, LiveShare × live heap) bytes, and
// always by at least MinPercent.
type Config struct {
	MaxPercent int
	MinPercent int
	Headroom   uint64
	LiveShare  float64
}

// Default is Proxide's: GOGC 400 for a small live set (see serve's runtime
// tuning), at most 64 MB of garbage between collections until the live heap
// passes 256 MB, a quarter of the live heap beyond that.
var Default = Config{MaxPercent: 400, MinPercent: 10, Headroom: 64 << 20, LiveShare: 0.25}

// Percent is the GOGC that lets the heap grow by the headroom c allows,
// given the live heap and what the collector scans besides it (stacks and
// globals): Go's next goal is live + (live + other) × GOGC / 100.
func (c Config) Percent(live, other uint64) int {
	scanned := float64(live) + float64(other)
	if scanned <= 0 {
		return c.MaxPercent
	}
	allowed := math.Max(float64(c.Headroom), c.LiveShare*float64(live))
	p := int(allowed * 100 / scanned)
	return min(max(p, c.MinPercent), c.MaxPercent)
}

// samples are the runtime/metrics the pacer reads after each collection.
var samples = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// Pacer adjusts GOGC after each collection until Stop.
type Pacer struct {
	cfg     Config
	mu      sync.Mutex
	stopped bool
	percent int // the GOGC last set
	before  int // the GOGC Start replaced, which Stop puts back
	sample  []metrics.Sample
}

// Start sets GOGC to cfg.MaxPercent and then adjusts it after every
// collection, until Stop puts back the GOGC it found (the caller leaves GOGC
// alone when the operator set it).
func Start(cfg Config) *Pacer {
	p := &Pacer{cfg: cfg, percent: cfg.MaxPercent, sample: make([]metrics.Sample, len(samples))}
	for i, name := range samples {
		p.sample[i].Name = name
	}
	p.before = debug.SetGCPercent(cfg.MaxPercent)
	p.arm()
	return p
}

// Stop ends the adjustments and puts back the GOGC Start found.
func (p *Pacer) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		debug.SetGCPercent(p.before)
	}
}

// Percent is the GOGC the pacer set last.
func (p *Pacer) Percent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.percent
}

// gcTick is allocated once per cycle and dropped at once: its cleanup runs
// after the collection that found it unreachable. It holds a pointer so it is
// not batched into a tiny allocation block (whose cleanups may never run).
type gcTick struct {
	_ *byte
	_ [16]byte
}

func (p *Pacer) arm() {
	runtime.AddCleanup(new(gcTick), func(p *Pacer) { p.afterGC() }, p)
}

// afterGC runs on the runtime's cleanup goroutine after a collection.
func (p *Pacer) afterGC() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	metrics.Read(p.sample)
	var v [3]uint64
	for i, s := range p.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	if pct := p.cfg.Percent(v[0], v[1]+v[2]); pct != p.percent {
		debug.SetGCPercent(pct)
		p.percent = pct
	}
	p.arm()
}
