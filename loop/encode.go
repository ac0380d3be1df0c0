package loop

import (
	"errors"
	"fmt"
)

// The encoded Window is what window.lua keeps in Redis: one string of
// lowercase hex, fixed-width fields, so Lua 5.1 reads it with string.sub and
// tonumber(s, 16) (exact: no field is wider than 48 bits, or it is split into
// 32-bit halves) and Go with a loop.
//
//	header (18 bytes): "1" version | until ms (12) | kind code (1) | repeats (4)
//	entry  (48 bytes): at ms (12) | exact (16) | sim (16) | size (4)
//
// Entries are oldest first, at most MaxEntries: at most 1,554 bytes a client.
const (
	encVersion     = '1'
	headerLen      = 1 + 12 + 1 + 4
	entryLen       = 12 + 16 + 16 + 4
	maxMillis      = 1<<48 - 1
	maxRepeatsCode = 0xffff
)

// ErrEncoding is wrapped by UnmarshalBinary's errors.
var ErrEncoding = errors.New("loop: malformed window encoding")

// MarshalBinary encodes w as window.lua stores it.
func (w *Window) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, headerLen+len(w.entries)*entryLen)
	b = append(b, encVersion)
	b = appendHex(b, uint64(clampMillis(w.until)), 12)
	b = appendHex(b, uint64(w.kind), 1)
	b = appendHex(b, uint64(min(w.repeats, maxRepeatsCode)), 4)
	for _, e := range w.entries {
		b = appendHex(b, uint64(clampMillis(e.at)), 12)
		b = appendHex(b, e.sig.Exact, 16)
		b = appendHex(b, e.sig.Sim, 16)
		b = appendHex(b, uint64(e.sig.Size), 4)
	}
	return b, nil
}

// UnmarshalBinary replaces w with the window encoded in b. An empty b is an
// empty window (a missing Redis key).
func (w *Window) UnmarshalBinary(b []byte) error {
	if len(b) == 0 {
		*w = Window{}
		return nil
	}
	if b[0] != encVersion || len(b) < headerLen || (len(b)-headerLen)%entryLen != 0 {
		return fmt.Errorf("%w: bad version or length %d", ErrEncoding, len(b))
	}
	n := (len(b) - headerLen) / entryLen
	if n > MaxEntries {
		return fmt.Errorf("%w: %d entries, at most %d", ErrEncoding, n, MaxEntries)
	}
	var (
		v   Window
		err error
		x   uint64
	)
	p := parser{b: b[1:], err: &err}
	v.until = int64(p.hex(12))
	x = p.hex(1)
	v.kind = uint8(x)
	v.repeats = int(p.hex(4))
	if x > uint64(codeCycle) {
		return fmt.Errorf("%w: kind %d", ErrEncoding, x)
	}
	if n > 0 {
		v.entries = make([]entry, n)
	}
	for i := range v.entries {
		e := &v.entries[i]
		e.at = int64(p.hex(12))
		e.sig.Exact = p.hex(16)
		e.sig.Sim = p.hex(16)
		e.sig.Size = uint16(p.hex(4))
	}
	if err != nil {
		return err
	}
	*w = v
	return nil
}

func clampMillis(ms int64) int64 { return min(max(ms, 0), maxMillis) }

func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// parser reads fixed-width hex fields, remembering the first error.
type parser struct {
	b   []byte
	err *error
}

func (p *parser) hex(width int) uint64 {
	var v uint64
	for i := range width {
		c := p.b[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			if *p.err == nil {
				*p.err = fmt.Errorf("%w: byte %q is not lowercase hex", ErrEncoding, c)
			}
		}
		v = v<<4 | uint64(d)
	}
	p.b = p.b[width:]
	return v
}
