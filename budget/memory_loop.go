package budget

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/proxide/proxide/loop"
)

var _ LoopStore = (*Memory)(nil)

// memLoops is the all-clients event listing of Memory: the newest MaxLoopEvents events in
// listing order reversed (oldest first), so appending is the common case.
type memLoops struct {
	keys    []loopKey
	expires int64 // unix ms: LoopEventTTL after the latest event
}

// older is the ascending order of the event slices (the reverse of the listing order).
func older(a, b loopKey) bool { return b.before(a) }

// insertKey inserts k into the ascending slice ks, keeping at most max of the newest.
func insertKey(ks []loopKey, k loopKey, max int) []loopKey {
	i := sort.Search(len(ks), func(i int) bool { return !older(ks[i], k) })
	if i < len(ks) && ks[i] == k {
		return ks // the same event again (a ZADD of an existing member)
	}
	ks = slices.Insert(ks, i, k)
	if len(ks) > max {
		// Re-slicing keeps the array; append copies only the live part when it grows, so
		// the memory stays about twice the cap.
		ks = ks[len(ks)-max:]
	}
	return ks
}

// observeLoop runs c's window on the request's LoopCheck and records a new loop's event.
// Called under the client's shard lock.
func (m *Memory) observeLoop(c *memClient, r ReserveRequest, now int64) loop.Verdict {
	if c.loopWin == nil {
		c.loopWin = &loop.Window{}
	}
	v := c.loopWin.Observe(r.Now, r.Loop.Sig, r.Loop.Config)
	c.loopCfg, c.loopSeen = r.Loop.Config, now
	if v.Loop && !v.Cooldown {
		k := loopKey{at: now, member: loopMember(r.ClientID, loopEntryHead(now, v)+loopEntryTail(r.Loop))}
		c.events = insertKey(c.events, k, MaxClientLoopEvents)
		c.eventsExp = max(c.eventsExp, now+LoopEventTTL.Milliseconds())
		m.loopMu.Lock()
		m.loops.keys = insertKey(m.loops.keys, k, MaxLoopEvents)
		m.loops.expires = max(m.loops.expires, now+LoopEventTTL.Milliseconds())
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

// pruneLoops drops the all-clients listing LoopEventTTL after its latest event, like the
// Redis zset's expiry.
func (m *Memory) pruneLoops(now int64) {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.loops.expires <= now {
		m.loops = memLoops{}
	}
}

// LoopEvents implements LoopStore.
func (m *Memory) LoopEvents(ctx context.Context, q LoopQuery) (LoopPage, error) {
	lq, err := q.validate()
	if err != nil {
		return LoopPage{}, err
	}
	if err := ctx.Err(); err != nil {
		return LoopPage{}, fmt.Errorf("%w: loop events: %w", ErrUnavailable, err)
	}
	var keys []loopKey
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
	return lq.page(keys)
}

// pageKeys returns up to Limit+1 keys of the ascending slice ks after the query's cursor,
// in listing order (newest first).
func pageKeys(ks []loopKey, q loopQuery) []loopKey {
	end := len(ks)
	if q.after != nil {
		end = sort.Search(len(ks), func(i int) bool { return !older(ks[i], *q.after) })
	}
	out := make([]loopKey, 0, min(end, q.Limit+1))
	for i := end - 1; i >= 0 && len(out) <= q.Limit; i-- {
		out = append(out, ks[i])
	}
	return out
}

// LoopState implements LoopStore.
func (m *Memory) LoopState(ctx context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	if err := validateLoopState(clientID, now); err != nil {
		return time.Time{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, fmt.Errorf("%w: loop state: %w", ErrUnavailable, err)
	}
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	if c == nil || c.loopWin == nil {
		return time.Time{}, false, nil
	}
	until, active := c.loopWin.Cooldown(now)
	return until, active, nil
}

// ClearLoop implements LoopStore. It reports true when the window held something that
// mattered at the client's latest observed request (entries within the window, or a
// cooldown running then); Redis reports whether the window key still existed.
func (m *Memory) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	if err := validateClearLoop(clientID); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: clear loop: %w", ErrUnavailable, err)
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
