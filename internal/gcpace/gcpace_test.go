package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	cases := []struct {
		name        string
		live, other uint64
		want        int
	}{
		{"nothing scanned yet", 0, 0, 400},
		// The token tables and a few requests in flight: 400 allows 60 MB.
		{"small live set keeps the maximum", 12 * mb, 3 * mb, 400},
		{"growth capped at the headroom", 20 * mb, 12 * mb, 200},
		// 10,000 open streams: ~75 MB of heap and ~82 MB of stacks.
		{"many open streams", 75 * mb, 82 * mb, 40},
		// Past 256 MB live, a quarter of the live heap.
		{"large live heap gets a share of itself", 800 * mb, 200 * mb, 20},
		{"never below the minimum", 100 * mb, 5000 * mb, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Default.Percent(c.live, c.other); got != c.want {
				t.Errorf("Percent(%d MB, %d MB) = %d, want %d", c.live/mb, c.other/mb, got, c.want)
			}
		})
	}
}

// keep holds a live set across collections (a package variable, so the
// compiler cannot drop it).
var keep [][]byte

// TestPacerFollowsTheLiveHeap runs the pacer for real: a live set larger than
// the headroom lowers GOGC after the next collections, and dropping it brings
// GOGC back to the maximum.
func TestPacerFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	cfg := Config{MaxPercent: 400, MinPercent: 10, Headroom: 8 << 20, LiveShare: 0.05}
	p := Start(cfg)
	defer p.Stop()
	settle := func(want func(int) bool) int {
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC()
			time.Sleep(10 * time.Millisecond) // the cleanup runs on its own goroutine
			if got := p.Percent(); want(got) || time.Now().After(deadline) {
				return got
			}
		}
	}
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	// 64 MB live: 8 MB of headroom (more than 5% of it) is GOGC 12 or so
	// (stacks and globals add a little to what is scanned).
	if got := settle(func(p int) bool { return p <= 13 }); got > 13 || got < cfg.MinPercent {
		t.Fatalf("with 64 MB live GOGC is %d, want at most 13", got)
	}
	if got := runtimeGOGC(); got != p.Percent() {
		t.Errorf("the runtime's GOGC is %d, the pacer says %d", got, p.Percent())
	}
	keep = nil
	if got := settle(func(p int) bool { return p == 400 }); got != 400 {
		t.Fatalf("with the live set dropped GOGC is %d, want 400", got)
	}
	// Stopped, it no longer adjusts even with a large live set again, and
	// GOGC is what it was before Start.
	p.Stop()
	if got := runtimeGOGC(); got != 77 {
		t.Errorf("after Stop GOGC is %d, want the 77 Start found", got)
	}
	for range 64 {
		keep = append(keep, make([]byte, 1<<20))
	}
	p.afterGC()
	if got := p.Percent(); got != 400 {
		t.Errorf("after Stop the pacer moved to %d", got)
	}
	if got := runtimeGOGC(); got != 77 {
		t.Errorf("after Stop GOGC moved to %d", got)
	}
	keep = nil
}

func runtimeGOGC() int {
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(gogc)
	return int(gogc[0].Value.Uint64())
}
