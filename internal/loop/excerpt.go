package loop

import (
	"unicode"
	"unicode/utf8"

	"github.com/proxide/proxide/internal/usage"
)

// Excerpt returns a short, redacted excerpt of the request's meaningful tail
// for a loop event: the items Compute fingerprints, as "role kind name: text"
// joined by " | ", with every volatile token (numbers, ids, UUIDs,
// timestamps, counters) replaced by '#', whitespace collapsed, and cut to at
// most limit bytes on a rune boundary. The gateway records it with the
// request's reservation, so it is made for every metered request: it writes
// into a pooled buffer and allocates only the string it returns.
func Excerpt(r usage.Request, limit int) string {
	lo, hi, skipProse, keepSystem := tailRange(r.Tail)
	k := pooledSketcher()
	defer k.release()
	b := k.red.buf[:0]
	for i := lo; i < hi && len(b) < limit; i++ {
		it := &r.Tail[i]
		if (!keepSystem && skipRole(it.Role)) || (skipProse && it.Role == "assistant" && it.Kind != usage.KindCall) {
			continue
		}
		if len(b) > 0 {
			b = append(b, " | "...)
		}
		b = append(append(append(b, it.Role...), ' '), it.Kind...)
		if it.Name != "" {
			b = append(append(b, ' '), it.Name...)
		}
		b = append(b, ": "...)
		if it.Kind == usage.KindMedia {
			b = append(b, '#')
			continue
		}
		b = k.appendRedactedPrefix(b, it.Text, limit-len(b))
	}
	s := string(cut(b, limit))
	if cap(b) <= maxExcerptBuf {
		k.red.buf = b[:0]
	}
	return s
}

const (
	// excerptMargin is redacted beyond an excerpt's room and cut off.
	excerptMargin = 64
	// maxExcerptBuf bounds the buffer a pooled sketcher keeps: an excerpt
	// of a huge limit is not kept alive.
	maxExcerptBuf = 4 << 10
)

// appendRedactedPrefix appends the redaction of just enough of s to fill
// room bytes of excerpt: a loop is checked on every request and most texts
// are far longer than the excerpt, so redacting them whole was most of its
// cost. Redaction never lengthens text, so a prefix is read, cut on a rune
// boundary, and grown while its redaction falls short of room (whitespace
// runs shrink).
func (k *sketcher) appendRedactedPrefix(dst []byte, s string, room int) []byte {
	if room <= 0 {
		return dst
	}
	for n := room + 2*excerptMargin; ; n *= 2 {
		if n >= len(s) {
			return k.appendRedacted(dst, s)
		}
		// The prefix's last bytes may redact differently from the whole text
		// (a timestamp cut after a joining '-'): keep a margin past room, which
		// the caller cuts off.
		base := len(dst)
		if dst = k.appendRedacted(dst, cut(s, n)); len(dst)-base > room+excerptMargin {
			return dst
		}
		dst = dst[:base]
	}
}

// redaction is the state of a sketcher writing a redacted text (on): the
// words the tokenizer finds volatile become '#' and every whitespace run
// outside them one space, in one pass over the text.
type redaction struct {
	on      bool
	dst     []byte // the output
	base    int    // where this text's redaction starts in dst
	done    int    // the text is written up to here
	spanned bool   // a volatile span was written
	space   bool   // whitespace is pending
	buf     []byte // Excerpt's buffer, kept by the pool
}

// appendRedacted appends s with its volatile words replaced by '#' (one for
// a whole timestamp or UUID) and its whitespace collapsed: the words of s
// as strings.Fields splits them, joined by single spaces.
func (k *sketcher) appendRedacted(dst []byte, s string) []byte {
	k.plain, k.inNumber, k.n = false, false, 0
	k.red = redaction{on: true, dst: dst, base: len(dst), buf: k.red.buf}
	k.text(s)
	k.collapse(s[k.red.done:])
	dst = k.red.dst
	k.red.on, k.red.dst = false, nil
	return dst
}

// redactSpan masks the volatile word s[start:end].
func (k *sketcher) redactSpan(s string, start, end int) {
	r := &k.red
	// one '#' for a whole timestamp or UUID: merge across join bytes
	if !r.spanned || !joinedOnly(s[r.done:start]) {
		k.collapse(s[r.done:start])
		k.field("#")
	}
	r.done, r.spanned = end, true
}

// collapse writes s with whitespace runs collapsed. Volatile spans begin and
// end next to ASCII bytes, so the text between them decodes as it does in
// the whole text.
func (k *sketcher) collapse(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				k.red.space = true
				i++
				continue
			}
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && !asciiSpace[s[j]] {
				j++
			}
			k.field(s[i:j])
			i = j
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			k.red.space = true
		} else {
			k.field(s[i : i+size])
		}
		i += size
	}
}

// field writes non-space bytes, after one space when whitespace separates
// them from earlier output.
func (k *sketcher) field(b string) {
	r := &k.red
	if r.space && len(r.dst) > r.base {
		r.dst = append(r.dst, ' ')
	}
	r.space = false
	r.dst = append(r.dst, b...)
}

// asciiSpace is the ASCII whitespace of unicode.IsSpace (and strings.Fields).
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

func joinedOnly(gap string) bool {
	for i := 0; i < len(gap); i++ {
		if byteFlags[gap[i]]&fJoin == 0 {
			return false
		}
	}
	return true
}

// cut shortens s to at most n bytes, ending on a rune boundary.
func cut[T ~string | ~[]byte](s T, n int) T {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
