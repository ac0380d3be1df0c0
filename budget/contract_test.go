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

func TestMemoryRuleStore(t *testing.T) {
	ledgertest.RunRuleStore(t, func(t *testing.T) budget.RuleStore { return budget.NewMemory(budget.MemoryOptions{}) })
}

func TestMemoryDynamicRules(t *testing.T) {
	ledgertest.RunDynamicRules(t, func(t *testing.T) (budget.RuleStore, budget.RuleStore) {
		m := budget.NewMemory(budget.MemoryOptions{})
		return m, m
	})
}

// redisStore opens a ledger with its own connection pool, like one replica.
func redisStore(t *testing.T, url, prefix string) *budget.Redis {
	t.Helper()
	l, err := budget.OpenRedis(url, budget.RedisOptions{Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

func TestRedisRuleStore(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	var n atomic.Int64
	ledgertest.RunRuleStore(t, func(t *testing.T) budget.RuleStore {
		return redisStore(t, url, fmt.Sprintf("rs%d", n.Add(1)))
	})
}

// TestRedisDynamicRules: two replicas with their own connections on one Redis.
func TestRedisDynamicRules(t *testing.T) {
	url := "redis://" + redistest.Start(t)
	var n atomic.Int64
	ledgertest.RunDynamicRules(t, func(t *testing.T) (budget.RuleStore, budget.RuleStore) {
		prefix := fmt.Sprintf("dr%d", n.Add(1))
		return redisStore(t, url, prefix), redisStore(t, url, prefix)
	})
}
