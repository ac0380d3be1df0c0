package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
)

// TestThreeMasterClusterContract runs the ledger contract on a real three-master Redis
// Cluster (redis-cli --cluster create): clients' keys hash to every master, the global
// keys (index, loop listing, aggregates) to theirs, and every script keeps to one slot.
func TestThreeMasterClusterContract(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node redis cluster")
	}
	c := redistest.StartCluster(t, 3, 0)
	url := "redis-cluster://" + c.Seeds()
	var n atomic.Int64
	ledgertest.Run(t, func(t *testing.T) budget.Store {
		return open(t, url, fmt.Sprintf("c%d", n.Add(1)))
	})
	ledgertest.RunRuleStore(t, func(t *testing.T) rules.Store {
		return open(t, url, fmt.Sprintf("crs%d", n.Add(1)))
	})
	ledgertest.RunConcurrency(t, open(t, url, "cconc"), open(t, url, "cconc"))
}

// TestSentinelContract runs the ledger contract through Sentinel (redis-sentinel:// URL,
// go-redis's failover client) on a real master, replica and three sentinels.
func TestSentinelContract(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sentinel set")
	}
	set := redistest.StartSentinel(t)
	var n atomic.Int64
	ledgertest.Run(t, func(t *testing.T) budget.Store {
		return open(t, set.URL(), fmt.Sprintf("s%d", n.Add(1)))
	})
	l, err := budgetredis.Open(set.URL(), budgetredis.Options{Prefix: "sping"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	require.NoError(t, l.Ping(t.Context()))
}
