package budget

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestBatcherSettledAllocs: queueing a settlement of a client already in the batch
// allocates nothing, so the index costs the request path no garbage.
func TestBatcherSettledAllocs(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	r, err := NewRedis(client, RedisOptions{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := SettleRequest{ClientID: "c", Periods: Calendar{}.Periods(now), ActualNano: 5, Model: "gpt-4o", Now: now}
	r.idx.settled(s, "gpt-4o", 5, 5, 1000, 1000)
	require.Zero(t, testing.AllocsPerRun(100, func() { r.idx.settled(s, "gpt-4o", 5, 5, 1000, 1000) }))
}
