package loop

import (
	"strings"
	"unicode/utf8"

	"github.com/proxide/proxide/internal/usage"
)

// Excerpt returns a short, redacted excerpt of the request's meaningful tail
// for a loop event: the items Compute fingerprints, as "role kind name: text"
// joined by " | ", with every volatile token (numbers, ids, UUIDs,
// timestamps, counters) replaced by '#', whitespace collapsed, and cut to at
// most limit bytes on a rune boundary. It allocates; call it only for events.
func Excerpt(r usage.Request, limit int) string {
	lo, hi, skipProse, keepSystem := tailRange(r.Tail)
	var b strings.Builder
	for i := lo; i < hi && b.Len() < limit; i++ {
		it := &r.Tail[i]
		if (!keepSystem && skipRole(it.Role)) || (skipProse && it.Role == "assistant" && it.Kind != usage.KindCall) {
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
		b.WriteString(redactPrefix(it.Text, limit-b.Len()))
	}
	return cut(b.String(), limit)
}

// excerptMargin is redacted beyond an excerpt's room and cut off.
const excerptMargin = 64

// redactPrefix is redact of just enough of s to fill room bytes of excerpt:
// a loop is checked on every request and most texts are far longer than the
// excerpt, so redacting them whole was most of its cost. Redaction never
// lengthens text, so a prefix is read, cut on a rune boundary, and grown
// while its redaction falls short of room (whitespace runs shrink).
func redactPrefix(s string, room int) string {
	if room <= 0 {
		return ""
	}
	for n := room + 2*excerptMargin; ; n *= 2 {
		if n >= len(s) {
			return redact(s)
		}
		// The prefix's last bytes may redact differently from the whole text
		// (a timestamp cut after a joining '-'): keep a margin past room, which
		// the caller cuts off.
		if r := redact(cut(s, n)); len(r) > room+excerptMargin {
			return r
		}
	}
}

// redact replaces the volatile words of s by '#' and collapses whitespace.
func redact(s string) string {
	var spans [][2]int
	k := newSketcher()
	defer k.release()
	k.weight = weightProse
	k.onVolatile = func(start, end int) {
		// one '#' for a whole timestamp or UUID: merge across join bytes
		if n := len(spans); n > 0 && joinedOnly(s[spans[n-1][1]:start]) {
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

func joinedOnly(gap string) bool {
	for i := 0; i < len(gap); i++ {
		if byteFlags[gap[i]]&fJoin == 0 {
			return false
		}
	}
	return true
}

// cut shortens s to at most n bytes, ending on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
