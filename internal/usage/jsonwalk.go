package usage

import (
	"bytes"
)

// A minimal walker over JSON that is already known to be valid (checked by
// json.Valid, or handed to an UnmarshalJSON method by encoding/json). It
// locates members and elements without decoding or re-validating them, so
// large values nobody needs (base64 images, audio, files) are only skipped.

type member struct{ key, keyEnd, val, valEnd int }

// keyIs compares the member's decoded key with name.
func (m member) keyIs(b []byte, name string) bool {
	raw := b[m.key:m.keyEnd]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1:len(raw)-1]) == name
	}
	k, ok := unquote(raw)
	return ok && k == name
}

type object struct {
	open    int
	members []member
}

// insert adds a member after the last one, or right after '{' when empty.
func (o object) insert(kv string) splice {
	if n := len(o.members); n > 0 {
		end := o.members[n-1].valEnd
		return splice{end, end, "," + kv}
	}
	return splice{o.open + 1, o.open + 1, kv}
}

// objectMembers lists the members of the object opening at b[open]. b must
// be valid JSON (checked by the caller), so the walk does not validate.
func objectMembers(b []byte, open int) object {
	o := object{open: open}
	i := skipSpace(b, open+1)
	for i < len(b) && b[i] == '"' {
		var m member
		m.key = i
		m.keyEnd = skipValue(b, i)
		m.val = skipSpace(b, skipSpace(b, m.keyEnd)+1) // past ':'
		m.valEnd = skipValue(b, m.val)
		o.members = append(o.members, m)
		i = skipSpace(b, m.valEnd)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return o
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the valid JSON value at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for i++; i < len(b); i++ {
			switch b[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipValue(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}

// eachElement calls fn with the raw bytes of each element of the valid JSON
// array b.
func eachElement(b []byte, fn func(elem []byte)) {
	i := skipSpace(b, skipSpace(b, 0)+1) // past '['
	for i < len(b) && b[i] != ']' {
		end := skipValue(b, i)
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

// eachMember calls fn with the raw key and value of each member of the
// valid JSON object b.
func eachMember(b []byte, fn func(m member, val []byte)) {
	for _, m := range objectMembers(b, skipSpace(b, 0)).members {
		fn(m, b[m.val:m.valEnd])
	}
}
