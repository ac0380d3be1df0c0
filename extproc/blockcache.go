package extproc

import (
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/loop"
)

// blockCache remembers clients that are certain to be refused — their
// *settled* spend already exceeds a limit, or they are in a loop cooldown — so
// their next requests are answered at the request headers without a ledger
// round trip. Entries live at most BlockCacheTTL (so a limit raised or a
// cooldown cleared on another replica takes effect within that time) and never
// past the period's or the cooldown's end.
type blockCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]blockEntry
}

type blockEntry struct {
	refusal refusal
	until   time.Time
}

// refusal is why a client is refused: a budget (exceeded) or a loop (loop,
// detected over window — kept so a cached refusal needs no rule lookup).
type refusal struct {
	exceeded *budget.Exceeded
	loop     *loop.Verdict
	window   time.Duration
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, entries: make(map[string]blockEntry)}
}

func (c *blockCache) get(clientID string, now time.Time) (refusal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[clientID]
	if !ok {
		return refusal{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, clientID)
		return refusal{}, false
	}
	return e.refusal, true
}

func (c *blockCache) put(clientID string, r refusal, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// A flood of distinct blocked clients: start over rather than grow;
		// the ledger still refuses them, only one round trip slower.
		clear(c.entries)
	}
	c.entries[clientID] = blockEntry{refusal: r, until: until}
}

func (c *blockCache) forget(clientID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, clientID)
}

func (c *blockCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
