package endpoints

import (
	"fmt"
	"net/http"
	"strings"
)

// Route is what Classify found for a request.
type Route struct {
	Operation Operation // "" when the path is not in the table
	Kind      Kind
	Pattern   string // the table row's pattern, "" when none matched
	// Known reports whether a table row matched. An unknown path under the
	// API prefix is Free for GET, HEAD, OPTIONS and DELETE and Unmetered for
	// anything else, so a new paid endpoint is refused rather than passed.
	Known bool
}

// Classify looks a canonical path up in the table. headers returns a
// request header by lower-case name (nil means none).
//
//   - A path outside the API prefixes is Known=false, Kind Free: Envoy's
//     routing decides what happens to it (the shipped configs answer 404
//     without consulting Proxide).
//   - A WebSocket upgrade (upgrade: websocket, an HTTP/2 extended CONNECT,
//     or any CONNECT) and any path under /realtime are Realtime, Unmetered.
//   - Otherwise the most specific row wins: for each segment from the left
//     a literal beats "{id}", which beats "{rest...}"; a named method beats
//     "*". Literals and methods match case-insensitively; HEAD matches GET rows.
func Classify(method string, p Path, headers func(string) (string, bool)) Route {
	if !p.Prefixed {
		return Route{Kind: Free}
	}
	method = strings.ToUpper(method)
	segs := splitSuffix(p.Suffix)
	r := Route{}
	if e := lookup(method, segs); e != nil {
		r = Route{Operation: e.Operation, Kind: e.Kind, Pattern: e.Pattern, Known: true}
	} else {
		r.Kind = unknownKind(method)
	}
	if isUpgrade(method, headers) || (len(segs) > 0 && strings.EqualFold(segs[0], "realtime")) {
		if !strings.HasPrefix(string(r.Operation), "realtime.") {
			r.Operation = Realtime
		}
		r.Kind = Unmetered
	}
	return r
}

func splitSuffix(suffix string) []string {
	var segs []string
	for _, s := range strings.Split(suffix, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func unknownKind(method string) Kind {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		return Free
	}
	return Unmetered
}

func isUpgrade(method string, headers func(string) (string, bool)) bool {
	if method == http.MethodConnect {
		return true
	}
	if headers == nil {
		return false
	}
	if v, ok := headers("upgrade"); ok && hasToken(v, "websocket") {
		return true
	}
	v, ok := headers(":protocol")
	return ok && strings.EqualFold(strings.TrimSpace(v), "websocket")
}

// hasToken reports whether a comma-separated header value lists token.
func hasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// lookup returns the most specific row matching method and segs, or nil.
func lookup(method string, segs []string) *Endpoint {
	var best *Endpoint
	for i := range table {
		e := &table[i]
		if !methodMatches(e.Method, method) || !segsMatch(e.segs, segs) {
			continue
		}
		if best == nil || moreSpecific(e, best) {
			best = e
		}
	}
	return best
}

func methodMatches(rowMethod, method string) bool {
	return rowMethod == "*" || rowMethod == method || (method == http.MethodHead && rowMethod == http.MethodGet)
}

// segment kinds, most specific first.
const (
	segLiteral = iota
	segWildcard
	segRest
)

func segKind(s string) int {
	switch {
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
		return segRest
	case strings.HasPrefix(s, "{"):
		return segWildcard
	}
	return segLiteral
}

func segsMatch(pattern, segs []string) bool {
	for i, ps := range pattern {
		switch segKind(ps) {
		case segRest:
			return len(segs) > i
		case segWildcard:
			if i >= len(segs) {
				return false
			}
		default:
			if i >= len(segs) || !strings.EqualFold(ps, segs[i]) {
				return false
			}
		}
	}
	return len(pattern) == len(segs)
}

// moreSpecific orders two rows that both match: the first segment where
// their kinds differ decides, then a named method beats "*".
func moreSpecific(a, b *Endpoint) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		ka, kb := segKind(a.segs[i]), segKind(b.segs[i])
		if ka != kb {
			return ka < kb
		}
	}
	return a.Method != "*" && b.Method == "*"
}

// MarkdownTable renders the table for the README: pattern, method, kind and
// how each endpoint is treated.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Path (after /v1) | Method | Kind | Operation | How |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, e := range table {
		m := e.Method
		if m == "*" {
			m = "any"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s |\n", e.Pattern, m, e.Kind, e.Operation, strings.ReplaceAll(e.How, "|", "\\|"))
	}
	return b.String()
}
