package usage

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// unquoteValid decodes b, a JSON string literal already known to be valid (the
// quotes included), exactly as json.Unmarshal into a string does: escapes,
// \u surrogate pairs (a lone or broken surrogate becomes U+FFFD), and each
// byte of invalid UTF-8 becoming U+FFFD. Prompt texts often hold escapes
// (quotes, newlines), and json.Unmarshal re-validates and sets up a decoder
// for every such string; this is one pass and one allocation.
func unquoteValid(b []byte) string {
	s := b[1 : len(b)-1]
	var sb strings.Builder
	sb.Grow(len(s))
	for len(s) > 0 {
		// Copy the run up to the next escape in one piece when it is valid
		// UTF-8, which it nearly always is.
		run := s
		if j := bytes.IndexByte(s, '\\'); j >= 0 {
			run = s[:j]
		}
		if utf8.Valid(run) {
			sb.Write(run)
		} else {
			for i := 0; i < len(run); {
				r, size := utf8.DecodeRune(run[i:])
				if r == utf8.RuneError && size == 1 {
					sb.WriteRune(utf8.RuneError)
				} else {
					sb.Write(run[i : i+size])
				}
				i += size
			}
		}
		s = s[len(run):]
		if len(s) == 0 {
			break
		}
		// s[0] is '\\'; valid JSON guarantees a complete escape follows.
		c := s[1]
		s = s[2:]
		switch c {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r := hex4(s)
			s = s[4:]
			if utf16.IsSurrogate(r) {
				// encoding/json pairs it with a \u escape right after, and
				// otherwise replaces it without consuming what follows.
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[2:])); dec != unicode.ReplacementChar {
						sb.WriteRune(dec)
						s = s[6:]
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			sb.WriteRune(r)
		default: // '"', '\\', '/'
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// hex4 reads four hex digits (valid JSON guarantees them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquote decodes raw, a JSON string literal (quotes included) not known to
// be valid, as json.Unmarshal into a string would; false when it is not one.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	d := fastDec{b: raw}
	d.str()
	if d.bad || d.i != len(raw) {
		return "", false
	}
	if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s), true
	}
	return unquoteValid(raw), true
}
