package loop

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/usage"
)

// equivalenceLimits are the excerpt limits compared: cuts inside the header,
// inside a text, the gateway's 200, and whole tails.
var equivalenceLimits = []int{0, 1, 7, 20, 64, 200, 333, 1000, 1 << 20}

// requireSame fails when Compute or Excerpt differ from the reference for r.
func requireSame(t *testing.T, r usage.Request, what string) {
	t.Helper()
	if got, want := Compute(r), refCompute(r); got != want {
		t.Fatalf("%s: Compute %+v, reference %+v", what, got, want)
	}
	for _, limit := range equivalenceLimits {
		if got, want := Excerpt(r, limit), refExcerpt(r, limit); got != want {
			t.Fatalf("%s: Excerpt(%d)\n got %q\nwant %q", what, limit, got, want)
		}
	}
}

// textRequests wraps one text in the item kinds that sketch it differently:
// prose, a call's arguments, a tool output, a bounded (cut) text, media.
func textRequests(s string) []usage.Request {
	user := usage.TailItem{Role: "user", Kind: usage.KindText, Text: s, Size: len(s)}
	call := usage.TailItem{Role: "assistant", Kind: usage.KindCall, Name: "Run_Tests", Text: s, Size: len(s)}
	output := usage.TailItem{Role: "tool", Kind: usage.KindOutput, Text: s, Size: len(s) + 5000}
	media := usage.TailItem{Role: "user", Kind: usage.KindMedia, Text: s}
	sys := usage.TailItem{Role: "system", Kind: usage.KindText, Text: s, Size: len(s)}
	return []usage.Request{
		{Model: "gpt-4o", Digest: 1, Tail: []usage.TailItem{user}},
		{Model: "o3", Tail: []usage.TailItem{sys, user, call, output, output}},
		{Model: "GPT-4o", Tail: []usage.TailItem{media, user}},
		{Model: "x", Tail: []usage.TailItem{sys}},
	}
}

// requireSameText compares the sketch and the redaction of one raw text.
func requireSameText(t *testing.T, s string) {
	t.Helper()
	for i, r := range textRequests(s) {
		requireSame(t, r, "text request "+strconv.Itoa(i))
	}
	if got, want := redact(s), refRedact(s); got != want {
		t.Fatalf("redact(%q)\n got %q\nwant %q", s, got, want)
	}
	for _, room := range []int{-1, 0, 1, 5, 50, 189} {
		if got, want := redactPrefix(s, room), refRedactPrefix(s, room); got != want {
			t.Fatalf("redactPrefix(%q, %d)\n got %q\nwant %q", s, room, got, want)
		}
	}
}

// equivalenceSeeds are texts at the edges of the tokenizer and of redaction.
var equivalenceSeeds = []string{
	"",
	"Attempt 7: run the tests at 2025-06-02T09:00:00Z (request 550e8400-e29b-41d4-a716-446655440000)",
	"----::..//1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16-17-18-19-20-21",
	"retry #3 of 5, took 250ms, age 5m12s, the 3rd time; commit 3f2a9c1 deadbeef ab12 x86 4o 1080p",
	"café\u00a0naïve\u2003spaces\u3000and\u0085next\u2028line \t\n\v\f\r end",
	"abc12345\u00a0xyz 2025-06-02\u00a0 12:00 \xe2\x80 \xff\xfe id=\xc2",
	"  leading and trailing  \n\n",
	"日本語のテキスト 2025年6月2日 12:34:56",
	strings.Repeat("retry 12345 of job 550e8400-e29b-41d4-a716-446655440000 at 2026-11-28T10:00:00Z   \n\n", 40),
	"a" + strings.Repeat(" ", 700) + "b c d",
	strings.Repeat("error ", 300),
	"HTTP 503 at 2025-06-02T09:00:00Z, v1.2.3-rc.4, 10.0.0.1:8080/a/b, 0x1F2E3D, AFEC-12ab-3c4d",
}

// TestEquivalenceSeeds and TestEquivalenceRandom run the comparison under go
// test; FuzzEquivalence explores further.
func TestEquivalenceSeeds(t *testing.T) {
	for _, s := range equivalenceSeeds {
		requireSameText(t, s)
	}
}

// TestEquivalenceRandom compares texts drawn from the pieces the tokenizer
// treats specially, so that rare paths (long numeric groups, counters, hex
// words, Unicode spaces, invalid UTF-8) are met on every run.
func TestEquivalenceRandom(t *testing.T) {
	pieces := []string{
		"the", "Attempt", "retry", "#", "of", "no", "TIME", "7", "12", "2025", "1712345678901", "3rd", "250ms", "5m12s",
		"4k", "x86", "v2", "deadbeef", "abc12345", "afec", "AFEC", "ab12", "3f2a9c1", "req_8f3a2b1c9d", "_", "é", "日本",
		"-", ":", ".", "/", "--", "::", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u0085", "\u3000", "\xe2\x80", "\xff",
		",", ";", "(", ")", "\"", "{", "}", "=", "…", "0", "1", "0x1f", "550e8400-e29b-41d4-a716-446655440000",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 1000
	if testing.Short() {
		n = 200
	}
	var b strings.Builder
	for range n {
		b.Reset()
		for range 1 + rng.IntN(120) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		requireSameText(t, b.String())
	}
}

// TestEquivalenceCorpus compares every corpus request.
func TestEquivalenceCorpus(t *testing.T) {
	traces, err := corpus.ReadFile("testdata/corpus.jsonl.gz")
	require.NoError(t, err)
	for _, tr := range traces {
		for i, r := range tr.Requests {
			ep := usage.ChatCompletions
			if r.Endpoint == corpus.EndpointResponses {
				ep = usage.Responses
			}
			req, err := usage.ParseRequest(ep, r.Body, usage.Options{ExactPromptBytes: 1})
			require.NoError(t, err)
			requireSame(t, req, tr.ID+" request "+strconv.Itoa(i))
		}
	}
}

// FuzzEquivalence: for any request body the parser accepts, and any text,
// Compute and Excerpt give what the reference implementation gives.
func FuzzEquivalence(f *testing.F) {
	for _, s := range equivalenceSeeds {
		f.Add([]byte(`{"model":"gpt-4o","messages":[{"role":"user","content":`+quote(s)+`}]}`), uint8(0))
	}
	f.Add([]byte(agentChat("gpt-4o", [3]string{"Let me fetch it.", `{"url":"https://api.example.com/v1/orders/84512"}`,
		"HTTP 503 at 2025-06-02T09:00:00Z (request 550e8400-e29b-41d4-a716-446655440000), attempt 7"})), uint8(0))
	f.Add([]byte(`{"model":"o3","input":[{"role":"user","content":[{"type":"input_text","text":"café 3rd"},{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8) {
		requireSameText(t, string(body))
		r, err := usage.ParseRequest(fuzzEndpoints[int(mode)%len(fuzzEndpoints)], body, usage.Options{})
		if err != nil {
			return
		}
		requireSame(t, r, "parsed request")
	})
}
