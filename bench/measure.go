package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// clockTicks is Linux's USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s.
const clockTicks = 100

// ProcCPU is the CPU time (user + system) a process has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields start after its closing ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// ProcRSS is a process's resident memory.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS for %d", pid)
}

// Throughput is one closed-loop round: workers each run exchanges back to
// back for the duration.
type Throughput struct {
	Lifecycles int64
	Errors     int64
	Elapsed    time.Duration
	ServerCPU  time.Duration // of the server process only
	FirstError string
}

// PerSecond is lifecycles per second.
func (t Throughput) PerSecond() float64 { return float64(t.Lifecycles) / t.Elapsed.Seconds() }

// CPUPerLifecycle is the server CPU one lifecycle cost.
func (t Throughput) CPUPerLifecycle() time.Duration {
	if t.Lifecycles == 0 {
		return 0
	}
	return t.ServerCPU / time.Duration(t.Lifecycles)
}

// nextSeq numbers the requests of a whole run, across rounds and servers:
// a client never sends the same prompt twice (which loop detection would
// rightly stop).
var nextSeq atomic.Int64

// Closed runs workers closed-loop for d against the server of pid.
func Closed(ctx context.Context, c extprocv3.ExternalProcessorClient, pid, workers int, d time.Duration, w Workload) (Throughput, error) {
	var done, errs atomic.Int64
	var firstErr atomic.Value
	cpu0, err := ProcCPU(pid)
	if err != nil {
		return Throughput{}, err
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := Run(ctx, c, w(nextSeq.Add(1))); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := ProcCPU(pid)
	if err != nil {
		return Throughput{}, err
	}
	t := Throughput{Lifecycles: done.Load(), Errors: errs.Load(), Elapsed: elapsed, ServerCPU: cpu1 - cpu0}
	if v, ok := firstErr.Load().(string); ok {
		t.FirstError = v
	}
	return t, nil
}

// Latency is an open-loop round at a fixed rate.
type Latency struct {
	Sent, Errors int64
	P50, P99     time.Duration
}

// Open sends exchanges at rate per second for d, each on its own goroutine
// (an open loop: a slow server does not slow the arrivals), and reports the
// latency of whole lifecycles.
func Open(ctx context.Context, c extprocv3.ExternalProcessorClient, rate int, d time.Duration, w Workload) Latency {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.After(d)
	var sent int64
loop:
	for {
		select {
		case <-end:
			break loop
		case <-tick.C:
			sent++
			ex := w(nextSeq.Add(1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				if err := Run(ctx, c, ex); err != nil {
					errs.Add(1)
					return
				}
				el := time.Since(t0)
				mu.Lock()
				lat = append(lat, el)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	l := Latency{Sent: sent, Errors: errs.Load()}
	if n := len(lat); n > 0 {
		l.P50, l.P99 = lat[n/2], lat[min(n-1, n*99/100)]
	}
	return l
}
