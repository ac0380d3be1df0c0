package media

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// disposition is what a Form needs from a part's Content-Disposition.
type disposition struct {
	typ                  string // lower case
	name, filename       string
	hasName, hasFilename bool
}

// parseDisposition parses a Content-Disposition value (RFC 7578, RFC 6266):
// a type and parameters whose values are tokens or quoted strings, or, for a
// name ending in "*", RFC 5987 ext-values (charset'lang'percent-encoded),
// which win over the plain parameter as RFC 6266 says. Unquoted values are
// read leniently up to the next ";" (some clients send name=image[]).
//
// It is written here rather than taken from mime.ParseMediaType because a
// Form must know that a filename parameter was present even when its value
// does not decode (that makes the part a file), and must refuse a repeated
// name or filename, which different servers resolve differently.
func parseDisposition(v string) (disposition, error) {
	var d disposition
	typ, rest, _ := strings.Cut(v, ";")
	d.typ = strings.ToLower(strings.TrimSpace(typ))
	if !isToken([]byte(d.typ)) {
		return d, errors.New("no disposition type")
	}
	// plain and ext values of name (0) and filename (1)
	var plain, ext [2]string
	var hasPlain, hasExt [2]bool
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			break
		}
		var key, val string
		var err error
		key, val, rest, err = nextParam(rest)
		if err != nil {
			return d, err
		}
		key = strings.ToLower(key)
		isExt := strings.HasSuffix(key, "*")
		var i int
		switch strings.TrimSuffix(key, "*") {
		case "name":
			i = 0
		case "filename":
			i = 1
		default:
			continue
		}
		if isExt {
			if hasExt[i] {
				return d, errors.New("repeated " + key + " parameter")
			}
			dec, err := decodeExtValue(val)
			if err != nil {
				return d, err
			}
			ext[i], hasExt[i] = dec, true
			continue
		}
		if hasPlain[i] {
			return d, errors.New("repeated " + key + " parameter")
		}
		plain[i], hasPlain[i] = val, true
	}
	pick := func(i int) (string, bool) {
		if hasExt[i] {
			return ext[i], true
		}
		return plain[i], hasPlain[i]
	}
	d.name, d.hasName = pick(0)
	d.filename, d.hasFilename = pick(1)
	return d, nil
}

// nextParam reads `key=value` and the ";" after it from the front of s.
func nextParam(s string) (key, val, rest string, err error) {
	eq := strings.IndexByte(s, '=')
	if eq < 0 {
		if strings.TrimSpace(s) == ";" { // a stray trailing semicolon
			return "", "", "", nil
		}
		return "", "", "", errors.New("parameter without a value")
	}
	key = strings.TrimRight(s[:eq], " \t")
	if !isToken([]byte(key)) {
		return "", "", "", errors.New("bad parameter name")
	}
	s = strings.TrimLeft(s[eq+1:], " \t")
	if !strings.HasPrefix(s, `"`) {
		val, rest, _ = strings.Cut(s, ";")
		return key, strings.TrimRight(val, " \t"), rest, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			rest = strings.TrimLeft(s[i+1:], " \t")
			if rest != "" && rest[0] != ';' {
				return "", "", "", errors.New("bytes after a quoted value")
			}
			return key, b.String(), strings.TrimPrefix(rest, ";"), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "", errors.New("unterminated quoted value")
}

// decodeExtValue decodes an RFC 5987 ext-value: charset'language'pct-value,
// charset UTF-8 (or its subset US-ASCII) or ISO-8859-1.
func decodeExtValue(v string) (string, error) {
	v = strings.Trim(v, `"`) // some clients quote it although RFC 5987 does not
	charset, rest, ok1 := strings.Cut(v, "'")
	_, enc, ok2 := strings.Cut(rest, "'")
	if !ok1 || !ok2 {
		return "", errors.New("malformed RFC 5987 value")
	}
	raw := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c == '%' {
			if i+2 >= len(enc) {
				return "", errors.New("bad percent-encoding in an RFC 5987 value")
			}
			hi, okHi := unhex(enc[i+1])
			lo, okLo := unhex(enc[i+2])
			if !okHi || !okLo {
				return "", errors.New("bad percent-encoding in an RFC 5987 value")
			}
			c = hi<<4 | lo
			i += 2
		}
		raw = append(raw, c)
	}
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii":
		return string(raw), nil
	case "iso-8859-1":
		out := make([]byte, 0, 2*len(raw))
		for _, c := range raw {
			out = utf8.AppendRune(out, rune(c)) // Latin-1 is the first 256 code points
		}
		return string(out), nil
	}
	return "", errors.New("unsupported charset " + charset + " in an RFC 5987 value")
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
