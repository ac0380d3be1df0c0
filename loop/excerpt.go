package loop

import (
	"strings"
	"unicode/utf8"

	"github.com/proxide/proxide/usage"
)

// Excerpt returns a short, redacted excerpt of the request's meaningful tail
// for a loop event: the items Compute fingerprints, as "role kind name: text"
// joined by " | ", with every volatile token (numbers, ids, UUIDs,
// timestamps, counters) replaced by '#', whitespace collapsed, and cut to at
// most max bytes on a rune boundary. It allocates; call it only for events.
func Excerpt(r usage.Request, max int) string {
	lo, hi, skipProse, keepSystem := tailRange(r.Tail)
	var b strings.Builder
	for i := lo; i < hi && b.Len() < max; i++ {
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
		b.WriteString(redact(it.Text))
	}
	return cut(b.String(), max)
}

// redact replaces the volatile words of s by '#' and collapses whitespace.
func redact(s string) string {
	var spans [][2]int
	k := sketcher{weight: weightProse, onVolatile: func(start, end int) {
		// one '#' for a whole timestamp or UUID: merge across join bytes
		if n := len(spans); n > 0 && joinedOnly(s[spans[n-1][1]:start]) {
			spans[n-1][1] = end
			return
		}
		spans = append(spans, [2]int{start, end})
	}}
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

// cut shortens s to at most max bytes, ending on a rune boundary.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
