package usage

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkNoop is the floor the other benchmarks are read against.
func BenchmarkNoop(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
	}
}

// chatStream builds a realistic chat stream of n content events with
// include_usage on ("usage":null on every chunk, a usage chunk, [DONE]),
// returned as its natural chunks: one event each, as an HTTP/1 upstream
// delivers them.
func chatStream(n int) [][]byte {
	words := strings.Fields("Sure! Here is a detailed answer to your question about streaming token usage, " +
		"with café examples, \"quoted\" text, and a few numbers like 42 and 3.14.\n")
	head := `data: {"id":"chatcmpl-BxQ2k9Zr7sWm1uVt3aN8pLhYc4eDf","object":"chat.completion.chunk","created":1753372800,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_34a54ae93c","choices":`
	chunks := make([][]byte, 0, n+2)
	for i := range n {
		w, _ := json.Marshal(" " + words[i%len(words)])
		chunks = append(chunks, []byte(head+`[{"index":0,"delta":{"content":`+string(w)+`},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n"))
	}
	chunks = append(chunks,
		[]byte(head+`[],"usage":{"prompt_tokens":1234,"completion_tokens":`+fmt.Sprint(n)+`,"total_tokens":1734,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`+"\n\n"),
		[]byte("data: [DONE]\n\n"))
	return chunks
}

func BenchmarkMeterSSE(b *testing.B) {
	chunks := chatStream(500)
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	for _, c := range []struct {
		name         string
		strip, reuse bool
	}{{"strip=false", false, false}, {"strip=true", true, false}, {"strip=true/reuse", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			opts := MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o-mini", SSE: true, StripInjectedUsage: c.strip, ReuseOutput: c.reuse}
			for b.Loop() {
				m := NewMeter(opts)
				for i, c := range chunks {
					m.Write(c, i == len(chunks)-1)
				}
				// exact usage arrives, so the output text is never tokenised
				if res := m.Result(); !res.HasUsage || !res.Complete || res.OutputTokens != 0 || m.tokenised != 0 {
					b.Fatalf("bad result %+v (%d tokenisations)", res, m.tokenised)
				}
			}
		})
	}
}

// BenchmarkMeterSSEShort: the load harness's stream (20 content chunks),
// where what a Meter costs once per response (the usage chunk's decoding)
// weighs more than in a long one.
func BenchmarkMeterSSEShort(b *testing.B) {
	chunks := chatStream(20)
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	opts := MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o-mini", SSE: true, StripInjectedUsage: true, ReuseOutput: true}
	for b.Loop() {
		m := NewMeter(opts)
		for i, c := range chunks {
			m.Write(c, i == len(chunks)-1)
		}
		if res := m.Result(); !res.HasUsage || !res.Complete {
			b.Fatalf("bad result %+v", res)
		}
	}
}

// BenchmarkDecodeUsage: the usage object of a chat stream's last chunk.
func BenchmarkDecodeUsage(b *testing.B) {
	raw := []byte(`{"prompt_tokens":1234,"completion_tokens":20,"total_tokens":1254,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := decodeUsage(raw); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","stream":true,"max_tokens":256,"messages":[` +
		`{"role":"system","content":"You are a helpful assistant that answers briefly."},` +
		`{"role":"user","content":"What is the capital of France, and why is it famous?"}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseRequest(ChatCompletions, body, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// prompt350 is a 350-word user prompt, the load harness's (about 2 KB).
func prompt350() string {
	words := strings.Fields("Please review the following design notes for our billing pipeline and " +
		"point out any \"edge cases\" we missed: retries, partial streams, café-style unicode, 42 limits.")
	var sb strings.Builder
	for i := range 350 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(words[i%len(words)])
	}
	return sb.String()
}

// requestBodies are the request shapes the sidecar parses most, with the
// load harness's prompt: a streamed chat, a Responses request and an
// embeddings request.
func requestBodies() []struct {
	name string
	ep   Endpoint
	body []byte
} {
	p, _ := json.Marshal(prompt350())
	return []struct {
		name string
		ep   Endpoint
		body []byte
	}{
		{"chat", ChatCompletions, []byte(`{"model":"gpt-4o-mini","stream":true,"max_tokens":256,"temperature":0.7,"messages":[` +
			`{"role":"system","content":"You are a helpful assistant that answers briefly."},` +
			`{"role":"user","content":` + string(p) + `}]}`)},
		{"responses", Responses, []byte(`{"model":"gpt-4.1-mini","stream":true,"max_output_tokens":512,"instructions":"You are a helpful assistant.",` +
			`"input":[{"role":"user","content":[{"type":"input_text","text":` + string(p) + `}]}],` +
			`"tools":[{"type":"function","name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]}`)},
		{"embeddings", Embeddings, []byte(`{"model":"text-embedding-3-small","input":[` + string(p) + `,"a second, shorter input"]}`)},
	}
}

// BenchmarkParseRequestShapes: ParseRequest on the load harness's bodies,
// with a CountCache as the sidecar has, so that the decoding shows.
func BenchmarkParseRequestShapes(b *testing.B) {
	for _, in := range requestBodies() {
		b.Run(in.name, func(b *testing.B) {
			opts := Options{Counts: NewCountCache()}
			b.ReportAllocs()
			b.SetBytes(int64(len(in.body)))
			for b.Loop() {
				if _, err := ParseRequest(in.ep, in.body, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMeterJSONEmbeddings: a non-streaming embeddings body is mostly
// floats, skipped at byte-scan speed without being buffered.
func BenchmarkMeterJSONEmbeddings(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"object":"list","data":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"object":"embedding","index":%d,"embedding":[`, i)
		for j := range 1536 {
			if j > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "%.9f", float64((i*j)%1000-500)/7919)
		}
		sb.WriteString("]}")
	}
	sb.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":800,"total_tokens":800}}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		m := NewMeter(MeterOptions{Endpoint: Embeddings})
		for off := 0; off < len(body); off += 16 << 10 {
			end := min(off+16<<10, len(body))
			m.Write(body[off:end], end == len(body))
		}
		if res := m.Result(); !res.HasUsage || !res.Complete {
			b.Fatalf("bad result %+v", res)
		}
	}
}

// BenchmarkParseRequestImage: a vision request whose body is mostly one
// base64 image; the image bytes must only be skipped, never decoded.
func BenchmarkParseRequestImage(b *testing.B) {
	img := strings.Repeat("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg", 40000)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},` +
		`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + img + `","detail":"high"}}]}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseRequest(ChatCompletions, body, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMeterSSENoUsage: the same stream from an upstream that ignored
// include_usage, so the output text must be tokenised for settling.
func BenchmarkMeterSSENoUsage(b *testing.B) {
	chunks := chatStream(500)
	chunks = append(chunks[:len(chunks)-2:len(chunks)-2], chunks[len(chunks)-1])
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	opts := MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o-mini", SSE: true}
	for b.Loop() {
		m := NewMeter(opts)
		for i, c := range chunks {
			m.Write(c, i == len(chunks)-1)
		}
		if res := m.Result(); res.HasUsage || !res.Complete || res.OutputTokens < 500 {
			b.Fatalf("bad result %+v", res)
		}
	}
}

// BenchmarkCountTokens: the prompt count every metered request pays for
// (inputs shared with package bpe's benchmarks, which also time tiktoken-go),
// for a text counted the first time and for one resent (CountCache).
func BenchmarkCountTokens(b *testing.B) {
	require := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	require(PreloadTokenizers())
	for _, in := range []struct{ name, file, model string }{
		{"chat2k", "chat2k.txt", "gpt-4o-mini"},
		{"prompt32k", "prompt32k.txt", "gpt-4o-mini"},
		{"cjk", "cjk.txt", "gpt-4o-mini"},
		{"code", "code.txt", "gpt-4o-mini"},
		{"chat2k-gpt-4", "chat2k.txt", "gpt-4"},
	} {
		raw, err := os.ReadFile(filepath.Join("bpe", "testdata", "bench", in.file))
		require(err)
		text := string(raw)
		enc, err := encodingFor(in.model)
		require(err)
		// counted: a text seen for the first time (what a cache miss costs).
		b.Run(in.name+"/counted", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				enc.Count(text)
			}
		})
		// resent: the same text in a later turn of the conversation.
		b.Run(in.name+"/resent", func(b *testing.B) {
			cache := NewCountCache()
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			cache.Count(in.model, text)
			for b.Loop() {
				cache.Count(in.model, text)
			}
		})
	}
}
