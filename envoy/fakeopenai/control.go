package fakeopenai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// control holds the x-fake-* request headers (listed in the package doc).
type control struct {
	status         int
	words          int
	cutAfter       int // events before the connection is cut; -1 = never
	delayMS        int
	ignoreUsage    bool
	split          int
	cached         int
	reasoning      int // -1 = formula
	toolCall       string
	toolCallForced bool

	thinkMS         int             // pause before the first visible delta
	promptTokens    int             // -1 = formula
	usage           json.RawMessage // x-fake-usage: replaces every reported usage object
	omitUsage       bool            // x-fake-usage: omit
	backgroundPolls int             // GETs answered before a background response completes
	toolCalls       int             // calls per built-in Responses tool
	batchPolls      int             // GETs answered before a batch completes
	batchFailed     int             // batch lines (from the end) answered with a 500
}

func readControl(h http.Header) control {
	c := control{
		status:          headerInt(h, "x-fake-status", 0),
		words:           headerInt(h, "x-fake-words", defaultWords),
		cutAfter:        headerInt(h, "x-fake-cut-after", -1),
		delayMS:         headerInt(h, "x-fake-delay-ms", 0),
		split:           headerInt(h, "x-fake-split", 0),
		cached:          headerInt(h, "x-fake-cached-tokens", 0),
		reasoning:       headerInt(h, "x-fake-reasoning-tokens", -1),
		thinkMS:         headerInt(h, "x-fake-think-ms", 0),
		promptTokens:    headerInt(h, "x-fake-prompt-tokens", -1),
		backgroundPolls: max(headerInt(h, "x-fake-background-polls", 1), 0),
		toolCalls:       max(headerInt(h, "x-fake-tool-calls", 1), 0),
		batchPolls:      max(headerInt(h, "x-fake-batch-polls", 1), 0),
		batchFailed:     max(headerInt(h, "x-fake-batch-failed", 0), 0),
	}
	c.ignoreUsage = h.Get("x-fake-ignore-include-usage") != ""
	c.toolCall = h.Get("x-fake-tool-call")
	c.toolCallForced = c.toolCall != ""
	if c.words < 0 {
		c.words = 0
	}
	switch v := h.Get("x-fake-usage"); {
	case v == "omit":
		c.omitUsage = true
	case v != "" && json.Valid([]byte(v)):
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(v)) == nil {
			c.usage = buf.Bytes()
		}
	}
	return c
}

func headerInt(h http.Header, name string, def int) int {
	v := h.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}

// usageScripted reports whether x-fake-usage replaces the usage objects.
func (c control) usageScripted() bool { return c.omitUsage || c.usage != nil }

// usageJSON is the usage member to report: the scripted one (nil when it
// must be omitted) or v.
func (c control) usageJSON(v any) json.RawMessage {
	switch {
	case c.omitUsage:
		return nil
	case c.usage != nil:
		return c.usage
	}
	return mustJSON(v)
}

// spliceUsage applies x-fake-usage to a top-level JSON object: a non-null
// "usage" member is replaced (or removed for "omit"). Members keep their
// order and bytes, so a scripted answer differs from the real one only there.
func (c control) spliceUsage(doc []byte) []byte {
	if !c.usageScripted() || !bytes.Contains(doc, []byte(`"usage"`)) {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return doc
	}
	var out bytes.Buffer
	out.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return doc
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return doc
		}
		if key == "usage" && !bytes.Equal(val, []byte("null")) {
			if c.omitUsage {
				continue
			}
			val = c.usage
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		out.Write(mustJSON(key))
		out.WriteByte(':')
		out.Write(val)
	}
	out.WriteByte('}')
	return out.Bytes()
}

// think waits x-fake-think-ms: a reasoning model says nothing visible while
// it thinks, so a meter's first-byte logic can be tested.
func (ex *exchange) think() error { return ex.pause(ex.ctl.thinkMS) }

// pause sleeps ms milliseconds unless the client goes away first.
func (ex *exchange) pause(ms int) error {
	if ms <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ex.r.Context().Done():
		return ex.r.Context().Err()
	}
}
