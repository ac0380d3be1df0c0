package usage

import (
	"hash/maphash"
	"sync/atomic"
)

// Agents resend their whole conversation on every turn, so most of a
// prompt's text was counted a turn ago. countCache remembers the token
// counts of long texts by a keyed hash of their bytes, and a request pays
// for counting only what is new in it: hashing runs at about 0.3 ns a byte,
// counting at 5–25.
//
// Each slot is one atomic word: the top countTagBits bits of the hash (the
// slot index is taken from other bits) and the count. A hit compares
// countTagBits+countIndexBits = 58 bits of a hash keyed with a random seed
// per process, so no client can make two texts collide on purpose, and a
// chance collision (2^-58 per lookup of an absent text) would only move a
// reservation, never a charge: charges come from OpenAI's usage. Concurrent
// writers may overwrite each other's slots; a reader sees a whole word or
// the previous one, so it never reads a count under the wrong tag.
type countCache struct {
	seed  maphash.Seed
	slots [1 << countIndexBits]atomic.Uint64
}

const (
	// countIndexBits sizes the cache: 16,384 texts (128 KB).
	countIndexBits = 14
	// countBits holds counts up to 1,048,575 tokens; larger texts are not
	// cached (they exceed any default prompt bound anyway).
	countBits    = 20
	countTagBits = 64 - countBits
	maxCached    = 1<<countBits - 1
	// minCachedBytes: shorter texts cost less to count than a cache miss
	// costs in evictions of the long texts the cache is for.
	minCachedBytes = 256
)

// key returns the hash of text under one encoding's key: the same
// text counts differently in o200k and cl100k.
func (c *countCache) key(encoding uint64, text string) uint64 {
	return maphash.String(c.seed, text) ^ encoding*0x9e3779b97f4a7c15
}

// get returns the cached count of the text of hash h.
func (c *countCache) get(h uint64) (int, bool) {
	v := c.slots[h&(1<<countIndexBits-1)].Load()
	if v == 0 || v>>countBits != h>>countBits {
		return 0, false
	}
	return int(v & maxCached), true
}

// put remembers that the text of hash h counts n tokens.
func (c *countCache) put(h uint64, n int) {
	if n < 0 || n > maxCached {
		return
	}
	c.slots[h&(1<<countIndexBits-1)].Store(h>>countBits<<countBits | uint64(n))
}
