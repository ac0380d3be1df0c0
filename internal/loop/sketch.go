package loop

import (
	"math/bits"
	"strings"
	"sync"
)

// The sketch: text is split into words, volatile words are replaced by one
// placeholder token, and every token toggles one bit of a 64-bit parity
// sketch (bit = top 6 bits of the token's salted hash). The k-th occurrence of
// a token is a feature of its own, so the sketch is that of a multiset and a
// repeated word does not cancel itself. The XOR of two sketches is the sketch
// of the features in which the two texts differ, so its popcount counts the
// differing tokens up to collisions — exactly while only a few differ,
// saturating near 32 when the texts are unrelated. See doc.go for why this
// beats SimHash and MinHash here.

// Byte flags of the tokenizer. A word's flags are ORed and ANDed over its
// bytes as it is read, which classifies it without counting: any digit, all
// digits, all hex, any letter but a unit letter.
const (
	fWord    = 1 << iota // part of a word: letters, digits, '_', bytes >= 0x80
	fJoin                // '-', ':', '.', '/': ends a word, may join a numeric group
	fDigit               // 0-9
	fAlpha               // ASCII letter
	fHex                 // 0-9, a-f, A-F
	fUpper               // A-Z; equal to 'a'-'A', so c+f&fUpper lowers c
	fNotUnit             // a letter that is no unit letter (see volatileWord)
)

// c+f&fUpper lowers c only while fUpper is 'a'-'A': these stop compiling
// otherwise.
const (
	_ uint = fUpper - ('a' - 'A')
	_ uint = ('a' - 'A') - fUpper
)

// unitLetters may follow a number in a measure or an ordinal: "250ms", "3rd".
const unitLetters = "smhdunkgbxtr"

// byteFlags is the read-only byte table of the tokenizer.
var byteFlags = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = fWord | fDigit | fHex
		case c >= 'a' && c <= 'z':
			t[c] = fWord | fAlpha
		case c >= 'A' && c <= 'Z':
			t[c] = fWord | fAlpha | fUpper
		case c == '_' || c >= 0x80:
			t[c] = fWord
		case c == '-' || c == ':' || c == '.' || c == '/':
			t[c] = fJoin
		}
		if (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			t[c] |= fHex
		}
		if t[c]&fAlpha != 0 && !strings.ContainsRune(unitLetters, rune(c|0x20)) {
			t[c] |= fNotUnit
		}
	}
	return t
}()

// counterWords precede a volatile counter: "Attempt 7", "retry #3", "(try 2/5)".
var counterWords = [...]string{
	"attempt", "attempts", "retry", "retries", "retrying", "try", "tries", "trying",
	"iteration", "iter", "round", "cycle", "loop", "turn", "step", "request", "req",
	"run", "tick", "poll", "pass", "time", "times", "no", "num", "number", "count", "counter",
}

// counterSet holds the FNV hashes of counterWords in an open-addressed table.
var counterSet = func() (t [64]uint64) {
	for _, w := range counterWords {
		h := hashLower(w)
		i := h & 63
		for t[i] != 0 {
			i = (i + 1) & 63
		}
		t[i] = h
	}
	return t
}()

func isCounter(h uint64) bool {
	for i := h & 63; counterSet[i] != 0; i = (i + 1) & 63 {
		if counterSet[i] == h {
			return true
		}
	}
	return false
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// volatileToken stands for every number, id or timestamp removed.
	volatileToken = 0x9e3779b97f4a7c15
)

// hashLower is FNV-1a of s with ASCII letters lowered.
func hashLower(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		c := s[i]
		h = (h ^ uint64(c+byteFlags[c]&fUpper)) * fnvPrime
	}
	return h
}

// mix is the splitmix64 finaliser: it spreads a hash over all 64 bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// seenSlots sizes the occurrence table of a sketcher.
const seenSlots = 1 << 12

// maxGroup bounds the words of one numeric group held at once.
const maxGroup = 16

// word is a span of one text.
type word struct {
	start, end int
	hash       uint64 // hashLower of the span
	some, all  uint8  // the OR and the AND of the flags of its bytes
}

// sketcher accumulates the parity sketch of the tokens of several texts; in
// redaction mode (Excerpt) it writes the texts with their volatile words
// masked instead.
type sketcher struct {
	bits   uint64
	size   int    // tokens added, times their weight
	salt   uint64 // mixed into every token: model and item kind
	weight int    // bits toggled per token: 1 for prose, more for machine output
	// plain: the previous word had no digits, and plainHash is its hash; a
	// number after a counter word ("Attempt 7") is volatile. Asked only
	// when a number comes, rather than looked up after every word.
	plain     bool
	plainHash uint64
	// inNumber: the previous word belongs to the numeric group being
	// emitted, which has had its volatile token.
	inNumber bool
	n        int
	group    [maxGroup]word
	red      redaction
	// seen counts occurrences by feature hash (top 12 bits; a collision
	// only renumbers occurrences, identically for identical texts).
	seen [seenSlots]uint8
}

// sketchers recycles sketchers. One is 5 KB (mostly its occurrence table):
// on the stack it grew every stream's goroutine to 16 KB, copied on the way
// up and kept while the stream waits for its answer; allocated per request
// it would be 5 KB of garbage each time.
var sketchers = sync.Pool{New: func() any { return new(sketcher) }}

// newSketcher returns an empty sketcher; release gives it back.
func newSketcher() *sketcher {
	k := pooledSketcher()
	clear(k.seen[:])
	return k
}

// pooledSketcher returns a sketcher whose occurrence table is left as it
// was: redaction never reads it, and clearing it is most of a reset.
func pooledSketcher() *sketcher {
	k, ok := sketchers.Get().(*sketcher)
	if !ok {
		return new(sketcher)
	}
	k.bits, k.size, k.salt, k.weight = 0, 0, 0, 0
	k.plain, k.plainHash, k.inNumber, k.n = false, 0, false, 0
	k.red = redaction{buf: k.red.buf}
	return k
}

func (k *sketcher) release() {
	k.red.dst = nil // the caller's bytes
	sketchers.Put(k)
}

// token adds one token hash: weight bits, each taken from its own 6 bits of
// one mixed hash (weights are at most 4, so bits 40-63 suffice).
func (k *sketcher) token(h uint64) {
	if k.red.on {
		return
	}
	f := mix(h ^ k.salt)
	slot := f & (seenSlots - 1)
	occ := k.seen[slot]
	k.seen[slot] = occ + 1
	if occ > 0 {
		f = mix(f + uint64(occ)*volatileToken)
	}
	for i := range k.weight {
		k.bits ^= 1 << ((f >> (58 - 6*uint(i))) & 63)
	}
	k.size += k.weight
}

// text tokenises s. Words are maximal runs of word bytes. A numeric group is a
// run of words joined by single '-', ':', '.' or '/' (a date, time, version,
// UUID, IP, path of numbers); when two or more of its words hold digits, all
// of those are volatile, and so are its hex words of 4+ letters (the "afec"
// a random UUID sometimes has).
//
// It is the hot loop of Compute: one table load per byte, no branch but the
// word's end, and words without digits standing alone (most of them) are
// sketched on the spot.
func (k *sketcher) text(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		f := byteFlags[c]
		if f&fWord == 0 {
			continue
		}
		start, anyF, allF := i, f, f
		h := (uint64(fnvOffset) ^ uint64(c+f&fUpper)) * fnvPrime
		for i++; i < len(s); i++ {
			c = s[i]
			f = byteFlags[c]
			if f&fWord == 0 {
				break
			}
			anyF |= f
			allF &= f
			h = (h ^ uint64(c+f&fUpper)) * fnvPrime
		}
		// f is the flags of s[i] when i < len(s); the loop's i++ then steps
		// over that byte, which is no word byte.
		joined := i+1 < len(s) && f&fJoin != 0 && byteFlags[s[i+1]]&fWord != 0
		if !joined && k.n == 0 { // most words stand alone
			if anyF&fDigit == 0 {
				k.token(h)
				k.plain, k.plainHash, k.inNumber = true, h, false
				continue
			}
			k.emit(s, &word{start: start, end: i, hash: h, some: anyF, all: allF}, 0)
			continue
		}
		k.group[k.n] = word{start: start, end: i, hash: h, some: anyF, all: allF}
		k.n++
		if !joined || k.n == maxGroup {
			k.flush(s)
		}
	}
	k.flush(s)
}

// flush emits the words of the pending group.
func (k *sketcher) flush(s string) {
	numbers := 0
	for i := range k.group[:k.n] {
		if k.group[i].some&fDigit != 0 {
			numbers++
		}
	}
	for i := range k.group[:k.n] {
		k.emit(s, &k.group[i], numbers)
	}
	k.n, k.inNumber = 0, false
}

// emit adds one word of a group with numbers words holding digits. A numeric
// group stands for one volatile token however many numbers it has, so
// "09:00:00Z" and "17:45:12.123Z" are alike.
func (k *sketcher) emit(s string, w *word, numbers int) {
	text := s[w.start:w.end]
	inNumber := numbers >= 2 && (w.some&fDigit != 0 || (w.all&fHex != 0 && len(text) >= 4))
	switch {
	case inNumber:
		if !k.inNumber {
			k.token(volatileToken)
		}
		k.masked(s, w)
	case w.some&fDigit == 0:
		k.token(w.hash)
		k.plain, k.plainHash, k.inNumber = true, w.hash, false
		return
	case (k.plain && isCounter(k.plainHash)) || volatileWord(text, w):
		k.token(volatileToken)
		k.masked(s, w)
	default:
		k.token(w.hash)
	}
	k.plain, k.inNumber = false, inNumber
}

func (k *sketcher) masked(s string, w *word) {
	if k.red.on {
		k.redactSpan(s, w.start, w.end)
	}
}

// volatileWord reports a word with digits that is an id, a big number, a
// measure or an ordinal rather than content: a number of 4+ digits (years,
// epochs, ports, ids), a letters-and-digits word of 8+ bytes (request ids,
// keys), a hex word of 6+ bytes (hashes), a number with unit letters ("250ms",
// "5m12s", "512mb", "3rd"). Small plain numbers stay: "page 2", "404",
// "3 failed" carry meaning.
func volatileWord(text string, w *word) bool {
	n := len(text)
	switch {
	case w.all&fDigit != 0:
		return n >= 4
	case n >= 8 && w.some&fAlpha != 0:
		return true
	case w.all&fHex != 0 && n >= 6:
		return true
	case w.some&fAlpha != 0 && byteFlags[text[0]]&fDigit != 0:
		return w.some&fNotUnit == 0
	}
	return false
}

// distance is the number of buckets in which two sketches differ.
func distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }
