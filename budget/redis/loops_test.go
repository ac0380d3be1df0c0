package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// TestLoopKeys pins the loop keys of README.md, their expiry, and that Reserve with
// a LoopCheck stays one round trip (the event's global copy goes by the batcher).
func TestLoopKeys(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	hook := &countHook{}
	client.AddHook(hook)
	l, err := budgetredis.New(client, budgetredis.Options{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	lc := budget.LoopCheck{Sig: ledgertest.Sig(1), Config: ledgertest.LoopConfig(), Block: true, Excerpt: "user: again"}
	f.ReserveLoop("user-12345", rules.Rule{}, 1, lc) // warm-up
	for range 3 {
		before := hook.n.Load()
		f.ReserveLoop("user-12345", rules.Rule{}, 1, lc)
		require.Equal(t, int64(1), hook.n.Load()-before, "one round trip, the loop that fires included")
	}

	base := "px:" + tag("user-12345") + ":"
	raw, err := client.Get(ctx, base+"loop").Bytes()
	require.NoError(t, err)
	var w loop.Window
	require.NoError(t, w.UnmarshalBinary(raw), "the window key holds loop.Window's encoding")
	until, active := w.Cooldown(f.Now)
	require.True(t, active)
	require.Equal(t, f.Now.Add(5*time.Minute).UnixMilli(), until.UnixMilli())
	ttl := client.PTTL(ctx, base+"loop").Val()
	require.InDelta(t, float64(5*time.Minute), float64(ttl), float64(10*time.Second), "the window lives as long as the cooldown")

	entries := client.LRange(ctx, base+"loopev", 0, -1).Val()
	want := fmt.Sprintf("1|%d|1|3|%d|1|%016x|%016x|user: again", f.Now.UnixMilli(), until.UnixMilli(), lc.Sig.Exact, lc.Sig.Sim)
	require.Equal(t, []string{want}, entries)
	require.InDelta(t, float64(budget.LoopEventTTL), float64(client.PTTL(ctx, base+"loopev").Val()), float64(10*time.Second))

	require.Zero(t, client.Exists(ctx, "px:loops").Val(), "written by the batcher, not by Reserve")
	require.NoError(t, l.FlushIndex(ctx))
	members := client.ZRangeWithScores(ctx, "px:loops", 0, -1).Val()
	require.Len(t, members, 1)
	require.Equal(t, tag("user-12345")[1:len(tag("user-12345"))-1]+"|"+want, members[0].Member)
	require.InDelta(t, float64(f.Now.UnixMilli()), members[0].Score, 1e-9)
	require.InDelta(t, float64(budget.LoopEventTTL), float64(client.PTTL(ctx, "px:loops").Val()), float64(10*time.Second))

	// A second loop, so the all-clients listing has a second page.
	ok, err := l.ClearLoop(ctx, "user-12345")
	require.NoError(t, err)
	require.True(t, ok)
	f.Advance(time.Second)
	for range 4 {
		f.ReserveLoop("user-12345", rules.Rule{}, 1, lc)
	}
	require.NoError(t, l.FlushIndex(ctx))

	// Listing costs one round trip either way; clearing and the state one each.
	count := func(name string, fn func()) {
		t.Helper()
		before := hook.n.Load()
		fn()
		require.Equal(t, int64(1), hook.n.Load()-before, name)
	}
	count("client events", func() { require.Len(t, f.LoopEvents(budget.LoopQuery{ClientID: "user-12345"}).Events, 2) })
	var first budget.LoopPage
	count("all events", func() { first = f.LoopEvents(budget.LoopQuery{Limit: 1}) })
	require.NotEmpty(t, first.NextCursor)
	count("next page", func() {
		p := f.LoopEvents(budget.LoopQuery{Limit: 1, Cursor: first.NextCursor})
		require.Len(t, p.Events, 1)
		require.True(t, p.Events[0].At.Before(first.Events[0].At))
	})
	count("state", func() { _, _, err := l.LoopState(ctx, "user-12345", f.Now); require.NoError(t, err) })
	count("clear", func() { _, err := l.ClearLoop(ctx, "user-12345"); require.NoError(t, err) })
}
