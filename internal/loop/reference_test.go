package loop

// The reference implementation: Compute and Excerpt as they were before the
// tokenizer was made faster (commit f24b0ab), kept verbatim apart from
// ref-prefixed names, so FuzzEquivalence can hold the new code to the same
// outputs. Signatures and excerpts are a contract (stored windows, recorded
// events, the corpus's evaluation): they must not change for any input.

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/proxide/proxide/internal/usage"
)

func refCompute(r usage.Request) Signature {
	k := refNewSketcher()
	defer k.release()
	model := refMix(refHashLower(r.Model))
	lo, hi, skipProse, keepSystem := refTailRange(r.Tail)
	for i := lo; i < hi; i++ {
		it := &r.Tail[i]
		if !keepSystem && refSkipRole(it.Role) {
			continue
		}
		switch it.Kind {
		case usage.KindCall:
			k.salt, k.weight = model^saltCall, weightMachine
			k.token(refHashLower(it.Name))
		case usage.KindOutput:
			k.salt, k.weight = model^saltOutput, weightMachine
		case usage.KindMedia:
			k.salt, k.weight = model^saltMedia, weightMedia
			k.token(refHashLower(it.Text))
			continue
		default:
			if skipProse && it.Role == "assistant" {
				continue
			}
			k.salt, k.weight = model^saltProse, weightProse
		}
		k.counter = false
		k.text(it.Text)
		if cut := it.Size - len(it.Text) + len(usage.TailCut); it.Size > len(it.Text) {
			k.salt = model ^ saltCut
			k.token(uint64(cut >> 6))
		}
	}
	return Signature{Exact: r.Digest, Sim: k.bits, Size: clampUint16(k.size)}
}

func refTailRange(tail []usage.TailItem) (lo, hi int, skipProse, keepSystem bool) {
	hi = len(tail)
	runs, prevAssistant := 0, false
	lo = hi
	for i := hi - 1; i >= 0; i-- {
		it := &tail[i]
		if refSkipRole(it.Role) {
			if lo == hi {
				continue
			}
			break
		}
		assistant := it.Role == "assistant"
		if lo == hi || assistant != prevAssistant {
			if runs == 2 {
				break
			}
			runs++
			prevAssistant = assistant
		}
		if assistant && it.Kind == usage.KindCall {
			skipProse = true
		}
		lo = i
	}
	if lo == hi {
		return 0, len(tail), false, true
	}
	return lo, hi, skipProse, false
}

func refSkipRole(role string) bool { return role == "system" || role == "developer" }
func refExcerpt(r usage.Request, limit int) string {
	lo, hi, skipProse, keepSystem := refTailRange(r.Tail)
	var b strings.Builder
	for i := lo; i < hi && b.Len() < limit; i++ {
		it := &r.Tail[i]
		if (!keepSystem && refSkipRole(it.Role)) || (skipProse && it.Role == "assistant" && it.Kind != usage.KindCall) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(it.Role + " " + it.Kind)
		if it.Name != "" {
			b.WriteString(" " + it.Name)
		}
		b.WriteString(": ")
		if it.Kind == usage.KindMedia {
			b.WriteString("#")
			continue
		}
		b.WriteString(refRedactPrefix(it.Text, limit-b.Len()))
	}
	return refCut(b.String(), limit)
}

const refExcerptMargin = 64

func refRedactPrefix(s string, room int) string {
	if room <= 0 {
		return ""
	}
	for n := room + 2*refExcerptMargin; ; n *= 2 {
		if n >= len(s) {
			return refRedact(s)
		}
		if r := refRedact(refCut(s, n)); len(r) > room+refExcerptMargin {
			return r
		}
	}
}

func refRedact(s string) string {
	var spans [][2]int
	k := refNewSketcher()
	defer k.release()
	k.weight = weightProse
	k.onVolatile = func(start, end int) {
		if n := len(spans); n > 0 && refJoinedOnly(s[spans[n-1][1]:start]) {
			spans[n-1][1] = end
			return
		}
		spans = append(spans, [2]int{start, end})
	}
	k.text(s)
	var b strings.Builder
	prev := 0
	for _, sp := range spans {
		b.WriteString(s[prev:sp[0]])
		b.WriteByte('#')
		prev = sp[1]
	}
	b.WriteString(s[prev:])
	return strings.Join(strings.Fields(b.String()), " ")
}

func refJoinedOnly(gap string) bool {
	for i := 0; i < len(gap); i++ {
		if refByteFlags[gap[i]]&refFJoin == 0 {
			return false
		}
	}
	return true
}

func refCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const (
	refFWord = 1 << iota
	refFJoin
	refFDigit
	refFAlpha
	refFHex
	refFUpper
)

var refByteFlags = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = refFWord | refFDigit | refFHex
		case c >= 'a' && c <= 'z':
			t[c] = refFWord | refFAlpha
		case c >= 'A' && c <= 'Z':
			t[c] = refFWord | refFAlpha | refFUpper
		case c == '_' || c >= 0x80:
			t[c] = refFWord
		case c == '-' || c == ':' || c == '.' || c == '/':
			t[c] = refFJoin
		}
		if (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			t[c] |= refFHex
		}
	}
	return t
}()

var refCounterWords = [...]string{
	"attempt", "attempts", "retry", "retries", "retrying", "try", "tries", "trying",
	"iteration", "iter", "round", "cycle", "loop", "turn", "step", "request", "req",
	"run", "tick", "poll", "pass", "time", "times", "no", "num", "number", "count", "counter",
}

var refCounterSet = func() (t [64]uint64) {
	for _, w := range refCounterWords {
		h := refHashLower(w)
		i := h & 63
		for t[i] != 0 {
			i = (i + 1) & 63
		}
		t[i] = h
	}
	return t
}()

func refIsCounter(h uint64) bool {
	for i := h & 63; refCounterSet[i] != 0; i = (i + 1) & 63 {
		if refCounterSet[i] == h {
			return true
		}
	}
	return false
}

const (
	refFnvOffset     = 14695981039346656037
	refFnvPrime      = 1099511628211
	refVolatileToken = 0x9e3779b97f4a7c15
)

func refHashLower(s string) uint64 {
	h := uint64(refFnvOffset)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if refByteFlags[c]&refFUpper != 0 {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * refFnvPrime
	}
	return h
}

func refMix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

const refSeenSlots = 1 << 12

const refMaxGroup = 16

type refWord struct {
	start, end     int
	digits, alphas int
	hex            bool
	hash           uint64
}

type refSketcher struct {
	bits       uint64
	size       int
	salt       uint64
	weight     int
	counter    bool
	inNumber   bool
	group      [refMaxGroup]refWord
	n          int
	onVolatile func(start, end int)
	seen       [refSeenSlots]uint8
}

var refSketchers = sync.Pool{New: func() any { return new(refSketcher) }}

func refNewSketcher() *refSketcher {
	k, ok := refSketchers.Get().(*refSketcher)
	if !ok {
		return new(refSketcher)
	}
	*k = refSketcher{}
	return k
}

func (k *refSketcher) release() {
	k.onVolatile = nil
	refSketchers.Put(k)
}

func (k *refSketcher) token(h uint64) {
	f := refMix(h ^ k.salt)
	slot := f & (refSeenSlots - 1)
	if occ := k.seen[slot]; occ > 0 {
		f = refMix(f + uint64(occ)*refVolatileToken)
	}
	k.seen[slot]++
	for i := range k.weight {
		k.bits ^= 1 << ((f >> (58 - 6*uint(i))) & 63)
	}
	k.size += k.weight
}

func (k *refSketcher) text(s string) {
	i := 0
	for i < len(s) {
		for i < len(s) && refByteFlags[s[i]]&refFWord == 0 {
			i++
		}
		if i == len(s) {
			break
		}
		w := refWord{start: i, hex: true}
		h := uint64(refFnvOffset)
		for ; i < len(s); i++ {
			c := s[i]
			f := refByteFlags[c]
			if f&refFWord == 0 {
				break
			}
			switch {
			case f&refFDigit != 0:
				w.digits++
			case f&refFUpper != 0:
				c += 'a' - 'A'
				w.alphas++
			case f&refFAlpha != 0:
				w.alphas++
			}
			w.hex = w.hex && f&refFHex != 0
			h = (h ^ uint64(c)) * refFnvPrime
		}
		w.end, w.hash = i, h
		joined := i+1 < len(s) && refByteFlags[s[i]]&refFJoin != 0 && refByteFlags[s[i+1]]&refFWord != 0
		if !joined && k.n == 0 {
			k.emit(s, &w, 0)
			continue
		}
		k.group[k.n] = w
		k.n++
		if !joined || k.n == refMaxGroup {
			k.flush(s)
		}
	}
	k.flush(s)
}

func (k *refSketcher) flush(s string) {
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

func (k *refSketcher) emit(s string, w *refWord, numbers int) {
	text := s[w.start:w.end]
	inNumber := numbers >= 2 && (w.digits > 0 || (w.hex && len(text) >= 4))
	switch {
	case inNumber:
		if !k.inNumber {
			k.token(refVolatileToken)
		}
		k.masked(w)
	case w.digits == 0:
		k.token(w.hash)
		k.counter = refIsCounter(w.hash)
		k.inNumber = false
		return
	case k.counter || refVolatileWord(text, w):
		k.token(refVolatileToken)
		k.masked(w)
	default:
		k.token(w.hash)
	}
	k.counter, k.inNumber = false, inNumber
}

func (k *refSketcher) masked(w *refWord) {
	if k.onVolatile != nil {
		k.onVolatile(w.start, w.end)
	}
}

func refVolatileWord(text string, w *refWord) bool {
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
			if c := text[i] | 0x20; refByteFlags[text[i]]&refFAlpha != 0 && !strings.ContainsRune("smhdunkgbxtr", rune(c)) {
				return false
			}
		}
		return true
	}
	return false
}
