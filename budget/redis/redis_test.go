package redis_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
)

// TestClusterContract runs the suite through a ClusterClient on a one-node cluster:
// cluster mode refuses commands whose keys span slots, so this proves every script's
// keys share the client's hash tag.
func TestClusterContract(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Cluster: true})
	l0, err := budgetredis.Open("redis-cluster://"+srv.Addr, budgetredis.Options{})
	require.NoError(t, err)
	require.NoError(t, l0.Close())
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}})
	t.Cleanup(func() { _ = client.Close() })
	var n atomic.Int64
	ledgertest.Run(t, func(t *testing.T) budget.Store {
		l, err := budgetredis.New(client, budgetredis.Options{Prefix: fmt.Sprintf("c%d", n.Add(1))})
		require.NoError(t, err)
		return l
	})
	ledgertest.RunRuleStore(t, func(t *testing.T) rules.Store {
		l, err := budgetredis.New(client, budgetredis.Options{Prefix: fmt.Sprintf("c%d", n.Add(1))})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	})
}

func tag(id string) string { return "{" + base64.RawURLEncoding.EncodeToString([]byte(id)) + "}" }

// TestKeyLayout pins the documented layout (README.md) and key TTLs, on miniredis.
func TestKeyLayout(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	// The index is flushed by hand below, so the key checks never race the batcher.
	l, err := budgetredis.New(client, budgetredis.Options{Retention: 24 * time.Hour, IndexEvery: time.Hour})
	require.NoError(t, err)
	ctx := context.Background()
	cal, _ := budget.NewCalendar("UTC")
	now := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	p := cal.Periods(now)
	rule := rules.Rule{Daily: rules.LimitOf(100), Monthly: rules.LimitOf(1000)}
	client12345 := "user-12345"
	base := "px:" + tag(client12345) + ":"
	require.Equal(t, "px:{dXNlci0xMjM0NQ}:", base)

	_, err = l.Reserve(ctx, budget.ReserveRequest{ID: "r1", ClientID: client12345, Rule: rule, Periods: p, EstimateNano: 40, Now: now, TTL: time.Minute})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{base + "res", base + "resx", base + "rsv"}, mr.Keys())
	expiry := now.Add(time.Minute).UnixMilli()
	require.Equal(t, fmt.Sprintf("40|2026-11-28|2026-11|%d", expiry), mr.HGet(base+"res", "r1"))
	score, err := mr.ZScore(base+"resx", "r1")
	require.NoError(t, err)
	require.InDelta(t, float64(expiry), score, 1e-9)
	require.Equal(t, "40", mr.HGet(base+"rsv", "d|2026-11-28"))
	require.Equal(t, "40", mr.HGet(base+"rsv", "m|2026-11"))
	require.Equal(t, 2*time.Minute, mr.TTL(base+"res"))

	_, err = l.Settle(ctx, budget.SettleRequest{ID: "r1", ClientID: client12345, Rule: rule, Periods: p, ActualNano: 85,
		Model: "gpt-4o", Tokens: budget.Tokens{Prompt: 7, Completion: 3}, Estimated: true, Now: now})
	require.NoError(t, err)
	day, month, done := base+"d:2026-11-28", base+"m:2026-11", base+"done"
	require.ElementsMatch(t, []string{day, month, done}, mr.Keys(), "empty reservation hashes disappear")
	fields, err := mr.HKeys(day)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"spent", "req", "est", "estc", "m|gpt-4o|req", "m|gpt-4o|est", "m|gpt-4o|p", "m|gpt-4o|o", "m|gpt-4o|cost", "m|gpt-4o|estc", "a|800000|100"}, fields)
	require.Equal(t, "85", mr.HGet(day, "spent"))
	require.Equal(t, "85", mr.HGet(month, "spent"))
	require.Equal(t, 6*time.Hour+24*time.Hour, mr.TTL(day), "period end + retention")
	require.Equal(t, (2*24+6)*time.Hour+24*time.Hour, mr.TTL(month))
	require.Equal(t, budget.SettledTTL, mr.TTL(done))
	score, err = mr.ZScore(done, "r1")
	require.NoError(t, err)
	require.InDelta(t, float64(now.UnixMilli()), score, 1e-9)

	// Settled ids older than SettledTTL are pruned by a later settlement.
	later := now.Add(budget.SettledTTL + time.Millisecond)
	_, err = l.Settle(ctx, budget.SettleRequest{ID: "r2", ClientID: client12345, Rule: rule, Periods: cal.Periods(later), Now: later})
	require.NoError(t, err)
	members, err := mr.ZMembers(done)
	require.NoError(t, err)
	require.Equal(t, []string{"r2"}, members)

	// The client index and the global aggregates appear with the next flush.
	require.NoError(t, l.FlushIndex(ctx))
	dayIdx, monthIdx, seenIdx, agg := "px:idx:d:2026-11-28", "px:idx:m:2026-11", "px:idx:s:2026-11", "px:agg:d:2026-11-28"
	day29 := base + "d:2026-11-29" // r2 was settled a day later
	dayNames, monthNames := "px:idx:dn:2026-11-28", "px:idx:mn:2026-11"
	require.ElementsMatch(t, []string{day, day29, month, done, dayIdx, "px:idx:d:2026-11-29", monthIdx, seenIdx, agg, "px:agg:d:2026-11-29",
		dayNames, "px:idx:dn:2026-11-29", monthNames}, mr.Keys())
	for key, want := range map[string]float64{dayIdx: -85, "px:idx:d:2026-11-29": 0, monthIdx: -85, seenIdx: float64(later.UnixMilli()),
		dayNames: 0, monthNames: 0} {
		score, err := mr.ZScore(key, client12345)
		require.NoError(t, err, key)
		require.InDelta(t, want, score, 1e-9, "%s: raw client id as member; spend negated", key)
	}
	fields, err = mr.HKeys(agg)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"spent", "req", "est", "estc", "m|gpt-4o|req", "m|gpt-4o|est", "m|gpt-4o|p", "m|gpt-4o|o", "m|gpt-4o|cost", "m|gpt-4o|estc"},
		fields, "the same fields as a client's day hash, without alert marks")
	require.Equal(t, "1", mr.HGet(agg, "req"))
	require.Equal(t, "85", mr.HGet(agg, "spent"))
	require.Equal(t, "1", mr.HGet("px:agg:d:2026-11-29", "m|unknown|req"))
	require.Equal(t, 6*time.Hour+24*time.Hour, mr.TTL(dayIdx), "day end + retention, like the client's day")
	require.Equal(t, 6*time.Hour+24*time.Hour, mr.TTL(agg))
	require.Equal(t, (2*24+6)*time.Hour+24*time.Hour, mr.TTL(monthIdx))
	require.Equal(t, (2*24+6)*time.Hour+24*time.Hour, mr.TTL(seenIdx))
	require.Equal(t, 6*time.Hour+24*time.Hour, mr.TTL(dayNames))
	require.Equal(t, (2*24+6)*time.Hour+24*time.Hour, mr.TTL(monthNames))

	// Rules: one hash and a version, sharing the {rules} tag; integer nano limits.
	_, err = l.PutRule(ctx, rules.Rule{ClientID: client12345, Daily: rules.LimitOf(500_000_000), Action: rules.ActionAlert})
	require.NoError(t, err)
	require.JSONEq(t, `{"client_id":"user-12345","daily_limit_nano":500000000,"action":"alert","alert_thresholds":null}`,
		mr.HGet("px:{rules}", "client:user-12345"))
	ver, err := mr.Get("px:{rules}:ver")
	require.NoError(t, err)
	v, err := l.RulesVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(v, 10), ver)
	require.Equal(t, time.Duration(0), mr.TTL("px:{rules}"), "rules never expire")
	require.NoError(t, l.Close())

	// A custom prefix; braces are refused because they would change the hash tag.
	l2, err := budgetredis.New(client, budgetredis.Options{Prefix: "proxide:prod"})
	require.NoError(t, err)
	_, err = l2.Settle(ctx, budget.SettleRequest{ID: "x", ClientID: "a{b}", Rule: rule, Periods: p, Now: now})
	require.NoError(t, err)
	require.True(t, mr.Exists("proxide:prod:"+tag("a{b}")+":done"))
	_, err = budgetredis.New(client, budgetredis.Options{Prefix: "p{x}"})
	require.Error(t, err)
}

// countHook counts commands and pipelines sent to Redis: each is one round trip.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

func TestOneRoundTripEach(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	hook := &countHook{}
	client.AddHook(hook)
	// The batcher's own background flush would show up in the count: flushed by hand.
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: time.Hour})
	require.NoError(t, err)
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	rule := rules.Rule{Daily: rules.LimitOf(ledgertest.Cent)}
	ctx := context.Background()

	count := func(name string, fn func()) {
		t.Helper()
		fn() // warm up: a new pooled connection sends its own HELLO / CLIENT SETINFO
		before := hook.n.Load()
		fn()
		require.Equal(t, int64(1), hook.n.Load()-before, name)
	}
	count("reserve", func() { f.Reserve(f.NextID(), "c", rule, 1) })
	count("settle", func() { f.Settle(f.NextID(), "c", rule, 1) })
	count("spend", func() { f.Spend("c", rule) })
	count("history", func() {
		_, err := l.History(ctx, "c", "2026-11-01", "2026-11-30")
		require.NoError(t, err)
	})
	count("index flush", func() {
		f.Settle(f.NextID(), "c", rule, 1)
		hook.n.Add(-1) // the settlement itself
		require.NoError(t, l.FlushIndex(ctx))
	})
	count("global history", func() {
		_, err := l.GlobalHistory(ctx, "2026-11-01", "2026-11-30")
		require.NoError(t, err)
	})
	count("put rule", func() {
		_, err := l.PutRule(ctx, rules.Rule{ClientID: "c"})
		require.NoError(t, err)
	})
	count("rules version", func() {
		_, err := l.RulesVersion(ctx)
		require.NoError(t, err)
	})
	// A page is the script plus one pipeline for the other period and last-seen times.
	before := hook.n.Load()
	_, err = l.ListClients(ctx, budget.ClientQuery{Periods: f.Periods()})
	require.NoError(t, err)
	require.Equal(t, int64(2), hook.n.Load()-before, "list clients")

	// After a restart or failover the script cache is empty: EVALSHA fails with NOSCRIPT
	// and the script is sent again (EVAL), transparently.
	require.NoError(t, client.ScriptFlush(ctx).Err())
	a := f.Reserve(f.NextID(), "c", rule, 1)
	require.True(t, a.Admitted)
}

func TestUnavailable(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
	require.NoError(t, l.Ping(context.Background()))
	require.NoError(t, srv.Stop())

	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	rule := rules.Rule{}
	_, err = l.Reserve(ctx, f.ReserveReq("a", "c", rule, 1))
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.Settle(ctx, f.SettleReq("a", "c", rule, 1))
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.Spend(ctx, "c", rule, f.Periods(), f.Now)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = l.History(ctx, "c", "2026-11-28", "2026-11-28")
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.ErrorIs(t, l.Ping(ctx), budget.ErrUnavailable)
	// Validation still comes first.
	_, err = l.Reserve(ctx, f.ReserveReq("", "c", rule, 1))
	require.ErrorIs(t, err, budget.ErrInvalid)

	// Opening does not need a live Redis: scripts load on first use (TestRedisDownAtStartUp).
	_, err = budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
}
