package usage

import (
	"bytes"
	"encoding/binary"
)

// scanner is an incremental JSON scanner: it is fed a document in pieces
// split anywhere and keeps only its current path, the key being read, and
// the values its node tree asks for. It is lenient where leniency is cheap
// (skipped containers and literals are not validated) and never panics on
// bad input: it stops at the first structural error and reports it.
type scanner struct {
	root *node
	text *[]byte // destination of actText strings; nil: not decoded

	st    scanState
	stack []frame

	// string decoding
	sink    sinkKind
	esc     int8 // 0 none, 1 after '\', 2..5 reading \u hex digits
	hex     rune
	hi      rune // pending high surrogate
	key     []byte
	keyLong bool

	// skipped containers
	skipDepth int
	skipStr   bool
	skipEsc   bool

	// capture of one actRaw value
	capturing bool
	capEach   bool // hand the value to onEach when it is complete
	onEach    func(slot, []byte)
	capSlot   slot
	capFrom   int
	capLong   bool
	caps      [nSlots][]byte
	capSet    [nSlots]bool

	// root-object bookkeeping, in absolute stream offsets, to cut a
	// `"usage":null` member out of a chunk byte-exactly
	rootComma    int64 // last ',' between root members, -1 if none yet
	keyStart     int64 // opening quote of the current root key
	nullUsage    span
	hasNullUsage bool
	awaitNext    bool // nullUsage was the first member: extend it to the next key
	choicesSeen  bool
	choices      int

	done bool // a complete top-level value was read
}

type scanState uint8

const (
	sValue    scanState = iota // a value is expected
	sValOrEnd                  // after '[': a value or ']'
	sKeyOrEnd                  // after '{': a key or '}'
	sKey                       // after ',' in an object: a key
	sColon                     // after a key
	sAfter                     // after a member or element: ',' or a closer
	sStr                       // inside a string
	sLit                       // inside a number, true, false or null
	sSkip                      // inside a container nobody asked for
	sDone                      // after the top-level value
	sBad                       // structural error: ignore the rest
)

type sinkKind uint8

const (
	sinkNone sinkKind = iota
	sinkKey
	sinkText
)

type frame struct {
	n     *node
	arr   bool
	child *node // node of the current member's value
	count int
}

// span is a half-open range of absolute stream offsets.
type span struct{ from, to int64 }

const (
	maxCapture = 64 << 10 // larger captured values are dropped
	maxKey     = 64       // longer keys match nothing
)

// skipSpecial marks the bytes that matter inside a skipped container.
var skipSpecial = [256]bool{'"': true, '\\': true, '{': true, '[': true, '}': true, ']': true}

func (s *scanner) reset(root *node, text *[]byte) {
	s.root, s.text = root, text
	s.st = sValue
	s.stack = s.stack[:0]
	s.esc, s.hi = 0, 0
	s.skipDepth, s.skipStr, s.skipEsc = 0, false, false
	s.capturing = false
	s.capSet = [nSlots]bool{}
	s.rootComma, s.hasNullUsage, s.awaitNext = -1, false, false
	s.choicesSeen, s.choices = false, 0
	s.done = false
}

// ok reports whether exactly one well-formed top-level value was read.
func (s *scanner) ok() bool { return s.done && s.st == sDone }

// finish ends the document at absolute offset end, completing a trailing
// literal, and reports ok.
func (s *scanner) finish(end int64) bool {
	if s.st == sLit {
		s.capFrom = 0 // the literal's bytes were captured as they came
		s.valueDone(end, nil, 0)
	}
	return s.ok()
}

// feed scans data, whose first byte is at absolute offset base.
func (s *scanner) feed(data []byte, base int64) {
	s.capFrom = 0
	i := 0
	for i < len(data) && s.st != sBad {
		switch s.st {
		case sValue, sValOrEnd:
			c := data[i]
			switch {
			case isSpace(c):
				i++
			case c == ']' && s.st == sValOrEnd:
				i++
				s.closeContainer(base+int64(i), data, i)
			default:
				i = s.beginValue(data, i)
			}
		case sKeyOrEnd, sKey:
			c := data[i]
			switch {
			case isSpace(c):
				i++
			case c == '"':
				i = s.member(data, i, base)
			case c == '}' && s.st == sKeyOrEnd:
				i++
				s.closeContainer(base+int64(i), data, i)
			default:
				s.st = sBad
			}
		case sColon:
			c := data[i]
			switch {
			case isSpace(c):
				i++
			case c == ':':
				s.st = sValue
				i++
			default:
				s.st = sBad
			}
		case sAfter:
			c := data[i]
			top := &s.stack[len(s.stack)-1]
			switch {
			case isSpace(c):
				i++
			case c == ',':
				if top.arr {
					s.st = sValue
				} else {
					if s.atRoot() {
						s.rootComma = base + int64(i)
					}
					s.st = sKey
					if i+1 < len(data) && data[i+1] == '"' {
						i = s.member(data, i+1, base)
						continue
					}
				}
				i++
			case (c == '}' && !top.arr) || (c == ']' && top.arr):
				i++
				s.closeContainer(base+int64(i), data, i)
			default:
				s.st = sBad
			}
		case sStr:
			i = s.str(data, i, base)
		case sLit:
			for i < len(data) && isLiteral(data[i]) {
				i++
			}
			if i < len(data) {
				s.valueDone(base+int64(i), data, i)
			}
		case sSkip:
			i = s.skip(data, i, base)
		case sDone:
			if !isSpace(data[i]) {
				s.st = sBad
			}
			i++
		}
	}
	if s.capturing {
		s.appendCap(data[s.capFrom:])
	}
}

// member reads a member's key, which starts at data[i] == '"', and, when
// they follow in this piece, its colon, its value when that is a string or
// a literal (or the first key of an object it descends into), and the
// members after it likewise: one call per run of simple members rather than
// one trip round feed's loop per token.
func (s *scanner) member(data []byte, i int, base int64) int {
	for {
		if s.atRoot() {
			s.keyStart = base + int64(i)
			if s.awaitNext {
				s.nullUsage.to, s.awaitNext = s.keyStart, false
			}
		}
		i++
		// A key without escapes that ends in this piece (nearly all of
		// them) is matched where it lies, not copied.
		j := quoteOrBackslash(data[i:])
		if j < 0 || data[i+j] != '"' {
			s.st, s.sink, s.key, s.keyLong = sStr, sinkKey, s.key[:0], false
			return i
		}
		s.keyDone(data[i:i+j], j > maxKey)
		i += j + 1
		if i+1 >= len(data) || data[i] != ':' || isSpace(data[i+1]) {
			return i
		}
		i = s.beginValue(data, i+1)
		switch s.st {
		case sStr:
			i = s.str(data, i, base)
		case sLit:
			for i < len(data) && isLiteral(data[i]) {
				i++
			}
			if i == len(data) {
				return i
			}
			s.valueDone(base+int64(i), data, i)
		case sKeyOrEnd: // an object we descend into: on to its first key
			if i < len(data) && data[i] == '"' {
				continue
			}
			return i
		}
		// what feed's sAfter does with a ',' right before the next key
		if s.st != sAfter || i+1 >= len(data) || data[i] != ',' || data[i+1] != '"' {
			return i
		}
		if s.atRoot() {
			s.rootComma = base + int64(i)
		}
		s.st = sKey
		i++
	}
}

// keyDone resolves the member node of the key just read; long keys match
// nothing.
func (s *scanner) keyDone(key []byte, long bool) {
	var n *node
	if !long {
		n = s.stack[len(s.stack)-1].n.child(key)
	}
	s.stack[len(s.stack)-1].child = n
	s.st = sColon
}

func (s *scanner) atRoot() bool { return len(s.stack) == 1 && !s.stack[0].arr }

// current returns the node of the value about to start.
func (s *scanner) current() *node {
	if len(s.stack) == 0 {
		return s.root
	}
	top := &s.stack[len(s.stack)-1]
	if top.arr {
		return top.n.elem
	}
	return top.child
}

func (s *scanner) beginValue(data []byte, i int) int {
	n := s.current()
	if n != nil && n.act == actRaw {
		s.capturing, s.capSlot, s.capFrom, s.capLong, s.capEach = true, n.slot, i, false, n.each
		s.caps[n.slot] = s.caps[n.slot][:0]
	}
	switch c := data[i]; {
	case c == '"':
		s.st, s.sink = sStr, sinkNone
		if n != nil && n.act == actText && s.text != nil {
			s.sink = sinkText
		}
	case c == '{' && n != nil && n.kids != nil && !s.capturing:
		s.stack = append(s.stack, frame{n: n})
		s.st = sKeyOrEnd
	case c == '[' && n != nil && n.elem != nil && !s.capturing:
		s.stack = append(s.stack, frame{n: n, arr: true})
		s.st = sValOrEnd
	case c == '{' || c == '[':
		s.st, s.skipDepth, s.skipStr, s.skipEsc = sSkip, 1, false, false
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		s.st = sLit
	default:
		s.st = sBad
	}
	return i + 1
}

func (s *scanner) closeContainer(end int64, data []byte, i int) {
	f := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	if f.n.count && s.atRoot() {
		s.choicesSeen, s.choices = true, f.count
	}
	s.valueDone(end, data, i)
}

// valueDone ends the value that finished at absolute offset end (data[:i]
// holds its tail in the current piece).
func (s *scanner) valueDone(end int64, data []byte, i int) {
	if s.capturing {
		s.appendCap(data[s.capFrom:i])
		s.capturing = false
		s.capSet[s.capSlot] = !s.capLong
		if s.capEach && !s.capLong && s.onEach != nil {
			s.onEach(s.capSlot, s.caps[s.capSlot])
		}
	}
	if len(s.stack) == 0 {
		s.st, s.done = sDone, true
		return
	}
	s.st = sAfter
	top := &s.stack[len(s.stack)-1]
	top.count++
	if s.atRoot() && top.child != nil && top.child.slot == slotUsage && s.capSet[slotUsage] &&
		bytes.Equal(s.caps[slotUsage], []byte("null")) {
		s.hasNullUsage = true
		if s.rootComma >= 0 {
			s.nullUsage = span{s.rootComma, end}
		} else {
			s.nullUsage, s.awaitNext = span{s.keyStart, end}, true
		}
	}
}

func (s *scanner) appendCap(b []byte) {
	if s.capLong || len(b) == 0 {
		return
	}
	if len(s.caps[s.capSlot])+len(b) > maxCapture {
		s.capLong = true
		return
	}
	s.caps[s.capSlot] = append(s.caps[s.capSlot], b...)
}

// skip scans a container nobody asked for, tracking only strings and depth.
func (s *scanner) skip(data []byte, i int, base int64) int {
	for i < len(data) {
		if s.skipEsc {
			s.skipEsc = false
			i++
			continue
		}
		if s.skipStr {
			// a byte loop the compiler inlines: a call here costs the
			// whole loop its registers (embeddings' floats ran 40% slower)
			j := quoteOrBackslashInline(data[i:])
			if j < 0 {
				return len(data)
			}
			i += j
			if data[i] == '\\' {
				s.skipEsc = true
			} else {
				s.skipStr = false
			}
			i++
			continue
		}
		i = skipPlain(data, i)
		if i == len(data) {
			return i
		}
		switch data[i] {
		case '"':
			s.skipStr = true
		case '{', '[':
			s.skipDepth++
		case '}', ']':
			s.skipDepth--
			if s.skipDepth == 0 {
				i++
				s.valueDone(base+int64(i), data, i)
				return i
			}
		}
		i++
	}
	return i
}

// skipPlain returns the index of the first byte from i on that skip must
// look at (skipSpecial), or len(data). Eight bytes at a time go by when
// none has bit 0x40 (all of skipSpecial but '"' have it) and none is '"':
// the digits, signs, points and commas of a number array.
func skipPlain(data []byte, i int) int {
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		q := w ^ ('"' * lsb)
		if w&(0x40*lsb) != 0 || (q-lsb)&^q&msb != 0 {
			break
		}
	}
	for i < len(data) && !skipSpecial[data[i]] {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isLiteral(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'E'
}
