package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
)

// TestContract runs the suite on a real redis-server; each test gets its own key prefix
// on one shared server.
func TestContract(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t), PoolSize: 64})
	t.Cleanup(func() { _ = client.Close() })
	var n atomic.Int64
	ledgertest.Run(t, func(t *testing.T) budget.Store {
		l, err := budgetredis.New(client, budgetredis.Options{Prefix: fmt.Sprintf("t%d", n.Add(1))})
		require.NoError(t, err)
		return l
	})
}

// TestReplicasConcurrency: two stores with their own connection pools on one Redis
// behave like two sidecar replicas racing for the same budget.
func TestReplicasConcurrency(t *testing.T) {
	addr := redistest.Start(t)
	var ls []budget.Store
	for range 2 {
		l, err := budgetredis.Open("redis://"+addr, budgetredis.Options{Prefix: "replicas"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		ls = append(ls, l)
	}
	ledgertest.RunConcurrency(t, ls...)
}

// open opens a store with its own connection pool, like one replica.
func open(t *testing.T, url, prefix string) *budgetredis.Store {
	t.Helper()
	l, err := budgetredis.Open(url, budgetredis.Options{Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

func TestRuleStore(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	var n atomic.Int64
	ledgertest.RunRuleStore(t, func(t *testing.T) rules.Store {
		return open(t, url, fmt.Sprintf("rs%d", n.Add(1)))
	})
}

// TestDynamicRules: two replicas with their own connections on one Redis.
func TestDynamicRules(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	var n atomic.Int64
	ledgertest.RunDynamicRules(t, func(t *testing.T) (rules.Store, rules.Store) {
		prefix := fmt.Sprintf("dr%d", n.Add(1))
		return open(t, url, prefix), open(t, url, prefix)
	})
}

// TestLoopsTrimmed: the all-clients listing keeps the newest MaxLoopEvents, each
// client's list the newest MaxClientLoopEvents.
func TestLoopsTrimmed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,050 loop events")
	}
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ledgertest.RunLoopsTrimmed(t, l)
}
