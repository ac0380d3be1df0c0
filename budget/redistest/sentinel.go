package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelSet is a Sentinel-managed master with one replica and three sentinels (quorum
// 2), all real redis-servers on loopback.
type SentinelSet struct {
	MasterName string
	Master     *Server // the master at start; after a failover Replica is
	Replica    *Server
	Sentinels  []*Server
}

// sentinelDownAfter is down-after-milliseconds: how long the master must be unreachable
// before the sentinels fail it over.
const sentinelDownAfter = 500

// StartSentinel starts the set and waits until every sentinel knows the replica and the
// other sentinels.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	set := &SentinelSet{MasterName: "proxide"}
	set.Master = StartServer(t, Options{Args: []string{"--repl-diskless-sync-delay", "0"}})
	set.Replica = StartServer(t, Options{Args: []string{"--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", strconv.Itoa(set.Master.port)}})
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
		"sentinel down-after-milliseconds %[1]s %[3]d\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", set.MasterName, set.Master.port, sentinelDownAfter)
	for range 3 {
		set.Sentinels = append(set.Sentinels, StartServer(t, Options{Sentinel: conf}))
	}
	deadline := time.Now().Add(60 * time.Second)
	for !set.settled() {
		if time.Now().After(deadline) {
			info, err := command(set.Sentinels[0].Addr, "INFO", "sentinel")
			t.Fatalf("redistest: sentinels not settled: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond) // polling sentinel state, not timing a test
	}
	return set
}

// settled: the replica is in sync and every sentinel sees the master ok with one
// replica and three sentinels.
func (set *SentinelSet) settled() bool {
	if repl, err := command(set.Replica.Addr, "INFO", "replication"); err != nil || !strings.Contains(repl, "master_link_status:up") {
		return false
	}
	for _, s := range set.Sentinels {
		info, err := command(s.Addr, "INFO", "sentinel")
		if err != nil || !strings.Contains(info, "status=ok") || !strings.Contains(info, "slaves=1") || !strings.Contains(info, "sentinels=3") {
			return false
		}
	}
	return true
}

// URL is the redis-sentinel:// URL of the set (budget/redis.Open).
func (set *SentinelSet) URL() string {
	addrs := make([]string, len(set.Sentinels))
	for i, s := range set.Sentinels {
		addrs[i] = s.Addr
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "?master_name=" + set.MasterName
}

// MasterAddr is the master's address as the first sentinel reports it.
func (set *SentinelSet) MasterAddr() (string, error) {
	info, err := command(set.Sentinels[0].Addr, "INFO", "sentinel")
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(info, "address=")
	if !ok {
		return "", fmt.Errorf("redistest: no master address in %q", info)
	}
	addr, _, _ := strings.Cut(rest, ",")
	return addr, nil
}

// sentinelArgs writes the sentinel's configuration file (a sentinel rewrites it as it
// learns, so it is written once) and returns the arguments that run it.
func (s *Server) sentinelArgs() ([]string, error) {
	conf := filepath.Join(s.dir, "sentinel.conf")
	// Written again only when the port changed (StartServer retries another port).
	if b, err := os.ReadFile(filepath.Clean(conf)); err != nil || !strings.HasPrefix(string(b), fmt.Sprintf("port %d\n", s.port)) {
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir %s\nlogfile %s\n%s",
			s.port, s.dir, filepath.Join(s.dir, "redis.log"), s.opts.Sentinel)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return nil, fmt.Errorf("redistest: %w", err)
		}
	}
	return []string{conf, "--sentinel"}, nil
}
