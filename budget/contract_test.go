package budget_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/redistest"
)

func TestMemoryContract(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) budget.Ledger {
		return budget.NewMemory(budget.MemoryOptions{})
	})
}

// TestRedisContract runs the suite on a real redis-server; each test gets its own key
// prefix on one shared server.
func TestRedisContract(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t), PoolSize: 64})
	t.Cleanup(func() { _ = client.Close() })
	var n atomic.Int64
	ledgertest.Run(t, func(t *testing.T) budget.Ledger {
		l, err := budget.NewRedis(client, budget.RedisOptions{Prefix: fmt.Sprintf("t%d", n.Add(1))})
		require.NoError(t, err)
		return l
	})
}

// TestRedisReplicasConcurrency: two ledgers with their own connection pools on one Redis
// behave like two sidecar replicas racing for the same budget.
func TestRedisReplicasConcurrency(t *testing.T) {
	addr := redistest.Start(t)
	var ls []budget.Ledger
	for range 2 {
		l, err := budget.OpenRedis("redis://"+addr, budget.RedisOptions{Prefix: "replicas"})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		ls = append(ls, l)
	}
	ledgertest.RunConcurrency(t, ls...)
}
