package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of real redis-servers on loopback, made by redis-cli
// --cluster create: each master owns a third (or its share) of the 16384 slots, each
// replica follows one master.
type Cluster struct {
	Nodes []*Server
}

// clusterNodeTimeout is cluster-node-timeout: a master unreachable this long is failed
// over to its replica (the default, 15s, would make a failover test slow).
const clusterNodeTimeout = "1000"

// StartCluster starts masters × (1 + replicas) nodes, joins them into one cluster and
// waits until every slot is served and every replica is in sync. The nodes stop when the
// test ends.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		StartServer(t, Options{}) // skips or fails exactly as a missing redis-server does
		t.Fatalf("redistest: redis-cli not found on PATH: %v", err)
	}
	c := &Cluster{}
	addrs := make([]string, 0, masters*(1+replicas))
	for range masters * (1 + replicas) {
		// Without a delay a replica's first full sync waits 5s (repl-diskless-sync-delay).
		s := StartServer(t, Options{ClusterNode: true, Args: []string{"--cluster-node-timeout", clusterNodeTimeout, "--repl-diskless-sync-delay", "0"}})
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput() //nolint:gosec // G204: redis-cli from PATH, this cluster's own addresses
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// Seeds is the node list for a redis-cluster:// URL.
func (c *Cluster) Seeds() string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr
	}
	return strings.Join(addrs, ",")
}

// Masters returns the running nodes that are masters now.
func (c *Cluster) Masters() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		if s.PID() == 0 {
			continue
		}
		if info, err := command(s.Addr, "INFO", "replication"); err == nil && strings.Contains(info, "role:master") {
			out = append(out, s)
		}
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok with all slots
// assigned, and every running replica's link to its master is up.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		problem := ""
		for _, s := range c.Nodes {
			if s.PID() == 0 {
				continue
			}
			info, err := command(s.Addr, "CLUSTER", "INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				problem = fmt.Sprintf("%s: %v %s", s.Addr, err, firstLines(info, 3))
				break
			}
			repl, err := command(s.Addr, "INFO", "replication")
			if err != nil || strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				problem = fmt.Sprintf("%s: replica not in sync: %v", s.Addr, err)
				break
			}
		}
		if problem == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster not healthy after %v: %s", timeout, problem)
		}
		time.Sleep(50 * time.Millisecond) // polling cluster state, not timing a test
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " ")
}
