package bpe

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// noRank marks a byte string that is not a token.
const noRank = ^uint32(0)

// ranks maps each token's bytes to its rank (= token id, = merge priority).
// It is a hash table in the manner of Swiss tables, without pointers so
// that the garbage collector never scans its 200,000 entries (a
// map[string]int costs an object and a scanned pointer per token). Slots
// come in groups of 8 with one control byte each, 0 when empty, else 0x80
// and 7 bits of the key's hash: a lookup reads the group's 8 control bytes
// as one word, and most lookups of a non-token, the common case while
// merging, end there without touching a slot. A token of up to 8 bytes,
// most of them, lives in its slot; longer ones keep their tail in an arena.
type ranks struct {
	ctrl  []uint64 // per group
	slots []slot   // 8 per group
	mask  uint64   // of group indices
	arena []byte
	seed  uint64
	pairs []uint32 // rank of each two-byte string, the first merges' lookups
	n     int
	long  int // length of the longest token
}

// slot: key is pack(token); meta is len<<48 | off<<24 | rank, the token's
// bytes past the 8th being arena[off:off+len-8].
type slot struct {
	key, meta uint64
}

const (
	maxTokenLen = 255     // len has 8 bits
	maxArena    = 1 << 24 // off has 24 bits
	maxRank     = 1 << 24 // rank has 24 bits

	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// parseRanks reads a .tiktoken file: one "base64(token) rank" per line.
func parseRanks(data []byte) (*ranks, error) {
	lines := bytes.Count(data, []byte{'\n'}) + 1
	groups := uint64(1) << bits.Len(uint(lines/7)) // at most 7 of 8 slots used
	// The seed is secret and new in every process, like the seeds of Go's
	// own maps: the table is fixed, but lookups hash attacker-controlled
	// text, and with a known seed one could pick text whose every lookup
	// starts at the longest run of full groups (some 20 groups; 1.9 on
	// average).
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("hash seed: %w", err)
	}
	rk := &ranks{
		ctrl:  make([]uint64, groups),
		slots: make([]slot, 8*groups),
		mask:  groups - 1,
		seed:  binary.LittleEndian.Uint64(seed[:]),
		pairs: make([]uint32, 1<<16),
	}
	for i := range rk.pairs {
		rk.pairs[i] = noRank
	}
	// Decode every token into one string first: keys are then slices of it,
	// not an allocation each.
	all := make([]byte, 0, base64.StdEncoding.DecodedLen(len(data)))
	toks := make([]struct{ end, rank uint32 }, 0, lines)
	for num := 1; len(data) > 0; num++ {
		line, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(line) == 0 {
			continue
		}
		b64, rankText, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			return nil, fmt.Errorf("line %d: no rank", num)
		}
		rank, err := strconv.ParseUint(string(rankText), 10, 32)
		if err != nil || rank >= maxRank {
			return nil, fmt.Errorf("line %d: bad rank %q", num, rankText)
		}
		all, err = base64.StdEncoding.AppendDecode(all, b64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", num, err)
		}
		end := len(all)
		if end > math.MaxInt32 {
			return nil, fmt.Errorf("line %d: tokens exceed 2 GiB", num)
		}
		toks = append(toks, struct{ end, rank uint32 }{uint32(end), uint32(rank)})
	}
	text, start := string(all), 0
	for _, t := range toks {
		if err := rk.insert(text[start:t.end], t.rank); err != nil {
			return nil, err
		}
		start = int(t.end)
	}
	if rk.n == 0 {
		return nil, errors.New("no tokens")
	}
	if rk.n > 7*len(rk.ctrl) { // keep an empty slot in most groups
		return nil, fmt.Errorf("%d tokens overfill the table", rk.n)
	}
	return rk, nil
}

func (rk *ranks) insert(key string, rank uint32) error {
	if key == "" || len(key) > maxTokenLen || len(rk.arena) >= maxArena {
		return fmt.Errorf("token %q does not fit", key)
	}
	if rk.lookup(key) != noRank {
		return fmt.Errorf("duplicate token %q", key)
	}
	rk.long = max(rk.long, len(key))
	if len(key) == 2 {
		rk.pairs[int(key[0])<<8|int(key[1])] = rank
	}
	off := len(rk.arena)
	if len(key) > 8 {
		rk.arena = append(rk.arena, key[8:]...)
	}
	h := rk.hash(pack(key), key)
	for g := h & rk.mask; ; g = (g + 1) & rk.mask {
		empty := emptyBytes(rk.ctrl[g])
		if empty == 0 {
			continue
		}
		j := firstByte(empty)
		rk.ctrl[g] |= (0x80 | h>>57) << (8 * j)
		rk.slots[8*g+j] = slot{pack(key), uint64(len(key))<<48 | uint64(off)<<24 | uint64(rank)}
		rk.n++
		return nil
	}
}

// lookup returns key's rank, or noRank.
func (rk *ranks) lookup(key string) uint32 {
	if len(key) > rk.long {
		return noRank
	}
	k := pack(key)
	h := rk.hash(k, key)
	tag := (0x80 | h>>57) * lsb
	for g := h & rk.mask; ; g = (g + 1) & rk.mask {
		c := rk.ctrl[g]
		for m := zeroBytes(c ^ tag); m != 0; m &= m - 1 {
			s := &rk.slots[8*g+firstByte(m)]
			if s.key != k || int(s.meta>>48) != len(key) {
				continue
			}
			if len(key) > 8 {
				off := int(s.meta >> 24 & 0xffffff)
				if string(rk.arena[off:off+len(key)-8]) != key[8:] {
					continue
				}
			}
			return uint32(s.meta & 0xffffff)
		}
		if emptyBytes(c) != 0 {
			return noRank
		}
	}
}

// zeroBytes has the top bit set in (at least) every zero byte of x; a byte
// above a zero one may be flagged too, which the key comparison weeds out.
func zeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }

// emptyBytes has the top bit set in exactly the empty (zero) control bytes
// of c, whose full bytes all have their top bit set.
func emptyBytes(c uint64) uint64 { return ^c & msb }

// firstByte returns the index, 0 to 7, of the lowest byte of m with a bit
// set; m is not 0.
func firstByte(m uint64) uint64 {
	tz := bits.TrailingZeros64(m)
	if tz < 0 { // never: the check shows gosec the conversion is lossless,
		return 0 // and the compiler, which knows it, drops it
	}
	return uint64(tz) / 8
}

// pair returns the rank of the two bytes a, b.
func (rk *ranks) pair(a, b byte) uint32 {
	return rk.pairs[int(a)<<8|int(b)]
}

// pack folds key's bytes into a word that, with its length, identifies a
// key of up to 8 bytes; of a longer one it holds the first 8 bytes.
func pack(key string) uint64 {
	switch n := len(key); {
	case n >= 8:
		return uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24 |
			uint64(key[4])<<32 | uint64(key[5])<<40 | uint64(key[6])<<48 | uint64(key[7])<<56
	case n >= 4: // first and last four, overlapping
		return uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24 |
			uint64(key[n-4])<<32 | uint64(key[n-3])<<40 | uint64(key[n-2])<<48 | uint64(key[n-1])<<56
	case n > 0:
		return uint64(key[0]) | uint64(key[n>>1])<<8 | uint64(key[n-1])<<16
	}
	return 0
}

// hash hashes key, whose pack is k: its length and first 8 bytes, then the
// rest 8 at a time, through a 64-bit finalizer.
func (rk *ranks) hash(k uint64, key string) uint64 {
	h := k ^ rk.seed ^ uint64(len(key))<<59
	for rest := key[min(len(key), 8):]; rest != ""; rest = rest[min(len(rest), 8):] {
		h = mix(h) ^ pack(rest)
	}
	return mix(h)
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
