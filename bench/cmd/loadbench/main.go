// Command loadbench measures Proxide against a no-op ext_proc floor through
// the same Envoy-faithful driver, in alternating rounds, with the server's CPU
// read from /proc, for the memory and the Redis ledger; it writes
// bench/results.md. `make bench` runs it. Run with -serve-noop ADDR it is the
// floor server itself (a separate process, so its CPU is its own).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/proxide/proxide/bench/noop"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

type options struct {
	proxide, redisServer, out string
	duration                  time.Duration
	rounds, workers, rate     int
	streams                   int
	quick                     bool
	profile                   string // directory for CPU profiles; "" takes none
	testingB                  string // `go test -bench` output to include in the results
	only                      string // "" measures both ledgers; "memory" or "redis" one of them (for a quick comparison while working)
	workloads                 string // "" every workload; else a comma-separated list of their slugs
	baseline                  string // another proxide binary measured in the same rounds (an optimisation's delta)
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	serveNoop := fs.String("serve-noop", "", "serve the no-op ext_proc floor on this address and do nothing else")
	noopRedis := fs.String("noop-redis", "", "with -serve-noop: make one Redis round trip (a one-line script) at each request body and last response chunk, against this address")
	var o options
	fs.StringVar(&o.proxide, "proxide", "bin/proxide", "the proxide binary to measure")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server binary for the Redis ledger rounds (\"\" skips them)")
	fs.StringVar(&o.out, "out", "bench/results.md", "where to write the results")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "length of one throughput round")
	fs.IntVar(&o.rounds, "rounds", 3, "alternating rounds per server and workload")
	fs.IntVar(&o.workers, "workers", 16, "concurrent exchanges in the throughput rounds")
	fs.IntVar(&o.rate, "rate", 1000, "requests per second of the open-loop latency round")
	fs.IntVar(&o.streams, "streams", 10000, "streams held open to measure memory per open stream")
	fs.BoolVar(&o.quick, "quick", false, "one short round of each measurement (a smoke test)")
	fs.StringVar(&o.testingB, "testing-b", "", "a file of `go test -bench -benchmem` output to include in the results")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile of Proxide's first measured round of each workload into this directory (Proxide runs with --pprof-addr)")
	fs.StringVar(&o.only, "ledger", "", "measure only this ledger (memory or redis) and skip the memory measurements of the floor (while working; make bench measures both)")
	fs.StringVar(&o.baseline, "baseline", "", "another proxide binary (e.g. built from the commit before a change) measured in the same alternating rounds, for a change's delta; its figures go in their own table")
	fs.StringVar(&o.workloads, "workloads", "", "measure only these workloads (comma-separated: stream, chat, embeddings)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.only != "" && o.only != "memory" && o.only != "redis" {
		return fmt.Errorf("-ledger %q: want memory or redis", o.only)
	}
	if o.workloads != "" {
		for _, w := range strings.Split(o.workloads, ",") {
			if !slices.ContainsFunc(workloads, func(wl workload) bool { return wl.slug == w }) {
				return fmt.Errorf("-workloads: no workload %q (stream, chat, embeddings)", w)
			}
		}
	}
	if *serveNoop != "" {
		return serveFloor(*serveNoop, *noopRedis)
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o750); err != nil {
			return err
		}
	}
	if o.quick {
		o.duration, o.rounds, o.streams = time.Second, 1, 200
	}
	r, err := measure(o)
	if err != nil {
		return err
	}
	if o.testingB != "" {
		b, err := os.ReadFile(o.testingB)
		if err != nil {
			return err
		}
		r.testingB = string(b)
	}
	// The results are committed like any source file, so they get its mode.
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil { //nolint:gosec // G306: bench/results.md is a public, committed document
		return err
	}
	_, err = fmt.Fprint(stdout, r.markdown())
	return err
}

func serveFloor(addr, redisAddr string) error {
	var lc net.ListenConfig
	lis, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(16 << 20))
	floor := noop.Server{}
	if redisAddr != "" {
		rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
		defer func() { _ = rdb.Close() }()
		one := goredis.NewScript("return 1")
		floor.RoundTrip = func(ctx context.Context) error { return one.Run(ctx, rdb, nil).Err() }
	}
	extprocv3.RegisterExternalProcessorServer(gs, floor)
	return gs.Serve(lis)
}

// server is a measured process.
type server struct {
	cmd       *exec.Cmd
	addr      string
	conn      *grpc.ClientConn
	pprofAddr string // Proxide's profiler, when -profile is set
	adminAddr string // Proxide's admin port ("" for the floor)
	dir       string // a temporary directory of its own, removed by stop
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) client() extprocv3.ExternalProcessorClient {
	return extprocv3.NewExternalProcessorClient(s.conn)
}

func (s *server) stop() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

func freeAddr() (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// dialable reports whether something accepts connections on addr now.
func dialable(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close() // only the accept mattered
	return true
}

// start runs a server and waits until it answers gRPC health (Proxide) or
// accepts connections (the floor); it returns the time that took.
func start(name string, args []string, env []string, addr string, health bool) (*server, time.Duration, error) {
	cmd := exec.Command(name, args...) //nolint:gosec,noctx // G204: the binary under measurement, named by the operator's -proxide flag; it is stopped by signal, not by a context
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	// gRPC's default reconnect backoff starts at 1s: the first dial, refused
	// while the server starts, would make every start look a second long.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 2 * time.Millisecond, Multiplier: 1.2, MaxDelay: 20 * time.Millisecond}}))
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, 0, err
	}
	s := &server{cmd: cmd, addr: addr, conn: conn}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		var ok bool
		if health {
			r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			ok = err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
		} else {
			ok = dialable(addr)
		}
		cancel()
		if ok {
			return s, time.Since(t0), nil
		}
	}
	s.stop()
	return nil, 0, errors.New(name + " did not become ready")
}

// startRedis starts a throwaway redis-server; stop kills it and removes its directory.
func startRedis(bin string) (stop func(), addr string, pid int, err error) {
	addr, err = freeAddr()
	if err != nil {
		return nil, "", 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "loadbench-redis")
	if err != nil {
		return nil, "", 0, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir) //nolint:gosec,noctx // G204: the operator's -redis-server binary, on a loopback port and a fresh temporary directory; stopped by Kill, not by a context
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", 0, err
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // a throwaway server: its exit status says nothing
		_ = os.RemoveAll(dir)
	}
	for range 200 {
		if dialable(addr) {
			return stop, addr, cmd.Process.Pid, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	return nil, "", 0, errors.New("redis-server did not start")
}

// proxideConfig is the measured configuration: a Proxide key, loop detection
// on, budgets far above what the run spends.
func proxideConfig(dir, grpcAddr, adminAddr, redisAddr string) (string, error) {
	y := fmt.Sprintf(`listen: {grpc: %q, admin: %q}
keys:
  - {name: bench, key: prox-bench, scopes: [gateway]}
upstream: {api_key_env: LOADBENCH_UPSTREAM_KEY}
budgets:
  default: {daily_limit_usd: 1000000, monthly_limit_usd: 10000000}
loop_detection: {enabled: true}
log: {level: warn}
`, grpcAddr, adminAddr)
	if redisAddr != "" {
		y += fmt.Sprintf("store: {redis_url: \"redis://%s/0\"}\n", redisAddr)
	}
	path := filepath.Join(dir, "proxide.yaml")
	return path, os.WriteFile(path, []byte(y), 0o600)
}

func logf(format string, args ...any) { log.Printf(format, args...) }

// waitRedisIdle waits, at most 30 s, until redis-server answers a PING within
// 5 ms: it has worked off what earlier rounds queued.
func waitRedisIdle(addr string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if d, ok := pingTime(addr); ok && d < 5*time.Millisecond {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pingTime is one PING's round trip on a new connection.
func pingTime(addr string) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	start := time.Now()
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return 0, false
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	return time.Since(start), err == nil && string(buf[:n]) == "+PONG\r\n"
}

// waitQuiet waits, at most 30 s, until Proxide's /metrics shows no
// reservation in flight and the ledger's circuit closed.
func waitQuiet(adminAddr string) {
	if adminAddr == "" {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, err := getBody("http://"+adminAddr+"/metrics", 2*time.Second)
		if err == nil && quiet(string(b)) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// quiet reads the two gauges from an exposition.
func quiet(exposition string) bool {
	seen := 0
	for _, line := range strings.Split(exposition, "\n") {
		for _, name := range []string{"proxide_reservations_in_flight ", "proxide_ledger_circuit_open "} {
			if strings.HasPrefix(line, name) {
				if strings.TrimSpace(strings.TrimPrefix(line, name)) != "0" {
					return false
				}
				seen++
			}
		}
	}
	return seen == 2
}

func getBody(url string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	return io.ReadAll(resp.Body)
}
