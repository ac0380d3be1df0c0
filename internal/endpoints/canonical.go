// Package endpoints knows every OpenAI API endpoint and how Proxide treats
// it (metered, free, or paid but invisible to an ext_proc sidecar), and
// canonicalises request paths before they are looked up.
//
// Canonicalisation exists because matching raw paths lets paid calls slip
// through unmetered: "/openai/v1/chat%2Fcompletions", "/openai/v1//chat/completions",
// "/openai/v1/%63hat/completions", "/openai/v1/./chat/completions" and
// "/OpenAI/V1/chat/completions/" may all reach the same upstream handler.
// Envoy's connection manager can normalise paths too (normalize_path,
// merge_slashes, path_with_escaped_slashes_action); Proxide does not rely on
// it, so a deployment that forgets those settings is still metered.
//
//	p, err := endpoints.Canonicalize(":path value", []string{"/openai/v1", "/v1"})
//	if err != nil { /* 400: errors.Is(err, endpoints.ErrAmbiguousPath) */ }
//	r := endpoints.Classify(method, p, headers)
package endpoints

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrAmbiguousPath is returned for a path that servers may read in different
// ways (an escaped slash, a backslash, matrix parameters, invalid escapes or
// UTF-8, control characters, ".." above the root or into the API prefix).
// The caller answers 400: such a request is never passed on unmetered.
var ErrAmbiguousPath = errors.New("ambiguous path")

// Path is a canonical request path.
type Path struct {
	// Suffix is the canonical path after the matched API prefix, e.g.
	// "/chat/completions" ("/" for the prefix itself), or the whole
	// canonical path when no prefix matched. Case is preserved; escapes of
	// unreserved characters are decoded, other escapes are upper-case hex.
	Suffix string
	// Query is the raw query string, without the "?" (never canonicalised).
	Query string
	// Prefixed reports whether one of the API prefixes matched.
	Prefixed bool
}

// Canonicalize splits rawPath (an HTTP :path) into path and query, decodes
// and normalises the path and strips the longest matching API prefix:
//
//   - the query and any fragment are split off first;
//   - %XX escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded,
//     other escapes are kept with upper-case hex, and bytes that must be
//     escaped (non-ASCII, space, quotes...) are escaped;
//   - an escaped slash or backslash (%2F %2f %5C %5c), a raw backslash, a raw
//     ";" (matrix parameters), a bad escape, a control character or invalid
//     UTF-8 (after decoding every escape) is ErrAmbiguousPath;
//   - doubled slashes are merged, "." and ".." segments resolved (".." above
//     the root, or one that climbs back into the API prefix the raw path
//     started with, is ErrAmbiguousPath: a prefix rewrite after Proxide would
//     resolve it differently), and a trailing slash is dropped;
//   - prefixes ("/openai/v1", "/v1", ...) match case-insensitively at a
//     segment boundary, the longest one wins.
func Canonicalize(rawPath string, prefixes []string) (Path, error) {
	path, query := rawPath, ""
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	if !strings.HasPrefix(path, "/") {
		return Path{}, fmt.Errorf("%w: %q does not start with /", ErrAmbiguousPath, path)
	}
	segs, err := decodeSegments(path)
	if err != nil {
		return Path{}, err
	}
	pre := splitPrefixes(prefixes)
	rawDepth := longestPrefix(segs, pre)
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		switch s {
		case ".":
		case "..":
			if len(out) == 0 {
				return Path{}, fmt.Errorf("%w: %q climbs above the root", ErrAmbiguousPath, path)
			}
			if rawDepth > 0 && i >= rawDepth && len(out) <= rawDepth {
				return Path{}, fmt.Errorf("%w: %q climbs back into the API prefix", ErrAmbiguousPath, path)
			}
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	p := Path{Query: query}
	depth := longestPrefix(out, pre)
	if depth >= 0 {
		p.Prefixed = true
		out = out[depth:]
	}
	p.Suffix = "/" + strings.Join(out, "/")
	return p, nil
}

// decodeSegments splits a path into its non-empty segments (merging doubled
// slashes and dropping a trailing one), each in canonical escaped form.
func decodeSegments(path string) ([]string, error) {
	var segs []string
	var seg, decoded []byte // canonical form; fully decoded form (for UTF-8)
	flush := func() error {
		if len(seg) == 0 {
			return nil
		}
		if !utf8.Valid(decoded) {
			return fmt.Errorf("%w: segment %q is not UTF-8", ErrAmbiguousPath, seg)
		}
		segs = append(segs, string(seg))
		seg, decoded = seg[:0], decoded[:0]
		return nil
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/':
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		case c == '%':
			if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
				return nil, fmt.Errorf("%w: bad escape in %q", ErrAmbiguousPath, path)
			}
			b := unhex(path[i+1])<<4 | unhex(path[i+2])
			i += 2
			switch {
			case b == '/' || b == '\\':
				return nil, fmt.Errorf("%w: escaped slash in %q", ErrAmbiguousPath, path)
			case isControl(b):
				return nil, fmt.Errorf("%w: escaped control character in %q", ErrAmbiguousPath, path)
			case isUnreserved(b):
				seg = append(seg, b)
			default:
				seg = appendEscape(seg, b)
			}
			decoded = append(decoded, b)
			continue
		case c == '\\':
			return nil, fmt.Errorf("%w: backslash in %q", ErrAmbiguousPath, path)
		case c == ';':
			return nil, fmt.Errorf("%w: matrix parameters in %q", ErrAmbiguousPath, path)
		case isControl(c):
			return nil, fmt.Errorf("%w: control character in %q", ErrAmbiguousPath, path)
		case isPathChar(c):
			seg = append(seg, c)
		default:
			seg = appendEscape(seg, c)
		}
		decoded = append(decoded, c)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return segs, nil
}

// splitPrefixes turns "/openai/v1/" into ["openai", "v1"].
func splitPrefixes(prefixes []string) [][]string {
	out := make([][]string, 0, len(prefixes))
	for _, p := range prefixes {
		var segs []string
		for _, s := range strings.Split(p, "/") {
			if s != "" {
				segs = append(segs, s)
			}
		}
		out = append(out, segs)
	}
	return out
}

// longestPrefix returns the segment count of the longest prefix that segs
// start with (case-insensitively), or -1.
func longestPrefix(segs []string, prefixes [][]string) int {
	best := -1
	for _, p := range prefixes {
		if len(p) <= best || len(p) > len(segs) {
			continue
		}
		ok := true
		for i, s := range p {
			if !strings.EqualFold(segs[i], s) {
				ok = false
				break
			}
		}
		if ok {
			best = len(p)
		}
	}
	return best
}

const upperHex = "0123456789ABCDEF"

func appendEscape(b []byte, c byte) []byte {
	return append(b, '%', upperHex[c>>4], upperHex[c&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// isUnreserved is RFC 3986 unreserved: ALPHA DIGIT - . _ ~
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar is RFC 3986 pchar minus "%" (handled apart) and ";" (refused):
// unreserved, the other sub-delims, ":" and "@". Anything else is escaped.
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0
}
