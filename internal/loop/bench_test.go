package loop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proxide/proxide/bench"
	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/loop/corpus"
	"github.com/proxide/proxide/internal/usage"
)

// BenchmarkNoop is the floor BenchmarkDetect is read against.
func BenchmarkNoop(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
	}
}

// parsedCorpus parses every corpus request once, as the gateway has already
// done by the time loop detection runs.
func parsedCorpus(tb testing.TB) []usage.Request {
	tb.Helper()
	traces, err := corpus.ReadFile(corpusPath)
	if err != nil {
		tb.Fatal(err)
	}
	var reqs []usage.Request
	for _, t := range traces {
		for _, r := range t.Requests {
			ep := usage.ChatCompletions
			if r.Endpoint == corpus.EndpointResponses {
				ep = usage.Responses
			}
			req, err := usage.ParseRequest(ep, r.Body, usage.Options{ExactPromptBytes: 1})
			if err != nil {
				tb.Fatal(err)
			}
			reqs = append(reqs, req)
		}
	}
	return reqs
}

// BenchmarkDetect is the per-request cost of loop detection after
// ParseRequest: Compute the signature and Observe it in the client's window
// (32 entries once warm), over every request of the corpus in turn.
func BenchmarkDetect(b *testing.B) {
	reqs := parsedCorpus(b)
	c := loop.DefaultConfig()
	b.Run("corpus", func(b *testing.B) {
		var w loop.Window
		now := time.Unix(1_760_000_000, 0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			now = now.Add(time.Second)
			w.Observe(now, loop.Compute(reqs[i%len(reqs)]), c)
			i++
		}
	})
	// The worst case: a full tail of MaxTailItems items of MaxTailText bytes.
	long := strings.Repeat("The deployment of service 42 failed at 2025-06-02T09:00:00Z with error code E1234; retrying. ", 30)[:usage.MaxTailText]
	worst := usage.Request{Model: "gpt-4o", Digest: 1}
	for i := range usage.MaxTailItems {
		role, kind := "tool", usage.KindOutput
		if i%2 == 0 {
			role, kind = "assistant", usage.KindCall
		}
		worst.Tail = append(worst.Tail, usage.TailItem{Role: role, Kind: kind, Name: "run", Text: long, Size: 5000})
	}
	b.Run("worst-case-tail", func(b *testing.B) {
		var w loop.Window
		now := time.Unix(1_760_000_000, 0)
		b.ReportAllocs()
		b.SetBytes(int64(usage.MaxTailItems * usage.MaxTailText))
		for b.Loop() {
			now = now.Add(time.Second)
			w.Observe(now, loop.Compute(worst), c)
		}
	})
}

// BenchmarkCompute and BenchmarkObserve split the cost.
func BenchmarkCompute(b *testing.B) {
	reqs := parsedCorpus(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		loop.Compute(reqs[i%len(reqs)])
		i++
	}
}

func BenchmarkObserve(b *testing.B) {
	reqs := parsedCorpus(b)
	sigs := make([]loop.Signature, len(reqs))
	for i, r := range reqs {
		sigs[i] = loop.Compute(r)
	}
	c := loop.DefaultConfig()
	var w loop.Window
	now := time.Unix(1_760_000_000, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(time.Second)
		w.Observe(now, sigs[i%len(sigs)], c)
		i++
	}
}

// prompt350 is the load harness's request (bench.StreamedChat): a one-line
// system prompt and a 350-word user prompt, here with the odd number, date
// and id real prompts carry. 2.3 KB of text: its tail item is bounded to
// usage.MaxTailText.
func prompt350(tb testing.TB) usage.Request {
	tb.Helper()
	vocab := strings.Fields("the budget gateway meters every request and settles the exact cost of each streamed " +
		"response so that no agent or tenant can spend beyond its daily limit while loops are stopped early. " +
		"Order 84512 was placed on 2025-06-02, 3 items; see ticket INC-20931 (req_8f3a2b1c9d), page 2:")
	text := bench.WordsFrom(vocab, 350, 42)
	body := `{"model":"gpt-4o-mini","stream":true,"max_tokens":400,"messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"` + text + `"}]}`
	req, err := usage.ParseRequest(usage.ChatCompletions, []byte(body), usage.Options{ExactPromptBytes: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// BenchmarkComputePrompt is Compute on the load harness's 350-word prompt.
func BenchmarkComputePrompt(b *testing.B) {
	req := prompt350(b)
	b.ReportAllocs()
	for b.Loop() {
		loop.Compute(req)
	}
}

// BenchmarkExcerpt is the gateway's Excerpt(req, 200), made on every metered
// request, on the 350-word prompt and over the corpus.
func BenchmarkExcerpt(b *testing.B) {
	const limit = 200 // extproc's excerptBytes
	b.Run("prompt", func(b *testing.B) {
		req := prompt350(b)
		b.ReportAllocs()
		for b.Loop() {
			loop.Excerpt(req, limit)
		}
	})
	b.Run("corpus", func(b *testing.B) {
		reqs := parsedCorpus(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			loop.Excerpt(reqs[i%len(reqs)], limit)
			i++
		}
	})
}
