package redis_test

import (
	"context"
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

// TestIndexFlushOnClose: Close writes the pending batch, so a clean shutdown loses no
// index entries or aggregates.
func TestIndexFlushOnClose(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: time.Hour}) // never on its own
	require.NoError(t, err)
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", rules.Rule{}, 7)
	f.Charge("b", rules.Rule{}, 9)

	ctx := context.Background()
	other, err := budgetredis.New(client, budgetredis.Options{})
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

// TestIndexBackgroundFlush: without any explicit flush the index catches up within
// the batch interval.
func TestIndexBackgroundFlush(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", rules.Rule{}, 7)
	require.Eventually(t, func() bool {
		p, err := l.ListClients(context.Background(), budget.ClientQuery{Periods: f.Periods()})
		return err == nil && len(p.Clients) == 1
	}, 5*time.Second, 5*time.Millisecond)
}

// TestIndexRetriedAfterOutage: a flush that fails keeps its batch; the next one
// writes it, without counting anything twice.
func TestIndexRetriedAfterOutage(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Persist: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: time.Hour})
	require.NoError(t, err)
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	f.Charge("a", rules.Rule{}, 7)
	f.Charge("b", rules.Rule{}, 3)

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

// TestRulesUnavailable: rule writes fail while Redis is down (they are never buffered),
// and so do index reads.
func TestRulesUnavailable(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
	require.NoError(t, srv.Stop())

	ctx := context.Background()
	k := rules.Key{ClientID: "c"}
	_, err = l.PutRule(ctx, rules.Rule{ClientID: "c"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, _, err = l.GetRule(ctx, k)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.DeleteRule(ctx, k)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.ListRules(ctx)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.RulesVersion(ctx)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(-1)})
	require.ErrorIs(t, err, budget.ErrInvalid, "validation first")
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	_, err = l.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.ListClients(ctx, budget.ClientQuery{Periods: f.Periods(), Prefix: "x"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.GlobalHistory(ctx, "2026-11-28", "2026-11-28")
	require.ErrorIs(t, err, budget.ErrUnavailable)

	// rules.Dynamic starts with the file rules and picks the store up once it is back.
	file, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(5)}, nil)
	require.NoError(t, err)
	d, err := rules.NewDynamic(ctx, rules.DynamicOptions{File: file, Store: l, Refresh: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	require.Equal(t, int64(5), d.Resolve("c").Daily.Nano)
	require.NoError(t, srv.Start())
	// After enough failed dials go-redis's pool answers with the last dial
	// error until its background redial (once a second) gets through.
	require.Eventually(t, func() bool {
		_, err = l.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(1)})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "put after Redis is back")
	require.Eventually(t, func() bool { return d.Resolve("c").Daily.Nano == 1 }, 5*time.Second, 5*time.Millisecond)
}

// TestRulesVersionAfterDataLoss: a store that lost its data does not return to a
// version a replica already saw, so the replica notices the new rules.
func TestRulesVersionAfterDataLoss(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	_, err = l.PutRule(ctx, rules.Rule{ClientID: "a"})
	require.NoError(t, err)
	v1, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.NoError(t, client.FlushAll(ctx).Err())
	v0, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.Zero(t, v0)
	_, err = l.PutRule(ctx, rules.Rule{ClientID: "b"})
	require.NoError(t, err)
	v2, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.NotEqual(t, v1, v2)
}

// TestCorruptRule: a hand-edited entry is skipped by ListRules (the others still
// apply) and reported by GetRule.
func TestCorruptRule(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	_, err = l.PutRule(ctx, rules.Rule{ClientID: "good", Daily: rules.LimitOf(1)})
	require.NoError(t, err)
	for field, v := range map[string]string{
		"client:json":     "{not json",
		"client:negative": `{"client_id":"negative","daily_limit_nano":-5}`,
		"client:other":    `{"client_id":"someone-else"}`,
		"nonsense":        `{}`,
	} {
		require.NoError(t, client.HSet(ctx, "px:{rules}", field, v).Err())
	}
	stored, err := l.ListRules(ctx)
	require.NoError(t, err)
	require.Equal(t, []rules.Rule{{ClientID: "good", Daily: rules.LimitOf(1)}}, stored)
	_, _, err = l.GetRule(ctx, rules.Key{ClientID: "json"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, _, err = l.GetRule(ctx, rules.Key{ClientID: "other"})
	require.ErrorIs(t, err, budget.ErrUnavailable)
}
