package loop

import (
	"bytes"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/proxide/proxide/internal/usage"
)

// fuzzEndpoints are the request shapes a loop signature is computed from.
var fuzzEndpoints = []usage.Endpoint{usage.ChatCompletions, usage.Responses, usage.Completions, usage.Embeddings}

// FuzzSignature: any request body the parser accepts gets a signature without panicking,
// deterministically; a signature is fully similar to itself when it can be compared at
// all; similarity stays in [0, 1] and is symmetric; the excerpt is valid UTF-8 within
// its limit; and a window that observed it encodes and decodes to the same bytes (what
// window.lua keeps in Redis).
func FuzzSignature(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Run the tests again. Attempt 7 at 2025-06-02T09:00:00Z"}]}`), uint8(0))
	f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are a coding agent."},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"run","arguments":"{\"cmd\":\"go test ./...\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"FAIL x_test.go:12"}]}`), uint8(0))
	f.Add([]byte(`{"model":"o3","input":[{"role":"user","content":[{"type":"input_text","text":"café 3rd"},{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`), uint8(1))
	f.Add([]byte(`{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"]}`), uint8(2))
	f.Add([]byte(`{"model":"text-embedding-3-small","input":"hello"}`), uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		ep := fuzzEndpoints[int(mode)%len(fuzzEndpoints)]
		r, err := usage.ParseRequest(ep, body, usage.Options{})
		if err != nil {
			return
		}
		a, b := Compute(r), Compute(r)
		if a != b {
			t.Fatalf("not deterministic: %+v %+v", a, b)
		}
		if self := Similarity(a, a); (a.Exact != 0 || a.Size >= MinSize) && self != 1 {
			t.Fatalf("similarity with itself %v for %+v", self, a)
		}
		var other Signature
		if s, rs := Similarity(a, other), Similarity(other, a); s < 0 || s > 1 || s != rs {
			t.Fatalf("similarity %v / %v", s, rs)
		}
		ex := Excerpt(r, 200)
		if !utf8.ValidString(ex) || len(ex) > 200 {
			t.Fatalf("excerpt %q", ex)
		}
		var w Window
		now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		cfg := DefaultConfig()
		w.Observe(now, a, cfg)
		v := w.Observe(now.Add(time.Second), a, cfg)
		if cfg.MaxRepeats > 1 && v.Loop {
			t.Fatalf("a loop after two requests: %+v", v)
		}
		enc, err := w.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Window
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		again, err := back.MarshalBinary()
		if err != nil || !bytes.Equal(enc, again) {
			t.Fatalf("window encoding does not round-trip: %v", err)
		}
	})
}
