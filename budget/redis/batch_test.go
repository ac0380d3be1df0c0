package redis

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
)

// TestBatcherSettledAllocs: queueing a settlement of a client already in the batch
// allocates nothing, so the index costs the request path no garbage.
func TestBatcherSettledAllocs(t *testing.T) {
	mr := miniredis.RunT(t)
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	r, err := New(client, Options{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := budget.SettleRequest{ClientID: "c", Periods: budget.Calendar{}.Periods(now), ActualNano: 5, Model: "gpt-4o", Now: now}
	r.idx.settled(s, "gpt-4o", 5, 5, 1000, 1000)
	require.Zero(t, testing.AllocsPerRun(100, func() { r.idx.settled(s, "gpt-4o", 5, 5, 1000, 1000) }))
}

// TestBatcherLoopEventsRetried: events whose flush failed are written by the next one.
func TestBatcherLoopEventsRetried(t *testing.T) {
	mr := miniredis.RunT(t)
	client := goredis.NewClient(&goredis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	r, err := New(client, Options{IndexEvery: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	ctx := context.Background()
	r.idx.loopEvent(1000, "YQ|e1")
	mr.Close()
	require.ErrorIs(t, r.FlushIndex(ctx), budget.ErrUnavailable)
	r.idx.loopEvent(2000, "YQ|e2")
	require.NoError(t, mr.Restart())
	require.NoError(t, r.FlushIndex(ctx))
	zs, err := client.ZRangeWithScores(ctx, "px:loops", 0, -1).Result()
	require.NoError(t, err)
	require.Equal(t, []goredis.Z{{Score: 1000, Member: "YQ|e1"}, {Score: 2000, Member: "YQ|e2"}}, zs)
	require.Equal(t, budget.LoopEventTTL, mr.TTL("px:loops"))

	// Past budget.MaxLoopEvents pending, the oldest are dropped.
	for i := range budget.MaxLoopEvents + 5 {
		r.idx.loopEvent(int64(3000+i), "YQ|x"+strconv.Itoa(i))
	}
	require.Len(t, r.idx.pending.loops, budget.MaxLoopEvents)
	require.Equal(t, "YQ|x5", r.idx.pending.loops[0].Member)
}
