package endpoints

import (
	"errors"
	"strings"
	"testing"
)

// paidRows are the rows a path trick must never turn into something else.
func paidRows() []Endpoint {
	var out []Endpoint
	for _, e := range Table() {
		if e.Kind != Free && e.Method != "*" && !strings.Contains(e.Pattern, "...}") {
			out = append(out, e)
		}
	}
	return out
}

// mutate applies the path tricks ops encodes, two bytes per trick: what,
// and where.
func mutate(path string, ops []byte) string {
	for len(ops) >= 2 {
		what, where := ops[0], int(ops[1])
		ops = ops[2:]
		switch what % 6 {
		case 0: // percent-encode an unreserved character, either hex case
			if i := nth(path, where, isUnreserved); i >= 0 {
				hex := strings.ToUpper
				if what&0x80 != 0 {
					hex = strings.ToLower
				}
				path = path[:i] + "%" + hex(string([]byte{upperHex[path[i]>>4], upperHex[path[i]&15]})) + path[i+1:]
			}
		case 1: // double a slash
			if i := nth(path, where, func(c byte) bool { return c == '/' }); i >= 0 {
				path = path[:i] + "/" + path[i:]
			}
		case 2: // insert "./" after a slash
			if i := nth(path, where, func(c byte) bool { return c == '/' }); i >= 0 {
				path = path[:i+1] + "./" + path[i+1:]
			}
		case 3: // insert "x/../" after a slash
			if i := nth(path, where, func(c byte) bool { return c == '/' }); i >= 0 {
				path = path[:i+1] + "x/../" + path[i+1:]
			}
		case 4: // flip the case of a letter
			if i := nth(path, where, func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }); i >= 0 {
				path = path[:i] + string(path[i]^0x20) + path[i+1:]
			}
		case 5: // append a slash
			path += "/"
		}
	}
	return path
}

// nth returns the index of the (n mod count)-th byte of s that ok accepts.
func nth(s string, n int, ok func(byte) bool) int {
	var idx []int
	for i := 0; i < len(s); i++ {
		if ok(s[i]) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return -1
	}
	return idx[n%len(idx)]
}

// FuzzCanonicalClassify takes a paid endpoint's path, disguises it, and
// requires Proxide to see the same operation, or to refuse the path as
// ambiguous: never Free, never another operation.
func FuzzCanonicalClassify(f *testing.F) {
	f.Add(uint16(0), []byte{0, 3, 1, 2, 2, 1, 3, 4, 4, 7, 5, 0})
	f.Add(uint16(5), []byte{0x80, 9, 0, 1, 3, 0, 3, 2})
	f.Add(uint16(12), []byte{4, 0, 4, 1, 4, 2, 4, 3, 1, 0, 1, 1})
	rows := paidRows()
	f.Fuzz(func(t *testing.T, pick uint16, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		e := rows[int(pick)%len(rows)]
		path := mutate(examplePath(e.Pattern), ops)
		p, err := Canonicalize(path, testPrefixes)
		if err != nil {
			if !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("%s: unexpected error %v", path, err)
			}
			return
		}
		got := Classify(e.Method, p, nil)
		if got.Operation != e.Operation || got.Kind != e.Kind {
			t.Fatalf("%s %s (from %s) classified as %+v, want %s (%s)", e.Method, path, e.Pattern, got, e.Operation, e.Kind)
		}
	})
}
