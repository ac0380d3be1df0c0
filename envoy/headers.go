package envoy

import (
	"net/http"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// headerEntry is one header line; keys are lower-case like Envoy's LowerCaseString.
type headerEntry struct {
	key, value string
}

// headerMap is an ordered multi-map like Envoy's HeaderMapImpl: pseudo-headers
// first, then the rest in insertion order, one entry per value.
type headerMap struct {
	entries []headerEntry
}

// hopByHop are connection-specific headers that Envoy's HTTP connection
// manager and router never forward (they are not visible to ext_proc either).
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true,
	"transfer-encoding": true, "upgrade": true, "te": true,
}

func (h *headerMap) get(key string) (string, bool) {
	for _, e := range h.entries {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

func (h *headerMap) values(key string) []string {
	var out []string
	for _, e := range h.entries {
		if e.key == key {
			out = append(out, e.value)
		}
	}
	return out
}

func (h *headerMap) has(key string) bool {
	_, ok := h.get(key)
	return ok
}

// add appends a value (Envoy's addCopy); pseudo-headers stay in front.
func (h *headerMap) add(key, value string) {
	e := headerEntry{key: key, value: value}
	if strings.HasPrefix(key, ":") {
		i := 0
		for i < len(h.entries) && strings.HasPrefix(h.entries[i].key, ":") {
			i++
		}
		h.entries = append(h.entries[:i], append([]headerEntry{e}, h.entries[i:]...)...)
		return
	}
	h.entries = append(h.entries, e)
}

// set replaces every value of key by one value at the first one's position
// (Envoy's setCopy), or appends it.
func (h *headerMap) set(key, value string) {
	for i, e := range h.entries {
		if e.key == key {
			h.entries[i].value = value
			h.removeAfter(key, i)
			return
		}
	}
	h.add(key, value)
}

func (h *headerMap) removeAfter(key string, first int) {
	out := h.entries[:first+1]
	for _, e := range h.entries[first+1:] {
		if e.key != key {
			out = append(out, e)
		}
	}
	h.entries = out
}

func (h *headerMap) remove(key string) {
	out := h.entries[:0]
	for _, e := range h.entries {
		if e.key != key {
			out = append(out, e)
		}
	}
	h.entries = out
}

// byteSize is Envoy's HeaderMap::byteSize: the sum of key and value lengths.
func (h *headerMap) byteSize() int {
	n := 0
	for _, e := range h.entries {
		n += len(e.key) + len(e.value)
	}
	return n
}

// proto renders the map for ext_proc: every value in raw_value, never value.
func (h *headerMap) proto() *corev3.HeaderMap {
	out := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(h.entries))}
	for _, e := range h.entries {
		out.Headers = append(out.Headers, &corev3.HeaderValue{Key: e.key, RawValue: []byte(e.value)})
	}
	return out
}

// httpHeader converts the regular (non-pseudo, non-hop-by-hop) entries.
func (h *headerMap) httpHeader(dst http.Header) {
	for _, e := range h.entries {
		if strings.HasPrefix(e.key, ":") || hopByHop[e.key] {
			continue
		}
		dst[http.CanonicalHeaderKey(e.key)] = append(dst[http.CanonicalHeaderKey(e.key)], e.value)
	}
}

// addHTTPHeader appends Go headers lower-cased in sorted key order (Go keeps
// no wire order), skipping hop-by-hop headers.
func (h *headerMap) addHTTPHeader(src http.Header) {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if hopByHop[lk] || lk == "host" {
			continue
		}
		for _, v := range src[k] {
			h.add(lk, v)
		}
	}
}
