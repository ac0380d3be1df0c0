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

// Byte flags of the tokenizer.
const (
	fWord  = 1 << iota // part of a word: letters, digits, '_', bytes >= 0x80
	fJoin              // '-', ':', '.', '/': ends a word, may join a numeric group
	fDigit             // 0-9
	fAlpha             // ASCII letter
	fHex               // 0-9, a-f, A-F
	fUpper             // A-Z
)

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
		if byteFlags[c]&fUpper != 0 {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
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
	start, end     int
	digits, alphas int
	hex            bool
	hash           uint64 // hashLower of the span
}

// sketcher accumulates the parity sketch of the tokens of several texts.
type sketcher struct {
	bits    uint64
	size    int    // tokens added, times their weight
	salt    uint64 // mixed into every token: model and item kind
	weight  int    // bits toggled per token: 1 for prose, more for machine output
	counter bool   // the previous word was a counter word
	// inNumber: the previous word belongs to the numeric group being
	// emitted, which has had its volatile token.
	inNumber bool
	group    [maxGroup]word
	n        int
	// onVolatile, when set, is told the span of every volatile word
	// (Excerpt redacts them).
	onVolatile func(start, end int)
	// seen counts occurrences by feature hash (top 12 bits; a collision
	// only renumbers occurrences, identically for identical texts).
	seen [seenSlots]uint8
}

// sketchers recycles sketchers. One is 5 KB (mostly its occurrence table):
// on the stack it grew every stream's goroutine to 16 KB, copied on the way
// up and kept while the stream waits for its answer; allocated per request
// it would be 5 KB of garbage each time.
var sketchers = sync.Pool{New: func() any { return new(sketcher) }}

// newSketcher returns a zeroed sketcher; release gives it back.
func newSketcher() *sketcher {
	k, ok := sketchers.Get().(*sketcher)
	if !ok {
		return new(sketcher)
	}
	*k = sketcher{}
	return k
}

func (k *sketcher) release() {
	k.onVolatile = nil // do not keep the caller's closure alive
	sketchers.Put(k)
}

// token adds one token hash: weight bits, each taken from its own 6 bits of
// one mixed hash (weights are at most 4, so bits 40-63 suffice).
func (k *sketcher) token(h uint64) {
	f := mix(h ^ k.salt)
	slot := f & (seenSlots - 1)
	if occ := k.seen[slot]; occ > 0 {
		f = mix(f + uint64(occ)*volatileToken)
	}
	k.seen[slot]++
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
func (k *sketcher) text(s string) {
	i := 0
	for i < len(s) {
		for i < len(s) && byteFlags[s[i]]&fWord == 0 {
			i++
		}
		if i == len(s) {
			break
		}
		w := word{start: i, hex: true}
		h := uint64(fnvOffset)
		for ; i < len(s); i++ {
			c := s[i]
			f := byteFlags[c]
			if f&fWord == 0 {
				break
			}
			switch {
			case f&fDigit != 0:
				w.digits++
			case f&fUpper != 0:
				c += 'a' - 'A'
				w.alphas++
			case f&fAlpha != 0:
				w.alphas++
			}
			w.hex = w.hex && f&fHex != 0
			h = (h ^ uint64(c)) * fnvPrime
		}
		w.end, w.hash = i, h
		joined := i+1 < len(s) && byteFlags[s[i]]&fJoin != 0 && byteFlags[s[i+1]]&fWord != 0
		if !joined && k.n == 0 { // most words stand alone
			k.emit(s, &w, 0)
			continue
		}
		k.group[k.n] = w
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
		if k.group[i].digits > 0 {
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
	inNumber := numbers >= 2 && (w.digits > 0 || (w.hex && len(text) >= 4))
	switch {
	case inNumber:
		if !k.inNumber {
			k.token(volatileToken)
		}
		k.masked(w)
	case w.digits == 0:
		k.token(w.hash)
		k.counter = isCounter(w.hash)
		k.inNumber = false
		return
	case k.counter || volatileWord(text, w):
		k.token(volatileToken)
		k.masked(w)
	default:
		k.token(w.hash)
	}
	k.counter, k.inNumber = false, inNumber
}

func (k *sketcher) masked(w *word) {
	if k.onVolatile != nil {
		k.onVolatile(w.start, w.end)
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
	case w.alphas == 0 && w.digits == n:
		return n >= 4
	case n >= 8 && w.alphas > 0:
		return true
	case w.hex && n >= 6:
		return true
	case w.alphas > 0 && text[0] >= '0' && text[0] <= '9':
		for i := 0; i < n; i++ {
			if c := text[i] | 0x20; byteFlags[text[i]]&fAlpha != 0 && !strings.ContainsRune("smhdunkgbxtr", rune(c)) {
				return false
			}
		}
		return true
	}
	return false
}

// distance is the number of buckets in which two sketches differ.
func distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }
