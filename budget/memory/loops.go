package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
)

var _ budget.LoopStore = (*Store)(nil)

// memLoops is the all-clients event listing of the store: the newest budget.MaxLoopEvents events in
// listing order reversed (oldest first), so appending is the common case.
type memLoops struct {
	keys    []budget.LoopKey
	expires int64 // unix ms: budget.LoopEventTTL after the latest event
}

// older is the ascending order of the event slices (the reverse of the listing order).
func older(a, b budget.LoopKey) bool { return b.Before(a) }

// insertKey inserts k into the ascending slice ks, keeping at most limit of the newest.
func insertKey(ks []budget.LoopKey, k budget.LoopKey, limit int) []budget.LoopKey {
	i := sort.Search(len(ks), func(i int) bool { return !older(ks[i], k) })
	if i < len(ks) && ks[i] == k {
		return ks // the same event again (a ZADD of an existing member)
	}
	ks = slices.Insert(ks, i, k)
	if len(ks) > limit {
		// Re-slicing keeps the array; append copies only the live part when it grows, so
		// the memory stays about twice the cap.
		ks = ks[len(ks)-limit:]
	}
	return ks
}

// observeLoop runs c's window on the request's budget.LoopCheck and records a new loop's event.
// Called under the client's shard lock.
func (m *Store) observeLoop(c *memClient, r budget.ReserveRequest, now int64) loop.Verdict {
	if c.loopWin == nil {
		c.loopWin = &loop.Window{}
	}
	v := c.loopWin.Observe(r.Now, r.Loop.Sig, r.Loop.Config)
	c.loopCfg, c.loopSeen = r.Loop.Config, now
	if v.Loop && !v.Cooldown {
		k := budget.LoopKey{At: now, Member: budget.LoopMember(r.ClientID, budget.LoopEntryHead(now, v)+budget.LoopEntryTail(r.Loop))}
		c.events = insertKey(c.events, k, budget.MaxClientLoopEvents)
		c.eventsExp = max(c.eventsExp, now+budget.LoopEventTTL.Milliseconds())
		m.loopMu.Lock()
		m.loops.keys = insertKey(m.loops.keys, k, budget.MaxLoopEvents)
		m.loops.expires = max(m.loops.expires, now+budget.LoopEventTTL.Milliseconds())
		m.loopMu.Unlock()
	}
	return v
}

// pruneLoop drops c's window once it is idle and its events once they expired.
func (c *memClient) pruneLoop(now int64) {
	if c.loopWin != nil && c.loopWin.Idle(time.UnixMilli(now), c.loopCfg) {
		c.loopWin = nil
	}
	if c.eventsExp <= now {
		c.events = nil
	}
}

// pruneLoops drops the all-clients listing budget.LoopEventTTL after its latest event, like the
// Redis zset's expiry.
func (m *Store) pruneLoops(now int64) {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.loops.expires <= now {
		m.loops = memLoops{}
	}
}

// LoopEvents implements budget.LoopStore.
func (m *Store) LoopEvents(ctx context.Context, q budget.LoopQuery) (budget.LoopPage, error) {
	lq, err := q.Validate()
	if err != nil {
		return budget.LoopPage{}, err
	}
	if err := ctx.Err(); err != nil {
		return budget.LoopPage{}, fmt.Errorf("%w: loop events: %w", budget.ErrUnavailable, err)
	}
	var keys []budget.LoopKey
	if lq.ClientID == "" {
		m.loopMu.Lock()
		keys = pageKeys(m.loops.keys, lq)
		m.loopMu.Unlock()
	} else {
		sh, c := m.lock(lq.ClientID, false)
		if c != nil {
			keys = pageKeys(c.events, lq)
		}
		sh.mu.Unlock()
	}
	return lq.Page(keys)
}

// pageKeys returns up to rules.Limit+1 keys of the ascending slice ks after the query's cursor,
// in listing order (newest first).
func pageKeys(ks []budget.LoopKey, q budget.LoopPageQuery) []budget.LoopKey {
	end := len(ks)
	if q.After != nil {
		end = sort.Search(len(ks), func(i int) bool { return !older(ks[i], *q.After) })
	}
	out := make([]budget.LoopKey, 0, min(end, q.Limit+1))
	for i := end - 1; i >= 0 && len(out) <= q.Limit; i-- {
		out = append(out, ks[i])
	}
	return out
}

// LoopState implements budget.LoopStore.
func (m *Store) LoopState(ctx context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	if err := budget.ValidateLoopState(clientID, now); err != nil {
		return time.Time{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("%w: loop state: %w", budget.ErrUnavailable, err)
	}
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	if c == nil || c.loopWin == nil {
		return time.Time{}, false, nil
	}
	until, active := c.loopWin.Cooldown(now)
	return until, active, nil
}

// ClearLoop implements budget.LoopStore. It reports true when the window held something that
// mattered at the client's latest observed request (entries within the window, or a
// cooldown running then); Redis reports whether the window key still existed.
func (m *Store) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	if err := budget.ValidateClearLoop(clientID); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: clear loop: %w", budget.ErrUnavailable, err)
	}
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	if c == nil || c.loopWin == nil {
		return false, nil
	}
	had := !c.loopWin.Idle(time.UnixMilli(c.loopSeen), c.loopCfg)
	c.loopWin = nil
	return had, nil
}
