package extproc

import "sync"

// contextCache remembers, per client, the context sizes this replica settled
// (stored responses, conversations), so the next turn of a conversation served
// by the same replica needs no ledger round trip to be estimated. The ledger
// holds the same values for the other replicas.
type contextCache struct {
	mu      sync.Mutex
	max     int
	entries map[contextKey]int64
}

type contextKey struct{ client, key string }

func newContextCache(limit int) *contextCache {
	return &contextCache{max: limit, entries: make(map[contextKey]int64)}
}

func (c *contextCache) get(client, key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.entries[contextKey{client, key}]
	return n, ok
}

func (c *contextCache) put(client, key string, tokens int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // a flood of conversations: start over, the ledger still knows
	}
	c.entries[contextKey{client, key}] = tokens
}
