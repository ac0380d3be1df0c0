package extproc

import (
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
)

// blockCache remembers clients whose *settled* spend already exceeds a limit,
// so their next requests get the 402 at the request headers without a ledger
// round trip. Entries live at most BlockCacheTTL (so a limit raised on another
// replica takes effect within that time) and never past the period's end.
type blockCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]blockEntry
}

type blockEntry struct {
	exceeded budget.Exceeded
	until    time.Time
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, entries: make(map[string]blockEntry)}
}

func (c *blockCache) get(clientID string, now time.Time) (budget.Exceeded, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[clientID]
	if !ok {
		return budget.Exceeded{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, clientID)
		return budget.Exceeded{}, false
	}
	return e.exceeded, true
}

func (c *blockCache) put(clientID string, ex budget.Exceeded, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// A flood of distinct blocked clients: start over rather than grow;
		// the ledger still refuses them, only one round trip slower.
		clear(c.entries)
	}
	c.entries[clientID] = blockEntry{exceeded: ex, until: until}
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
