package usage

import (
	"hash/maphash"
	"sync/atomic"
)

// CountCache remembers the token counts of long texts. Agents resend their
// whole conversation on every turn, so most of a prompt's text was counted a
// turn ago; with a CountCache in Options, ParseRequest pays for counting only
// what is new: hashing runs at about 0.3 ns a byte, counting at 5–25. One
// cache serves every request of a process (it is safe for concurrent use).
//
// Each slot is one atomic word: the top countTagBits bits of the hash (the
// slot index is taken from other bits) and the count. A hit compares
// countTagBits+countIndexBits = 58 bits of a hash keyed with a random seed
// per process, so no client can make two texts collide on purpose, and a
// chance collision (2^-58 per lookup of an absent text) would only move a
// reservation, never a charge: charges come from OpenAI's usage. Concurrent
// writers may overwrite each other's slots; a reader sees a whole word or
// the previous one, so it never reads a count under the wrong tag.
type CountCache struct {
	seed  maphash.Seed
	slots [1 << countIndexBits]atomic.Uint64
}

// NewCountCache returns an empty cache keyed with a fresh random seed.
func NewCountCache() *CountCache { return &CountCache{seed: maphash.MakeSeed()} }

// Count is CountTokens, answered from the cache for texts counted before.
// A nil cache counts every time.
func (c *CountCache) Count(model, text string) int64 {
	if c == nil || len(text) < minCachedBytes {
		return CountTokens(model, text)
	}
	name := encodingName(model)
	enc, err := encodingNamed(name)
	if err != nil {
		return int64(len(text))
	}
	var id uint64 = 1
	if name == encCL100k {
		id = 2
	}
	h := c.key(id, text)
	if n, ok := c.get(h); ok {
		return int64(n)
	}
	n := enc.Count(text)
	c.put(h, n)
	return int64(n)
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
func (c *CountCache) key(encoding uint64, text string) uint64 {
	return maphash.String(c.seed, text) ^ encoding*0x9e3779b97f4a7c15
}

// get returns the cached count of the text of hash h.
func (c *CountCache) get(h uint64) (int, bool) {
	v := c.slots[h&(1<<countIndexBits-1)].Load()
	if v == 0 || v>>countBits != h>>countBits {
		return 0, false
	}
	return int(v & maxCached), true
}

// put remembers that the text of hash h counts n tokens.
func (c *CountCache) put(h uint64, n int) {
	if n < 0 || n > maxCached {
		return
	}
	c.slots[h&(1<<countIndexBits-1)].Store(h>>countBits<<countBits | uint64(n))
}
