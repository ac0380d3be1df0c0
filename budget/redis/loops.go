package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/internal/loop"

	"github.com/proxide/proxide/budget"
)

var _ budget.LoopStore = (*Store)(nil)

// loopsKey is the all-clients listing: a zset of members (loop.go) scored by event ms.
// Not client-tagged: only the batcher writes it, with commands of its own.
func (r *Store) loopsKey() string { return r.prefix + ":loops" }

// loopEvent queues a new loop event for the all-clients listing. Past budget.MaxLoopEvents
// pending events (writes failing for long) the oldest are dropped and counted: the
// listing keeps only the newest that many anyway, and each client's list has its own.
func (b *batcher) loopEvent(at int64, member string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending.loops = capLoops(append(b.pending.loops, budget.LoopKey{At: at, Member: member}), &b.dropped)
}

// capLoops keeps the last budget.MaxLoopEvents of ks.
func capLoops(ks []budget.LoopKey, dropped *atomic.Int64) []budget.LoopKey {
	if n := len(ks) - budget.MaxLoopEvents; n > 0 {
		dropped.Add(int64(n))
		ks = ks[n:]
	}
	return ks
}

// loopOps adds the batch's events to the listing, trims it to the newest budget.MaxLoopEvents
// and refreshes its expiry. ZADD of an existing member changes nothing, so a retried
// batch cannot duplicate an event.
func (b *batcher) loopOps(cur *batch) []flushOp {
	if len(cur.loops) == 0 {
		return nil
	}
	key := b.r.loopsKey()
	var ops []flushOp
	for ks := cur.loops; len(ks) > 0; {
		chunk := ks[:min(len(ks), zaddChunk)]
		ks = ks[len(chunk):]
		zs := make([]goredis.Z, len(chunk))
		for i, k := range chunk {
			zs[i] = goredis.Z{Score: float64(k.At), Member: k.Member}
		}
		ops = append(ops, flushOp{
			send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder { return p.ZAdd(ctx, key, zs...) },
			retry: func() { // older than what is pending now: back in front
				b.pending.loops = capLoops(append(slices.Clip(chunk), b.pending.loops...), &b.dropped)
			},
		})
	}
	return append(ops,
		flushOp{
			send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder {
				return p.ZRemRangeByRank(ctx, key, 0, -budget.MaxLoopEvents-1)
			},
			retry: func() {}, // the next flush trims again
		},
		flushOp{
			send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder {
				return p.PExpire(ctx, key, budget.LoopEventTTL)
			},
			retry: func() {},
		})
}

// LoopEvents implements budget.LoopStore. A client's listing is one LRANGE of its list (at most
// budget.MaxClientLoopEvents entries, sorted here); the all-clients listing is one pipeline on
// the zset: the events tied with the cursor's millisecond, and a page of older ones.
func (r *Store) LoopEvents(ctx context.Context, q budget.LoopQuery) (budget.LoopPage, error) {
	lq, err := q.Validate()
	if err != nil {
		return budget.LoopPage{}, err
	}
	var keys []budget.LoopKey
	if lq.ClientID != "" {
		keys, err = r.clientLoopKeys(ctx, lq)
	} else {
		keys, err = r.allLoopKeys(ctx, lq)
	}
	if err != nil {
		return budget.LoopPage{}, unavailable("loop events", err)
	}
	page, err := lq.Page(keys)
	if err != nil {
		return budget.LoopPage{}, unavailable("loop events", err)
	}
	return page, nil
}

func (r *Store) clientLoopKeys(ctx context.Context, q budget.LoopPageQuery) ([]budget.LoopKey, error) {
	entries, err := r.c.LRange(ctx, r.clientBase(q.ClientID)+"loopev", 0, -1).Result()
	if err != nil {
		return nil, err
	}
	keys := make([]budget.LoopKey, 0, len(entries))
	for _, e := range entries {
		ev, err := budget.ParseLoopEntry(q.ClientID, e)
		if err != nil {
			r.log.Error("budget: skipping a stored loop event", "client_id", q.ClientID, "entry", truncate(e, 100))
			continue
		}
		k := budget.LoopKey{At: ev.At.UnixMilli(), Member: budget.LoopMember(q.ClientID, e)}
		if q.After == nil || q.After.Before(k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b budget.LoopKey) int {
		if a.Before(b) {
			return -1
		}
		if b.Before(a) {
			return 1
		}
		return 0
	})
	return keys[:min(len(keys), q.Limit+1)], nil
}

func (r *Store) allLoopKeys(ctx context.Context, q budget.LoopPageQuery) ([]budget.LoopKey, error) {
	key := r.loopsKey()
	n := int64(q.Limit + 1)
	var ties, older *goredis.ZSliceCmd
	_, err := r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		if q.After == nil {
			older = p.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: "+inf", Min: "-inf", Count: n})
			return nil
		}
		at := strconv.FormatInt(q.After.At, 10)
		// Ties of the cursor's millisecond come in reverse lexicographic order, the
		// listing order; those after the cursor are picked below.
		ties = p.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: at, Min: at})
		older = p.ZRevRangeByScoreWithScores(ctx, key, &goredis.ZRangeBy{Max: "(" + at, Min: "-inf", Count: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var keys []budget.LoopKey
	add := func(zs []goredis.Z) {
		for _, z := range zs {
			m, ok := z.Member.(string)
			k := budget.LoopKey{At: int64(z.Score), Member: m}
			if ok && (q.After == nil || q.After.Before(k)) && len(keys) <= q.Limit {
				keys = append(keys, k)
			}
		}
	}
	if ties != nil {
		add(ties.Val())
	}
	add(older.Val())
	return keys, nil
}

// LoopState implements budget.LoopStore with one GET of the client's window.
func (r *Store) LoopState(ctx context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	if err := budget.ValidateLoopState(clientID, now); err != nil {
		return time.Time{}, false, err
	}
	raw, err := r.c.Get(ctx, r.clientBase(clientID)+"loop").Bytes()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return time.Time{}, false, unavailable("loop state", err)
	}
	var w loop.Window
	if err := w.UnmarshalBinary(raw); err != nil {
		return time.Time{}, false, unavailable("loop state", fmt.Errorf("client %q: %w", truncate(clientID, 64), err))
	}
	until, active := w.Cooldown(now)
	return until, active, nil
}

// ClearLoop implements budget.LoopStore with one DEL of the client's window: true when the key
// existed (it expires once the window and the cooldown have passed).
func (r *Store) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	if err := budget.ValidateClearLoop(clientID); err != nil {
		return false, err
	}
	n, err := r.c.Del(ctx, r.clientBase(clientID)+"loop").Result()
	if err != nil {
		return false, unavailable("clear loop", err)
	}
	return n == 1, nil
}
