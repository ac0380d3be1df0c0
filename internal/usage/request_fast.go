package usage

import (
	"bytes"
	"strconv"
)

// encoding/json spent about half of ParseRequest's time on a body: it
// validates the whole body, then walks it again by reflection, and calls the
// custom decoders of request_types.go with each value's bytes. fastDec fills
// the same wire structs in one validating pass over the body and calls the
// same custom decoders, for the bodies clients send. Anything it is not sure
// to decode exactly as encoding/json does (invalid JSON, a type mismatch, a
// repeated field, a key matching a field only when case is folded, an
// escaped or non-ASCII key of a decoded object, deep nesting) makes it give
// up, and ParseRequest decodes the body with encoding/json instead: the
// errors clients see are encoding/json's, as before. FuzzFastDecode checks
// that both fill equal structs.

// fastDec is a strict JSON reader over a whole body.
type fastDec struct {
	b     []byte
	i     int
	bad   bool // give up: encoding/json decodes the body
	depth int
}

// maxFastDepth bounds nesting on the fast path (encoding/json allows 10000;
// deeper bodies fall back and get its verdict).
const maxFastDepth = 256

// decodeFast fills w by fill from body, a JSON object; false means w is to
// be decoded by encoding/json (w may then hold partial values).
func decodeFast(body []byte, fill func(d *fastDec)) bool {
	d := &fastDec{b: body}
	return d.whole(func() { fill(d) })
}

// whole reads all of d.b, one JSON object read by fill (called with d.i at
// its '{'), and reports whether it was read to the end without giving up.
// (A caller that keeps d local and passes a closure over it, as the usage
// decoder does, keeps d off the heap.)
func (d *fastDec) whole(fill func()) bool {
	d.ws()
	if d.peek() != '{' {
		return false
	}
	fill()
	d.ws()
	return !d.bad && d.i == len(d.b)
}

func (d *fastDec) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDec) ws() {
	for d.i < len(d.b) && isSpace(d.b[d.i]) {
		d.i++
	}
}

// members reads the object at d.i, calling field for each member whose key
// is one of names, with d.i at its value; field must read the value. Other
// members are validated and skipped.
func (d *fastDec) members(names []string, field func(name string)) {
	var seen uint64
	d.i++ // '{'
	d.ws()
	if d.peek() == '}' {
		d.i++
		return
	}
	for !d.bad {
		if d.peek() != '"' {
			d.bad = true
			return
		}
		from := d.i
		d.str()
		key := d.b[from+1 : max(from+1, d.i-1)]
		d.ws()
		if d.bad || d.peek() != ':' {
			d.bad = true
			return
		}
		d.i++
		d.ws()
		k := keyIndex(key, names)
		if k < 0 && names != nil && unsureKey(key, names) {
			d.bad = true
			return
		}
		if k >= 0 && !d.bad {
			if seen&(1<<k) != 0 {
				d.bad = true // encoding/json would merge the two values
				return
			}
			seen |= 1 << k
			field(names[k])
		} else if !d.bad {
			d.value()
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return
		default:
			d.bad = true
		}
	}
}

// keyIndex returns the index of key in names, or -1.
func keyIndex(key []byte, names []string) int {
	for k, n := range names {
		if string(key) == n {
			return k
		}
	}
	return -1
}

// unsureKey reports a key of a decoded object that the fast path leaves to
// encoding/json: one it would match to a field only case-insensitively, or
// one that must be decoded to be compared.
func unsureKey(key []byte, names []string) bool {
	upper := false
	for _, c := range key {
		if c == '\\' || c >= 0x80 {
			return true
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return false // names are lower case (TestFastNames): no fold of key matches one it did not equal
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// elements reads the array at d.i, calling elem with d.i at each element.
func (d *fastDec) elements(elem func()) {
	d.i++ // '['
	d.ws()
	if d.peek() == ']' {
		d.i++
		return
	}
	for !d.bad {
		elem()
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return
		default:
			d.bad = true
		}
	}
}

// value validates and skips one value, returning its bytes.
func (d *fastDec) value() []byte {
	from := d.i
	switch c := d.peek(); {
	case c == '"':
		d.str()
	case c == '{' || c == '[':
		d.depth++
		if d.depth > maxFastDepth {
			d.bad = true
			return nil
		}
		if c == '{' {
			d.members(nil, nil)
		} else {
			d.elements(func() { d.value() })
		}
		d.depth--
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		d.number()
	default:
		d.bad = true
	}
	if d.bad {
		return nil
	}
	return d.b[from:d.i]
}

func (d *fastDec) literal(lit string) {
	if !bytes.HasPrefix(d.b[d.i:], []byte(lit)) {
		d.bad = true
		return
	}
	d.i += len(lit)
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDec) number() {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		d.bad = true
		return
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			d.bad = true
			return
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.bad = true
			return
		}
	}
	d.i = i
}

// strPlain marks the bytes a JSON string holds as they are: not the quote,
// the backslash or a control character. Invalid UTF-8 is valid JSON text
// (decoding replaces it).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str validates the string at d.i and moves past it.
func (d *fastDec) str() {
	b, i := d.b, d.i+1
	for {
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			d.bad = true
			return
		}
		switch b[i] {
		case '"':
			d.i = i + 1
			return
		case '\\':
			if i+1 >= len(b) {
				d.bad = true
				return
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					d.bad = true
					return
				}
				i += 6
			default:
				d.bad = true
				return
			}
		default: // a control character
			d.bad = true
			return
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// The field kinds of the wire structs. Pointers are nil for null, as
// encoding/json sets them; a custom decoder gets the value's bytes, null
// included, as encoding/json calls it.

func (d *fastDec) strPtr(p **string) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		*p = nil
	case '"':
		if raw := d.value(); !d.bad {
			s := unquoteValid(raw)
			*p = &s
		}
	default:
		d.bad = true
	}
}

func (d *fastDec) boolPtr(p **bool) {
	var v bool
	switch d.peek() {
	case 'n':
		d.literal("null")
		*p = nil
		return
	case 't':
		d.literal("true")
		v = true
	case 'f':
		d.literal("false")
	default:
		d.bad = true
		return
	}
	*p = &v
}

func (d *fastDec) intPtr(p **int64) {
	switch c := d.peek(); {
	case c == 'n':
		d.literal("null")
		*p = nil
	case c == '-' || (c >= '0' && c <= '9'):
		raw := d.value()
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if d.bad || err != nil { // a fraction, an exponent, an overflow: a type error
			d.bad = true
			return
		}
		*p = &n
	default:
		d.bad = true
	}
}

// custom hands the value's bytes to a custom decoder.
func (d *fastDec) custom(unmarshal func([]byte) error) {
	if raw := d.value(); !d.bad && unmarshal(raw) != nil {
		d.bad = true
	}
}

// object reads an object into *p (null sets it nil) with fields.
func fastObject[T any](d *fastDec, p **T, names []string, field func(v *T, name string)) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		*p = nil
	case '{':
		v := new(T)
		*p = v
		d.nested(func() { d.members(names, func(name string) { field(v, name) }) })
	default:
		d.bad = true
	}
}

// slice reads an array into *p (null sets it nil), each element by elem,
// which is also called for a null element: encoding/json appends a zero
// struct for it.
func fastSlice[T any](d *fastDec, p *[]T, elem func(v *T)) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		*p = nil
	case '[':
		s := []T{} // encoding/json leaves [] an empty slice, not nil
		d.nested(func() {
			d.elements(func() {
				s = append(s, *new(T))
				elem(&s[len(s)-1])
			})
		})
		*p = s
	default:
		d.bad = true
	}
}

// nested runs read one level deeper.
func (d *fastDec) nested(read func()) {
	d.depth++
	if d.depth > maxFastDepth {
		d.bad = true
		return
	}
	read()
	d.depth--
}
