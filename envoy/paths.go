package envoy

import (
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// pathAction is what the connection manager decided about a request path.
type pathAction int

const (
	pathContinue pathAction = iota
	pathReject              // 400, before any filter runs
	pathRedirect            // 307 to the unescaped path (UNESCAPE_AND_REDIRECT)
)

// normalizePath is ConnectionManagerUtility::maybeNormalizePath, applied by
// the HCM to :path before the filter chain (so before ext_proc) and kept for
// the router and the upstream: escaped slashes first
// (path_with_escaped_slashes_action), then RFC 3986 normalisation
// (normalize_path), then merge_slashes. The query is never touched.
func (c *config) normalizePath(raw string) (string, pathAction) {
	if c.KeepRawPath {
		return raw, pathContinue
	}
	path, query := raw, ""
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		path, query = raw[:i], raw[i:]
	}
	action := pathContinue
	switch c.PathWithEscapedSlashesAction {
	case hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT, hcmv3.HttpConnectionManager_KEEP_UNCHANGED:
	default:
		if unescaped, found := unescapeSlashes(path); found {
			switch c.PathWithEscapedSlashesAction {
			case hcmv3.HttpConnectionManager_REJECT_REQUEST:
				return raw, pathReject
			case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT:
				action = pathRedirect
			}
			path = unescaped
		}
	}
	if c.NormalizePath {
		n, ok := canonicalPath(path)
		if !ok {
			return raw, pathReject
		}
		path = n
	}
	if c.MergeSlashes {
		path = mergeSlashes(path)
	}
	return path + query, action
}

// unescapeSlashes is PathUtil::unescapeSlashes: %2F and %5C (either case)
// become "/" and "\".
func unescapeSlashes(path string) (string, bool) {
	var b strings.Builder
	found := false
	for i := 0; i < len(path); i++ {
		if path[i] == '%' && i+2 < len(path) && path[i+1] == '2' && (path[i+2] == 'F' || path[i+2] == 'f') {
			b.WriteByte('/')
			i += 2
			found = true
			continue
		}
		if path[i] == '%' && i+2 < len(path) && path[i+1] == '5' && (path[i+2] == 'C' || path[i+2] == 'c') {
			b.WriteByte('\\')
			i += 2
			found = true
			continue
		}
		b.WriteByte(path[i])
	}
	return b.String(), found
}

// canonicalPath follows PathUtil::canonicalPath, which uses Chromium's URL
// path canonicaliser: a backslash is a separator, escapes of unreserved
// characters are decoded (so %2E%2E is ".."), other escapes are kept as
// they are, characters that must be escaped are, "." and ".." segments are
// resolved (".." never climbs above the root), empty segments are kept. An
// escaped NUL fails the request. Envoy's tests: /a/..\c → /c,
// /a/b/%2E%2E/c → /a/c, /a/%2F%2f/c unchanged, /%5c%25 unchanged.
func canonicalPath(path string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			b.WriteByte('/')
		case c == '%' && i+2 < len(path) && isHexDigit(path[i+1]) && isHexDigit(path[i+2]):
			v := hexValue(path[i+1])<<4 | hexValue(path[i+2])
			switch {
			case v == 0:
				return "", false
			case isUnreservedByte(v):
				b.WriteByte(v)
			default:
				b.WriteString(path[i : i+3])
			}
			i += 2
		case c <= ' ' || c >= 0x7f || strings.IndexByte("\"#<>`{}", c) >= 0:
			if c == 0 {
				return "", false
			}
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	s := strings.TrimPrefix(b.String(), "/")
	segs := strings.Split(s, "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
			continue
		}
		if last {
			out = append(out, "") // "/a/b/.." is "/a/": the directory
		}
	}
	return "/" + strings.Join(out, "/"), true
}

// mergeSlashes is PathUtil::mergeSlashes: runs of "/" become one.
func mergeSlashes(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && i > 0 && path[i-1] == '/' {
			continue
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func isUnreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
