package budget_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/redistest"
)

// TestRedisIndexFlushOnClose: Close writes the pending batch, so a clean shutdown loses no
// index entries or aggregates.
func TestRedisIndexFlushOnClose(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{IndexEvery: time.Hour}) // never on its own
	require.NoError(t, err)
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", budget.Rule{}, 7)
	f.Charge("b", budget.Rule{}, 9)

	ctx := context.Background()
	other, err := budget.NewRedis(client, budget.RedisOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	p, err := other.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
	require.NoError(t, err)
	require.Empty(t, p.Clients, "not flushed yet")

	require.NoError(t, l.Close())
	p, err = other.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a"}, []string{p.Clients[0].ClientID, p.Clients[1].ClientID})
	g, err := other.GlobalHistory(ctx, "2026-11-28", "2026-11-28")
	require.NoError(t, err)
	require.Equal(t, [2]int64{2, 16}, [2]int64{g[0].Requests, g[0].CostNano})
}

// TestRedisIndexBackgroundFlush: without any explicit flush the index catches up within
// the batch interval.
func TestRedisIndexBackgroundFlush(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{IndexEvery: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", budget.Rule{}, 7)
	require.Eventually(t, func() bool {
		p, err := l.ListClients(context.Background(), budget.ClientQuery{Periods: f.Periods()})
		return err == nil && len(p.Clients) == 1
	}, 5*time.Second, 5*time.Millisecond)
}

// TestRedisIndexRetriedAfterOutage: a flush that fails keeps its batch; the next one
// writes it, without counting anything twice.
func TestRedisIndexRetriedAfterOutage(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Persist: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{IndexEvery: time.Hour})
	require.NoError(t, err)
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", budget.Rule{}, 7)
	f.Charge("b", budget.Rule{}, 3)

	ctx := context.Background()
	require.NoError(t, srv.Stop())
	require.ErrorIs(t, l.FlushIndex(ctx), budget.ErrUnavailable)
	require.ErrorIs(t, l.FlushIndex(ctx), budget.ErrUnavailable, "still pending")
	require.NoError(t, srv.Start())
	require.NoError(t, l.FlushIndex(ctx))
	require.NoError(t, l.FlushIndex(ctx), "nothing left")

	p, err := l.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
	require.NoError(t, err)
	require.Len(t, p.Clients, 2)
	g, err := l.GlobalHistory(ctx, "2026-11-28", "2026-11-28")
	require.NoError(t, err)
	require.Equal(t, [2]int64{2, 10}, [2]int64{g[0].Requests, g[0].CostNano})
	ttl, err := client.PTTL(ctx, "px:agg:d:2026-11-28").Result()
	require.NoError(t, err)
	require.Positive(t, ttl, "the retried keys expire too")
	require.NoError(t, l.Close())
}

// TestRedisRulesUnavailable: rule writes fail while Redis is down, also through
// Resilient, which buffers settlements but never rules.
func TestRedisRulesUnavailable(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{})
	require.NoError(t, err)
	res := budget.NewResilient(l, budget.ResilientOptions{Mode: budget.FailOpen})
	t.Cleanup(func() { _ = res.Close() })
	require.NoError(t, srv.Stop())

	ctx := context.Background()
	k := budget.RuleKey{ClientID: "c"}
	for name, s := range map[string]budget.RuleStore{"redis": l, "resilient": res} {
		_, err := s.PutRule(ctx, budget.Rule{ClientID: "c"})
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, _, err = s.GetRule(ctx, k)
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = s.DeleteRule(ctx, k)
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = s.ListRules(ctx)
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = s.RulesVersion(ctx)
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = s.PutRule(ctx, budget.Rule{ClientID: "c", Daily: budget.LimitOf(-1)})
		require.ErrorIs(t, err, budget.ErrInvalid, "%s: validation first", name)
	}
	require.Zero(t, res.Buffered())
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	for name, ix := range map[string]budget.ClientIndex{"redis": l, "resilient": res} {
		_, err := ix.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = ix.ListClients(ctx, budget.ClientQuery{Periods: f.Periods(), Prefix: "x"})
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
		_, err = ix.GlobalHistory(ctx, "2026-11-28", "2026-11-28")
		require.ErrorIs(t, err, budget.ErrUnavailable, name)
	}

	// DynamicRules starts with the file rules and picks the store up once it is back.
	file, err := budget.NewRules(budget.Rule{Daily: budget.LimitOf(5)}, nil)
	require.NoError(t, err)
	d, err := budget.NewDynamicRules(ctx, budget.DynamicRulesOptions{File: file, Store: l, Refresh: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	require.Equal(t, int64(5), d.Resolve("c").Daily.Nano)
	require.NoError(t, srv.Start())
	_, err = l.PutRule(ctx, budget.Rule{ClientID: "c", Daily: budget.LimitOf(1)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return d.Resolve("c").Daily.Nano == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestRedisRulesVersionAfterDataLoss: a store that lost its data does not return to a
// version a replica already saw, so the replica notices the new rules.
func TestRedisRulesVersionAfterDataLoss(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	_, err = l.PutRule(ctx, budget.Rule{ClientID: "a"})
	require.NoError(t, err)
	v1, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.NoError(t, client.FlushAll(ctx).Err())
	v0, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.Zero(t, v0)
	_, err = l.PutRule(ctx, budget.Rule{ClientID: "b"})
	require.NoError(t, err)
	v2, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.NotEqual(t, v1, v2)
}

// TestRedisCorruptRule: a hand-edited entry is skipped by ListRules (the others still
// apply) and reported by GetRule.
func TestRedisCorruptRule(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	_, err = l.PutRule(ctx, budget.Rule{ClientID: "good", Daily: budget.LimitOf(1)})
	require.NoError(t, err)
	for field, v := range map[string]string{
		"client:json":     "{not json",
		"client:negative": `{"client_id":"negative","daily_limit_nano":-5}`,
		"client:other":    `{"client_id":"someone-else"}`,
		"nonsense":        `{}`,
	} {
		require.NoError(t, client.HSet(ctx, "px:{rules}", field, v).Err())
	}
	rules, err := l.ListRules(ctx)
	require.NoError(t, err)
	require.Equal(t, []budget.Rule{{ClientID: "good", Daily: budget.LimitOf(1)}}, rules)
	_, _, err = l.GetRule(ctx, budget.RuleKey{ClientID: "json"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, _, err = l.GetRule(ctx, budget.RuleKey{ClientID: "other"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
}

// TestResilientWithoutStores: a ledger without rules or index reports it clearly.
func TestResilientWithoutStores(t *testing.T) {
	res := budget.NewResilient(plainLedger{budget.NewMemory(budget.MemoryOptions{})}, budget.ResilientOptions{})
	t.Cleanup(func() { _ = res.Close() })
	_, err := res.PutRule(context.Background(), budget.Rule{})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.True(t, errors.Is(err, errors.ErrUnsupported))
	_, err = res.GlobalHistory(context.Background(), "2026-11-28", "2026-11-28")
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.NoError(t, res.FlushIndex(context.Background()))

	// Over Memory, everything passes through.
	m := budget.NewMemory(budget.MemoryOptions{})
	res2 := budget.NewResilient(m, budget.ResilientOptions{})
	t.Cleanup(func() { _ = res2.Close() })
	created, err := res2.PutRule(context.Background(), budget.Rule{ClientID: "x"})
	require.NoError(t, err)
	require.True(t, created)
	_, ok, err := m.GetRule(context.Background(), budget.RuleKey{ClientID: "x"})
	require.NoError(t, err)
	require.True(t, ok)
}

// plainLedger hides every method but the Ledger ones.
type plainLedger struct{ budget.Ledger }
