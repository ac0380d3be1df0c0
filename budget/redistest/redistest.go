// Package redistest starts a real, throw-away redis-server for tests.
//
// Tests skip when redis-server is not on PATH, unless PROXIDE_REQUIRE_REDIS is set (as in
// CI), which turns the missing binary into a failure so Redis coverage cannot silently
// disappear.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv names the environment variable that makes a missing redis-server fatal.
const RequireEnv = "PROXIDE_REQUIRE_REDIS"

// startTimeout bounds waiting for a fresh server to answer PING.
const startTimeout = 10 * time.Second

// Options configure StartServer.
type Options struct {
	// Persist enables an fsync-always append-only file in the server's directory, so that
	// data survives Stop and Start (outage tests).
	Persist bool
	// Cluster runs the server as a one-node Redis Cluster that owns all 16384 slots. Cluster
	// mode rejects commands whose keys span slots (CROSSSLOT), so it checks key layouts.
	Cluster bool
	// ClusterNode runs the server with cluster mode on and no slots, to be joined into a
	// cluster of several (StartCluster).
	ClusterNode bool
	// Sentinel, when set, runs the server as a Redis Sentinel (redis-server --sentinel)
	// with these lines in its configuration file (sentinel.go).
	Sentinel string
	// Args are more redis-server arguments, e.g. "--replicaof", "127.0.0.1", "6379".
	Args []string
}

// Server is a redis-server process owned by a test.
type Server struct {
	// Addr is "127.0.0.1:<port>".
	Addr string

	bin  string
	dir  string
	port int
	opts Options

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait returns
}

// Start runs a redis-server on a free loopback port without persistence, stops it when
// the test ends, and returns its address.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t, Options{}).Addr
}

// StartServer is Start with options and control over the process (Stop, Start).
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("redistest: redis-server not found on PATH and %s is set: %v", RequireEnv, err)
		}
		t.Skipf("redistest: redis-server not found on PATH; skipping (install redis-server, or set %s=1 to fail instead)", RequireEnv)
	}
	s := &Server{bin: bin, dir: t.TempDir(), opts: opts}
	t.Cleanup(func() { _ = s.Stop() })
	// Another process may grab the free port between probing and binding; retry.
	var lastErr error
	for range 5 {
		if s.port, lastErr = freePort(); lastErr != nil {
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if lastErr = s.Start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Start (re)starts the server on its port and waits until it answers PING. With
// Options.Persist the data written before Stop is loaded again.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("redistest: server already running")
	}
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}
	if s.opts.Cluster || s.opts.ClusterNode {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"))
	}
	if s.opts.Persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, s.opts.Args...)
	if s.opts.Sentinel != "" {
		var err error
		if args, err = s.sentinelArgs(); err != nil {
			return err
		}
	}
	// The server outlives this call (Stop ends it), so no context bounds it.
	cmd := exec.CommandContext(context.Background(), s.bin, args...) //nolint:gosec // G204: s.bin is LookPath's redis-server, args this server's own port and TempDir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	var waitErr error // cmd.Wait's result, read after exited is closed
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		if err := ping(s.Addr); err == nil {
			if s.opts.Cluster {
				err = s.assignSlots(deadline)
			}
			if err != nil {
				_ = cmd.Process.Kill()
				<-exited
				return err
			}
			s.cmd, s.exited = cmd, exited
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redistest: redis-server exited: %w; log: %s", waitErr, s.logTail())
		case <-time.After(20 * time.Millisecond): // polling a starting process, not timing a test
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redistest: redis-server did not answer within %v; log: %s", startTimeout, s.logTail())
		}
	}
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 5s) and waits for it to exit.
// Stopping a stopped server is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd, s.exited = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT) // a paused server (Pause) must run to see the SIGTERM
	// Stopping succeeds once the process is gone, whatever its exit status.
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	return nil
}

// assignSlots gives the one node every slot and waits until the cluster reports ok. A
// restarted node keeps its slots in nodes.conf.
func (s *Server) assignSlots(deadline time.Time) error {
	info, err := command(s.Addr, "CLUSTER", "INFO")
	if err != nil {
		return err
	}
	if strings.Contains(info, "cluster_slots_assigned:0") {
		if _, err := command(s.Addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
			return err
		}
	}
	for !strings.Contains(info, "cluster_state:ok") {
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster not ok: %s", info)
		}
		time.Sleep(20 * time.Millisecond) // polling server state, not timing a test
		if info, err = command(s.Addr, "CLUSTER", "INFO"); err != nil {
			return err
		}
	}
	return nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close() // a port still bound is no use: the caller retries
}

// ping expects PONG; a server still loading its data answers -LOADING and is not ready.
func ping(addr string) error {
	reply, err := command(addr, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("unexpected reply %q", reply)
	}
	return nil
}

// command sends one RESP command on a fresh connection and returns a simple-string or
// bulk-string reply. It keeps this package free of a client library.
func command(addr string, args ...string) (string, error) {
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }() // the reply is read, or the error is returned
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("redis: bad bulk length %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: unexpected reply %q", line)
}

// logTail returns the end of the server log for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
