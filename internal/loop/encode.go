package loop

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The encoded Window is what window.lua keeps in Redis: fixed-width
// big-endian binary fields, so that Lua decodes a whole window with one
// struct.unpack (C, not a loop over bytes) and appends an entry without
// re-encoding the others.
//
//	header (10 bytes): '2' version | until ms (6) | kind code (1) | repeats (2)
//	entry  (24 bytes): at ms (6) | exact (8) | sim (8) | size (2)
//
// Entries are oldest first, at most MaxEntries: at most 778 bytes a client.
// Millisecond times are clamped to 48 bits, so Lua's doubles hold them
// exactly; exact and sim are only compared and split, never Lua numbers.
// Version '1' (hex, before) is rejected here; window.lua starts afresh on it.
const (
	encVersion     = '2'
	headerLen      = 1 + 6 + 1 + 2
	entryLen       = 6 + 8 + 8 + 2
	maxMillis      = 1<<48 - 1
	maxRepeatsCode = 0xffff
)

// ErrEncoding is wrapped by UnmarshalBinary's errors.
var ErrEncoding = errors.New("loop: malformed window encoding")

// MarshalBinary encodes w as window.lua stores it.
func (w *Window) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, headerLen+len(w.entries)*entryLen)
	b = append(b, encVersion)
	b = appendUint48(b, clampMillis(w.until))
	b = append(b, w.kind)
	b = binary.BigEndian.AppendUint16(b, clampUint16(w.repeats))
	for _, e := range w.entries {
		b = appendUint48(b, clampMillis(e.at))
		b = binary.BigEndian.AppendUint64(b, e.sig.Exact)
		b = binary.BigEndian.AppendUint64(b, e.sig.Sim)
		b = binary.BigEndian.AppendUint16(b, e.sig.Size)
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
	if b[7] > codeCycle {
		return fmt.Errorf("%w: kind %d", ErrEncoding, b[7])
	}
	v := Window{until: uint48(b[1:]), kind: b[7], repeats: int(binary.BigEndian.Uint16(b[8:]))}
	if n > 0 {
		v.entries = make([]entry, n)
	}
	for i := range v.entries {
		p := b[headerLen+i*entryLen:]
		v.entries[i] = entry{at: uint48(p), sig: Signature{
			Exact: binary.BigEndian.Uint64(p[6:]),
			Sim:   binary.BigEndian.Uint64(p[14:]),
			Size:  binary.BigEndian.Uint16(p[22:]),
		}}
	}
	*w = v
	return nil
}

func clampMillis(ms int64) int64 { return min(max(ms, 0), maxMillis) }

func appendUint48(b []byte, v int64) []byte {
	//nolint:gosec // G115: byte() keeps the low 8 bits on purpose: v is written as a big-endian 48-bit field
	return append(b, byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// clampUint16 stores a count in a 16-bit field, saturating at 0xffff.
func clampUint16(n int) uint16 {
	switch {
	case n < 0:
		return 0
	case n > maxRepeatsCode:
		return maxRepeatsCode
	}
	return uint16(n)
}

func uint48(b []byte) int64 {
	_ = b[5]
	return int64(b[0])<<40 | int64(b[1])<<32 | int64(b[2])<<24 | int64(b[3])<<16 | int64(b[4])<<8 | int64(b[5])
}

// appendHex appends v as width lowercase hex digits (LuaArgs' 64-bit values).
func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}
