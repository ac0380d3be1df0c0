package usage

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// String handling of the scanner: strings nobody asked for are skipped by
// scanning for the next quote or backslash; keys and text values are
// decoded (escapes, \u surrogate pairs, split anywhere across pieces).

// str scans string bytes, decoding them into the key or the text when asked.
func (s *scanner) str(data []byte, i int, base int64) int {
	for i < len(data) {
		if s.esc != 0 {
			if !s.escape(data[i]) {
				s.st = sBad
				return len(data)
			}
			i++
			continue
		}
		j := quoteOrBackslash(data[i:])
		if j < 0 {
			s.plain(data[i:])
			return len(data)
		}
		s.plain(data[i : i+j])
		i += j
		if data[i] == '\\' {
			s.esc = 1
			i++
			continue
		}
		i++ // closing quote
		s.flushSurrogate()
		if s.sink == sinkKey {
			s.keyDone(s.key, s.keyLong)
		} else {
			s.valueDone(base+int64(i), data, i)
		}
		return i
	}
	return i
}

// escape consumes one byte of an escape sequence; false means invalid.
func (s *scanner) escape(c byte) bool {
	if s.sink == sinkNone { // not decoded: \uXXXX digits are plain bytes
		s.esc = 0
		return true
	}
	if s.esc == 1 {
		var r byte
		switch c {
		case 'u':
			s.esc, s.hex = 2, 0
			return true
		case '"', '\\', '/':
			r = c
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		default:
			return false
		}
		s.esc = 0
		s.flushSurrogate()
		s.emit([]byte{r})
		return true
	}
	var v rune
	switch {
	case c >= '0' && c <= '9':
		v = rune(c - '0')
	case c >= 'a' && c <= 'f':
		v = rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		v = rune(c-'A') + 10
	default:
		return false
	}
	s.hex = s.hex<<4 | v
	s.esc++
	if s.esc == 6 {
		s.esc = 0
		s.codePoint(s.hex)
	}
	return true
}

func (s *scanner) codePoint(r rune) {
	if s.hi != 0 {
		hi := s.hi
		s.hi = 0
		if r >= 0xDC00 && r <= 0xDFFF {
			s.emitRune((hi-0xD800)<<10 | (r - 0xDC00) + 0x10000)
			return
		}
		s.emitRune(utf8.RuneError)
	}
	switch {
	case r >= 0xD800 && r <= 0xDBFF:
		s.hi = r
	case r >= 0xDC00 && r <= 0xDFFF:
		s.emitRune(utf8.RuneError)
	default:
		s.emitRune(r)
	}
}

func (s *scanner) flushSurrogate() {
	if s.hi != 0 {
		s.hi = 0
		s.emitRune(utf8.RuneError)
	}
}

// plain emits unescaped string bytes; a high surrogate left waiting by a
// preceding \u escape had no low half, so it becomes U+FFFD first.
func (s *scanner) plain(b []byte) {
	if len(b) > 0 && s.sink != sinkNone {
		s.flushSurrogate()
		s.emit(b)
	}
}

func (s *scanner) emitRune(r rune) {
	var b [utf8.UTFMax]byte
	s.emit(b[:utf8.EncodeRune(b[:], r)])
}

func (s *scanner) emit(b []byte) {
	if len(b) == 0 {
		return
	}
	switch s.sink {
	case sinkKey:
		if len(s.key)+len(b) > maxKey {
			s.keyLong = true
			return
		}
		s.key = append(s.key, b...)
	case sinkText:
		if s.text != nil { // nil when dropped in the middle of a string
			*s.text = append(*s.text, b...)
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1.
// It tests eight bytes at a time: a byte equal to the sought one is zero
// after the xor, and (x-lsb)&^x&msb flags the lowest zero byte of x exactly
// (a borrow can only flag bytes above it).
func quoteOrBackslash(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q, bs := w^('"'*lsb), w^('\\'*lsb)
		if t := ((q-lsb)&^q | (bs-lsb)&^bs) & msb; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}

// quoteOrBackslashInline is quoteOrBackslash a byte at a time, small enough
// to inline, for loops where a call would cost more than it saves.
func quoteOrBackslashInline(b []byte) int {
	for i, c := range b {
		if c == '"' || c == '\\' {
			return i
		}
	}
	return -1
}
