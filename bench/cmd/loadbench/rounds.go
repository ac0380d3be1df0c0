package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/proxide/proxide/bench"
)

// workloads are measured in this order.
// workload is one measured request shape.
type workload struct {
	name, slug string
	w          bench.Workload
}

var workloads = []workload{
	{"streamed chat (350-word prompt, 20 SSE chunks + usage)", "stream", bench.StreamedChat},
	{"non-streamed chat", "chat", bench.JSONChat},
	{"embeddings", "embeddings", bench.Embeddings},
}

// profile fetches a CPU profile of the seconds inside d (the profiler
// counts whole seconds) into prefix.cpu.pprof, then the allocation profile
// (everything allocated since start) into prefix.allocs.pprof; the channel
// reports when both are written.
func profile(addr string, d time.Duration, prefix string) <-chan error {
	done := make(chan error, 1)
	go func() {
		secs := max(int(d/time.Second)-1, 1)
		err := fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), prefix+".cpu.pprof", d+30*time.Second)
		if err == nil {
			err = fetch("http://"+addr+"/debug/pprof/allocs", prefix+".allocs.pprof", 30*time.Second)
		}
		done <- err
	}()
	return done
}

// fetch writes what url answers into path.
func fetch(url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end or failed already
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", url, resp.Status)
	}
	f, err := os.Create(path) //nolint:gosec // G304: path is under the operator's -profile directory
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// row is one workload on one ledger: the floor and Proxide, each the median of
// its rounds.
type row struct {
	ledger, workload string
	floor, proxide   bench.Throughput
	baseline         *bench.Throughput // -baseline's median round, when measured
	redisCPU         time.Duration     // redis-server's CPU per Proxide lifecycle (median round; 0 without Redis)
}

type results struct {
	started     time.Time
	commit      string
	rows        []row
	latency     map[string]openLoop   // ledger → its open-loop rounds
	streamBytes map[string][2]float64 // server → RSS per open stream: just opened, then after a round of traffic
	bigStream   []bigStream
	testingB    string
	startup     time.Duration
	notes       []string
	redisPid    int // the redis-server of the Redis rounds, for its CPU
	rate        int // of the open-loop rounds, per second
}

func measure(o options) (*results, error) {
	r := &results{started: time.Now(), commit: gitCommit(), latency: map[string]openLoop{}, streamBytes: map[string][2]float64{}, rate: o.rate}
	floor, err := startFloor("")
	if err != nil {
		return nil, err
	}
	defer floor.stop()

	ledgers := []string{"memory"}
	if o.redisServer != "" {
		ledgers = append(ledgers, "redis")
	}
	for _, ledger := range ledgers {
		if o.only != "" && ledger != o.only {
			continue
		}
		if err := r.ledger(o, ledger, floor); err != nil {
			return nil, err
		}
	}
	if o.only != "" {
		return r, nil
	}
	freshFloor, err := startFloor("")
	if err != nil {
		return nil, err
	}
	defer freshFloor.stop()
	if err := r.memory(o, "no-op floor", freshFloor); err != nil {
		return nil, err
	}
	return r, nil
}

// startFloor starts the no-op floor (this binary, -serve-noop); with a Redis
// address, the floor makes a ledger's two Redis round trips per request.
func startFloor(redisAddr string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve-noop", addr}
	if redisAddr != "" {
		args = append(args, "-noop-redis", redisAddr)
	}
	s, _, err := start(self, args, nil, addr, false)
	return s, err
}

// ledger measures Proxide on one ledger (with its own redis-server for
// "redis"), stopping what it started before it returns.
func (r *results) ledger(o options, ledger string, floor *server) error {
	redisAddr := ""
	if ledger == "redis" {
		stopRedis, addr, pid, err := startRedis(o.redisServer)
		if err != nil {
			return err
		}
		r.redisPid = pid
		defer stopRedis()
		redisAddr = addr
	}
	px, startup, err := startProxide(o.proxide, redisAddr, o.profile != "")
	if err != nil {
		return err
	}
	if ledger == "memory" {
		r.startup = startup
	}
	var base, floorRedis *server
	if o.baseline != "" {
		base, _, err = startProxide(o.baseline, redisAddr, false)
	}
	if err == nil && redisAddr != "" {
		floorRedis, err = startFloor(redisAddr)
	}
	if err == nil {
		err = r.ledgerRounds(o, ledger, floor, px, base)
	}
	if err == nil {
		err = r.openLoopRounds(o, ledger, floor, floorRedis, px)
	}
	for _, s := range []*server{px, base, floorRedis} {
		if s != nil {
			s.stop()
		}
	}
	if err != nil {
		return err
	}
	if redisAddr != "" {
		// An open-loop round past the Redis ledger's capacity leaves a
		// backlog of commands in redis-server; the fresh process must not
		// meet it (its first reserves would pass store.timeout).
		waitRedisIdle(redisAddr)
	}
	fresh, _, err := startProxide(o.proxide, redisAddr, o.profile != "")
	if err != nil {
		return err
	}
	defer fresh.stop()
	return r.memory(o, "proxide, "+ledger+" ledger", fresh)
}

func startProxide(bin, redisAddr string, profiled bool) (*server, time.Duration, error) {
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
		_ = os.RemoveAll(dir)
		return nil, 0, err
	}
	args := []string{"serve", "--config", cfg}
	pprofAddr := ""
	if profiled {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, 0, err
		}
		args = append(args, "--pprof-addr", pprofAddr)
	}
	s, startup, err := start(bin, args, append([]string{"LOADBENCH_UPSTREAM_KEY=sk-bench"}, os.Getenv("LOADBENCH_PROXIDE_ENV")), grpcAddr, true)
	if s == nil {
		_ = os.RemoveAll(dir)
		return nil, 0, err
	}
	s.pprofAddr, s.dir, s.adminAddr = pprofAddr, dir, adminAddr
	return s, startup, err
}

// ledgerRounds runs every measurement of one ledger.
func (r *results) ledgerRounds(o options, ledger string, floor, px, base *server) error {
	ctx := context.Background()
	for _, wl := range workloads {
		if o.workloads != "" && !slices.Contains(strings.Split(o.workloads, ","), wl.slug) {
			continue
		}
		// Warm both up (connections, tokenizer tables, JIT-free but caches).
		servers := []*server{floor, px}
		if base != nil {
			servers = append(servers, base)
		}
		for _, s := range servers {
			if _, err := bench.Closed(ctx, s.client(), s.pid(), o.workers, o.duration/4, wl.w); err != nil {
				return err
			}
		}
		var fl, pr, bl []bench.Throughput
		var rc []time.Duration // redis-server CPU per lifecycle of each Proxide round
		for i := range o.rounds {
			f, err := bench.Closed(ctx, floor.client(), floor.pid(), o.workers, o.duration, wl.w)
			if err != nil {
				return err
			}
			if base != nil {
				t, err := bench.Closed(ctx, base.client(), base.pid(), o.workers, o.duration, wl.w)
				if err == nil && t.Errors > 0 {
					err = fmt.Errorf("%s/%s: baseline: %d errors: %s", ledger, wl.name, t.Errors, t.FirstError)
				}
				if err != nil {
					return err
				}
				bl = append(bl, t)
				logf("%s / %s: baseline %.0f/s %.3f ms CPU", ledger, wl.name, t.PerSecond(), ms(t.CPUPerLifecycle()))
			}
			var profiled <-chan error
			if i == 0 && px.pprofAddr != "" {
				profiled = profile(px.pprofAddr, o.duration, filepath.Join(o.profile, ledger+"-"+wl.slug))
			}
			redis0 := r.redisCPU(ledger)
			p, err := bench.Closed(ctx, px.client(), px.pid(), o.workers, o.duration, wl.w)
			if err != nil {
				return err
			}
			if p.Lifecycles > 0 {
				rc = append(rc, (r.redisCPU(ledger)-redis0)/time.Duration(p.Lifecycles))
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					return err
				}
			}
			if p.Errors > 0 || f.Errors > 0 {
				return fmt.Errorf("%s/%s: errors (floor %d, proxide %d): %s %s", ledger, wl.name, f.Errors, p.Errors, f.FirstError, p.FirstError)
			}
			fl, pr = append(fl, f), append(pr, p)
			logf("%s / %s: floor %.0f/s %.3f ms CPU, proxide %.0f/s %.3f ms CPU", ledger, wl.name,
				f.PerSecond(), ms(f.CPUPerLifecycle()), p.PerSecond(), ms(p.CPUPerLifecycle()))
		}
		rw := row{ledger: ledger, workload: wl.name, floor: median(fl), proxide: median(pr)}
		rw.redisCPU = medianDuration(rc)
		if len(bl) > 0 {
			m := median(bl)
			rw.baseline = &m
		}
		r.rows = append(r.rows, rw)
	}
	return nil
}

// openLoop is the open-loop rounds of one ledger at a fixed rate, in
// alternating rounds: the floor, the floor with the two Redis round trips a
// request needs (Redis ledger only), and Proxide.
type openLoop struct {
	floor, floorRedis, proxide []bench.Latency
}

// openLoopRounds measures latency at o.rate in o.rounds alternating rounds.
// One round's p99 at this rate moves by milliseconds from one run to the
// next on a shared 2-core machine (the floor's alone: 3.4 to 23.7 ms), so
// the added p99 is the median of the rounds' differences.
func (r *results) openLoopRounds(o options, ledger string, floor, floorRedis, px *server) error {
	ctx := context.Background()
	var l openLoop
	for round := range o.rounds {
		l.floor = append(l.floor, bench.Open(ctx, floor.client(), o.rate, o.duration, bench.StreamedChat))
		if floorRedis != nil {
			l.floorRedis = append(l.floorRedis, bench.Open(ctx, floorRedis.client(), o.rate, o.duration, bench.StreamedChat))
		}
		var traced chan error
		if px.pprofAddr != "" && round == 0 {
			// An execution trace of the open-loop round shows what a slow
			// request waited for (GC, a lock, the scheduler).
			traced = make(chan error, 1)
			go func() {
				secs := max(int(o.duration/time.Second)-1, 1)
				traced <- fetch(fmt.Sprintf("http://%s/debug/pprof/trace?seconds=%d", px.pprofAddr, secs),
					filepath.Join(o.profile, ledger+"-open.trace"), o.duration+30*time.Second)
			}()
		}
		l.proxide = append(l.proxide, bench.Open(ctx, px.client(), o.rate, o.duration, bench.StreamedChat))
		if traced != nil {
			if err := <-traced; err != nil {
				return err
			}
		}
		logf("%s / open loop at %d/s: floor p99 %.2f ms, proxide p99 %.2f ms", ledger, o.rate,
			ms(l.floor[round].P99), ms(l.proxide[round].P99))
	}
	r.latency[ledger] = l
	return nil
}

// medianLatency is the median round's p50 and p99 (each its own median) and
// the total errors.
func medianLatency(ls []bench.Latency) bench.Latency {
	var m bench.Latency
	if len(ls) == 0 {
		return m
	}
	for _, l := range ls {
		m.Errors += l.Errors
	}
	m.P50 = medianBy(ls, func(l bench.Latency) time.Duration { return l.P50 }).P50
	m.P99 = medianBy(ls, func(l bench.Latency) time.Duration { return l.P99 }).P99
	return m
}

// addedP99 is the median over rounds of a's p99 less b's in the same round.
func addedP99(a, b []bench.Latency) time.Duration {
	d := make([]time.Duration, min(len(a), len(b)))
	for i := range d {
		d[i] = a[i].P99 - b[i].P99
	}
	return medianDuration(d)
}

func medianDuration(ds []time.Duration) time.Duration {
	return medianBy(ds, func(d time.Duration) time.Duration { return d })
}

// medianBy is the median of xs by key (the upper one of an even count; the
// zero value when xs is empty), leaving xs as it was.
func medianBy[T any](xs []T, key func(T) time.Duration) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	xs = slices.Clone(xs)
	slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return xs[len(xs)/2]
}

// memory measures a freshly started server (so that what earlier rounds left
// on its heap does not hide or inflate the figures): resident memory per open
// stream with o.streams open (just opened, then after a throughput round of
// traffic with them open), then the growth during one streamed response of
// 1 MB and of 16 MB.
func (r *results) memory(o options, name string, s *server) error {
	ctx := context.Background()
	var heap func() error
	if s.pprofAddr != "" {
		heap = func() error {
			prefix := filepath.Join(o.profile, strings.ReplaceAll(name, ", ", "-"))
			if err := fetch("http://"+s.pprofAddr+"/debug/pprof/goroutine?debug=1", prefix+"-streams.goroutines.txt", 30*time.Second); err != nil {
				return err
			}
			if err := fetch("http://"+s.pprofAddr+"/debug/pprof/heap?gc=1&debug=1", prefix+"-streams.heap.txt", 30*time.Second); err != nil {
				return err
			}
			// The same profile for go tool pprof (symbolized, in-use space by default).
			return fetch("http://"+s.pprofAddr+"/debug/pprof/heap", prefix+"-streams.heap.pprof", 30*time.Second)
		}
	}
	opened, loaded, err := bench.OpenStreams(ctx, s.client(), s.pid(), o.streams, o.duration, o.workers, heap)
	if err != nil {
		return err
	}
	r.streamBytes[name] = [2]float64{opened, loaded}
	// Closing 10,000 streams at once makes the sidecar settle them all at
	// once; with Redis, the last of those settlements pass store.timeout and
	// open the ledger's circuit for a second. Measure the big streams once
	// the sidecar is quiet again.
	waitQuiet(s.adminAddr)
	for _, total := range []int{1 << 20, 16 << 20} {
		grew, err := bench.BigStream(ctx, s.client(), s.pid(), total, 16<<10)
		if err != nil {
			return err
		}
		r.bigStream = append(r.bigStream, bigStream{server: name, total: total, grew: grew})
	}
	return nil
}

// bigStream is the memory one large streamed response took.
type bigStream struct {
	server string
	total  int
	grew   int64
}

// redisCPU is the CPU redis-server used so far in the Redis rounds (0 otherwise).
func (r *results) redisCPU(ledger string) time.Duration {
	if ledger != "redis" || r.redisPid == 0 {
		return 0
	}
	d, err := bench.ProcCPU(r.redisPid)
	if err != nil {
		return 0
	}
	return d
}

// median is the round with the median server CPU per lifecycle.
func median(ts []bench.Throughput) bench.Throughput {
	return medianBy(ts, bench.Throughput.CPUPerLifecycle)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func gitCommit() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if out, err := exec.CommandContext(ctx, "git", "status", "--porcelain").Output(); err == nil && len(out) > 0 {
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
