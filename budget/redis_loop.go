package budget

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/loop"
)

var _ LoopStore = (*Redis)(nil)

// loopsKey is the all-clients listing: a zset of members (loop.go) scored by event ms.
// Not client-tagged: only the batcher writes it, with commands of its own.
func (r *Redis) loopsKey() string { return r.prefix + ":loops" }

// loopEvent queues a new loop event for the all-clients listing. Past MaxLoopEvents
// pending events (writes failing for long) the oldest are dropped and counted: the
// listing keeps only the newest that many anyway, and each client's list has its own.
func (b *batcher) loopEvent(at int64, member string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending.loops = capLoops(append(b.pending.loops, loopKey{at: at, member: member}), &b.dropped)
}

// capLoops keeps the last MaxLoopEvents of ks.
func capLoops(ks []loopKey, dropped *atomic.Int64) []loopKey {
	if n := len(ks) - MaxLoopEvents; n > 0 {
		dropped.Add(int64(n))
		ks = ks[n:]
	}
	return ks
}

// loopOps adds the batch's events to the listing, trims it to the newest MaxLoopEvents
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
		zs := make([]redis.Z, len(chunk))
		for i, k := range chunk {
			zs[i] = redis.Z{Score: float64(k.at), Member: k.member}
		}
		ops = append(ops, flushOp{
			send: func(ctx context.Context, p redis.Pipeliner) redis.Cmder { return p.ZAdd(ctx, key, zs...) },
			retry: func() { // older than what is pending now: back in front
				b.pending.loops = capLoops(append(slices.Clip(chunk), b.pending.loops...), &b.dropped)
			},
		})
	}
	return append(ops,
		flushOp{
			send: func(ctx context.Context, p redis.Pipeliner) redis.Cmder {
				return p.ZRemRangeByRank(ctx, key, 0, -MaxLoopEvents-1)
			},
			retry: func() {}, // the next flush trims again
		},
		flushOp{
			send:  func(ctx context.Context, p redis.Pipeliner) redis.Cmder { return p.PExpire(ctx, key, LoopEventTTL) },
			retry: func() {},
		})
}

// LoopEvents implements LoopStore. A client's listing is one LRANGE of its list (at most
// MaxClientLoopEvents entries, sorted here); the all-clients listing is one pipeline on
// the zset: the events tied with the cursor's millisecond, and a page of older ones.
func (r *Redis) LoopEvents(ctx context.Context, q LoopQuery) (LoopPage, error) {
	lq, err := q.validate()
	if err != nil {
		return LoopPage{}, err
	}
	var keys []loopKey
	if lq.ClientID != "" {
		keys, err = r.clientLoopKeys(ctx, lq)
	} else {
		keys, err = r.allLoopKeys(ctx, lq)
	}
	if err != nil {
		return LoopPage{}, unavailable("loop events", err)
	}
	page, err := lq.page(keys)
	if err != nil {
		return LoopPage{}, unavailable("loop events", err)
	}
	return page, nil
}

func (r *Redis) clientLoopKeys(ctx context.Context, q loopQuery) ([]loopKey, error) {
	entries, err := r.c.LRange(ctx, r.clientBase(q.ClientID)+"loopev", 0, -1).Result()
	if err != nil {
		return nil, err
	}
	keys := make([]loopKey, 0, len(entries))
	for _, e := range entries {
		ev, err := parseLoopEntry(q.ClientID, e)
		if err != nil {
			r.log.Error("budget: skipping a stored loop event", "client_id", q.ClientID, "entry", truncate(e, 100))
			continue
		}
		k := loopKey{at: ev.At.UnixMilli(), member: loopMember(q.ClientID, e)}
		if q.after == nil || q.after.before(k) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b loopKey) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return keys[:min(len(keys), q.Limit+1)], nil
}

func (r *Redis) allLoopKeys(ctx context.Context, q loopQuery) ([]loopKey, error) {
	key := r.loopsKey()
	n := int64(q.Limit + 1)
	var ties, older *redis.ZSliceCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if q.after == nil {
			older = p.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: n})
			return nil
		}
		at := strconv.FormatInt(q.after.at, 10)
		// Ties of the cursor's millisecond come in reverse lexicographic order, the
		// listing order; those after the cursor are picked below.
		ties = p.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: at, Min: at})
		older = p.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: "(" + at, Min: "-inf", Count: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var keys []loopKey
	add := func(zs []redis.Z) {
		for _, z := range zs {
			m, ok := z.Member.(string)
			k := loopKey{at: int64(z.Score), member: m}
			if ok && (q.after == nil || q.after.before(k)) && len(keys) <= q.Limit {
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

// LoopState implements LoopStore with one GET of the client's window.
func (r *Redis) LoopState(ctx context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	if err := validateLoopState(clientID, now); err != nil {
		return time.Time{}, false, err
	}
	raw, err := r.c.Get(ctx, r.clientBase(clientID)+"loop").Bytes()
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, false, unavailable("loop state", err)
	}
	var w loop.Window
	if err := w.UnmarshalBinary(raw); err != nil {
		return time.Time{}, false, unavailable("loop state", fmt.Errorf("client %q: %w", truncate(clientID, 64), err))
	}
	until, active := w.Cooldown(now)
	return until, active, nil
}

// ClearLoop implements LoopStore with one DEL of the client's window: true when the key
// existed (it expires once the window and the cooldown have passed).
func (r *Redis) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	if err := validateClearLoop(clientID); err != nil {
		return false, err
	}
	n, err := r.c.Del(ctx, r.clientBase(clientID)+"loop").Result()
	if err != nil {
		return false, unavailable("clear loop", err)
	}
	return n == 1, nil
}
