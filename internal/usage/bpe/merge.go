package bpe

import (
	"math"
	"sync"
)

// Byte-pair merging as tiktoken does it: start from single bytes; while some
// two adjacent parts join into a token, join the pair whose token has the
// lowest rank, the leftmost one on a tie. The result is a function of the
// piece alone, so any algorithm that always picks that same pair is exact:
// short pieces rescan an array on the stack (what tiktoken does); long ones
// keep the candidate pairs in a heap keyed by (rank, position), so a piece
// of n bytes costs O(n log n) instead of O(n²).

// smallPiece is the longest piece merged on the stack; longer ones (CJK
// runs, base64, long identifiers) use the heap, faster from about this
// length on (BenchmarkCount/cjk).
const smallPiece = 24

// maxPooled bounds the pieces whose buffers are kept for reuse, so that one
// huge piece does not pin its buffers.
const maxPooled = 1 << 16

// tokens returns the number of tokens piece encodes to and, when ids is not
// nil, appends their ids to it.
func (e *Encoding) tokens(piece string, ids *[]int) int {
	if len(piece) == 1 && ids == nil {
		return 1 // every byte is a token
	}
	if r := e.ranks.lookup(piece); r != noRank { // most words
		if ids != nil {
			*ids = append(*ids, int(r))
		}
		return 1
	}
	if len(piece) <= smallPiece {
		return e.mergeSmall(piece, ids)
	}
	return e.mergeLarge(piece, ids)
}

type part struct {
	start int32
	rank  uint32 // of this part joined with the next one
}

func (e *Encoding) mergeSmall(piece string, ids *[]int) int {
	var buf [smallPiece + 1]part
	parts := buf[:len(piece)+1]
	for i := range parts {
		parts[i] = part{int32(i), noRank}
	}
	for i := 0; i+1 < len(piece); i++ {
		parts[i].rank = e.ranks.pair(piece[i], piece[i+1])
	}
	for {
		best, at := noRank, -1
		for i, p := range parts[:len(parts)-1] {
			if p.rank < best {
				best, at = p.rank, i
			}
		}
		if at < 0 {
			break
		}
		// parts[at] absorbs parts[at+1]; re-rank it and its left neighbour
		if at+3 < len(parts) {
			parts[at].rank = e.ranks.lookup(piece[parts[at].start:parts[at+3].start])
		} else {
			parts[at].rank = noRank
		}
		if at > 0 {
			parts[at-1].rank = e.ranks.lookup(piece[parts[at-1].start:parts[at+2].start])
		}
		parts = append(parts[:at+1], parts[at+2:]...)
	}
	if ids != nil {
		for i := range len(parts) - 1 {
			*ids = append(*ids, int(e.ranks.lookup(piece[parts[i].start:parts[i+1].start])))
		}
	}
	return len(parts) - 1
}

// scratch holds mergeLarge's buffers between calls. Positions are uint32,
// so that a heap entry packs a rank and a position into one word.
type scratch struct {
	next, prev []uint32 // neighbours of the part starting at each byte
	rank       []uint32 // of the part starting here joined with the next; noRank once absorbed
	heap       []uint64 // rank<<32 | start, possibly stale
}

// largeLen returns n, a piece's length, as mergeLarge's position type, and
// whether it fits: up to math.MaxInt32, a bound that is a constant int on
// every platform.
func largeLen(n int) (uint32, bool) {
	if n < 0 || n > math.MaxInt32 {
		return 0, false
	}
	return uint32(n), true
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (e *Encoding) mergeLarge(piece string, ids *[]int) int {
	n, ok := largeLen(len(piece))
	if !ok {
		// 2 GiB of letters, punctuation or spaces in one piece, far beyond
		// any request body: count a token per byte, never below the true
		// count (as usage.CountTokens does should the tables fail to load).
		if ids != nil { // only tests ask for ids
			panic("bpe: piece too long to encode")
		}
		return len(piece)
	}
	sc := scratchPool.Get().(*scratch)
	sc.next = grow(sc.next, len(piece))
	sc.prev = grow(sc.prev, len(piece))
	sc.rank = grow(sc.rank, len(piece))
	sc.heap = sc.heap[:0]
	next, prev, rank := sc.next, sc.prev, sc.rank
	for i := range n {
		next[i], prev[i], rank[i] = i+1, i-1, noRank // prev[0] wraps, never read
		if i+1 < n {
			if r := e.ranks.pair(piece[i], piece[i+1]); r != noRank {
				rank[i] = r
				sc.push(uint64(r)<<32 | uint64(i))
			}
		}
	}
	count := len(piece)
	for len(sc.heap) > 0 {
		top := sc.pop()
		r, i := uint32(top>>32), uint32(top&math.MaxUint32)
		// Stale unless the pair is still the same: a part's pair only ever
		// grows, and distinct byte strings have distinct ranks.
		if rank[i] != r {
			continue
		}
		j := next[i]
		k := next[j]
		rank[j] = noRank
		next[i] = k
		if k < n {
			prev[k] = i
		}
		count--
		rank[i] = noRank
		if k < n {
			if r := e.ranks.lookup(piece[i:next[k]]); r != noRank {
				rank[i] = r
				sc.push(uint64(r)<<32 | uint64(i))
			}
		}
		if i > 0 {
			h := prev[i]
			rank[h] = e.ranks.lookup(piece[h:k])
			if rank[h] != noRank {
				sc.push(uint64(rank[h])<<32 | uint64(h))
			}
		}
	}
	if ids != nil {
		for i := uint32(0); i < n; i = next[i] {
			*ids = append(*ids, int(e.ranks.lookup(piece[i:next[i]])))
		}
	}
	if len(piece) <= maxPooled {
		scratchPool.Put(sc)
	}
	return count
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// push and pop keep sc.heap a binary min-heap.
func (sc *scratch) push(v uint64) {
	sc.heap = append(sc.heap, v)
	h := sc.heap
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent] <= h[i] {
			break
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

func (sc *scratch) pop() uint64 {
	h := sc.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		if r := l + 1; r < len(h) && h[r] < h[l] {
			l = r
		}
		if h[i] <= h[l] {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
	sc.heap = h
	return top
}
