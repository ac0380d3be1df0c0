package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/proxide/proxide/bench"
)

// workloads are measured in this order.
var workloads = []struct {
	name string
	w    bench.Workload
}{
	{"streamed chat (350-word prompt, 20 SSE chunks + usage)", bench.StreamedChat},
	{"non-streamed chat", bench.JSONChat},
	{"embeddings", bench.Embeddings},
}

// row is one workload on one ledger: the floor and Proxide, each the median of
// its rounds.
type row struct {
	ledger, workload string
	floor, proxide   bench.Throughput
}

type results struct {
	started     time.Time
	commit      string
	rows        []row
	latency     map[string][2]bench.Latency // ledger → floor, proxide
	streamBytes map[string]float64          // ledger → RSS per open stream
	startup     time.Duration
	notes       []string
}

func measure(o options) (*results, error) {
	r := &results{started: time.Now(), commit: gitCommit(), latency: map[string][2]bench.Latency{}, streamBytes: map[string]float64{}}
	floorAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	floor, _, err := start(self, []string{"-serve-noop", floorAddr}, nil, floorAddr, false)
	if err != nil {
		return nil, err
	}
	defer floor.stop()

	ledgers := []string{"memory"}
	if o.redisServer != "" {
		ledgers = append(ledgers, "redis")
	}
	for _, ledger := range ledgers {
		redisAddr := ""
		if ledger == "redis" {
			cmd, addr, err := startRedis(o.redisServer)
			if err != nil {
				return nil, err
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			redisAddr = addr
		}
		px, startup, err := startProxide(o.proxide, redisAddr)
		if err != nil {
			return nil, err
		}
		if ledger == "memory" {
			r.startup = startup
		}
		if err := r.ledgerRounds(o, ledger, floor, px); err != nil {
			px.stop()
			return nil, err
		}
		px.stop()
	}
	return r, nil
}

func startProxide(bin, redisAddr string) (*server, time.Duration, error) {
	dir, err := os.MkdirTemp("", "loadbench")
	if err != nil {
		return nil, 0, err
	}
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	cfg, err := proxideConfig(dir, grpcAddr, adminAddr, redisAddr)
	if err != nil {
		return nil, 0, err
	}
	return start(bin, []string{"serve", "--config", cfg}, []string{"LOADBENCH_UPSTREAM_KEY=sk-bench"}, grpcAddr, true)
}

// ledgerRounds runs every measurement of one ledger.
func (r *results) ledgerRounds(o options, ledger string, floor, px *server) error {
	ctx := context.Background()
	for _, wl := range workloads {
		// Warm both up (connections, tokenizer tables, JIT-free but caches).
		for _, s := range []*server{floor, px} {
			if _, err := bench.Closed(ctx, s.client(), s.pid(), o.workers, o.duration/4, wl.w); err != nil {
				return err
			}
		}
		var fl, pr []bench.Throughput
		for range o.rounds {
			f, err := bench.Closed(ctx, floor.client(), floor.pid(), o.workers, o.duration, wl.w)
			if err != nil {
				return err
			}
			p, err := bench.Closed(ctx, px.client(), px.pid(), o.workers, o.duration, wl.w)
			if err != nil {
				return err
			}
			if p.Errors > 0 || f.Errors > 0 {
				return fmt.Errorf("%s/%s: errors (floor %d, proxide %d): %s %s", ledger, wl.name, f.Errors, p.Errors, f.FirstError, p.FirstError)
			}
			fl, pr = append(fl, f), append(pr, p)
			logf("%s / %s: floor %.0f/s %.3f ms CPU, proxide %.0f/s %.3f ms CPU", ledger, wl.name,
				f.PerSecond(), ms(f.CPUPerLifecycle()), p.PerSecond(), ms(p.CPUPerLifecycle()))
		}
		r.rows = append(r.rows, row{ledger: ledger, workload: wl.name, floor: median(fl), proxide: median(pr)})
	}
	fl := bench.Open(ctx, floor.client(), o.rate, o.duration, bench.StreamedChat)
	pl := bench.Open(ctx, px.client(), o.rate, o.duration, bench.StreamedChat)
	r.latency[ledger] = [2]bench.Latency{fl, pl}
	per, err := bench.OpenStreams(ctx, px.client(), px.pid(), o.streams)
	if err != nil {
		return err
	}
	r.streamBytes[ledger] = per
	return nil
}

// median is the round with the median server CPU per lifecycle.
func median(ts []bench.Throughput) bench.Throughput {
	sort.Slice(ts, func(i, j int) bool { return ts[i].CPUPerLifecycle() < ts[j].CPUPerLifecycle() })
	return ts[len(ts)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if out, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(out) > 0 {
		c += "-dirty"
	}
	return c
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s/%s, %s", runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
