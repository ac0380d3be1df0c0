package usage

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMeterFraming rewrites the recorded chat stream's SSE framing (line
// endings, comments, multi-line data) identically in the upstream stream and
// in the expected stripped stream: metering and stripping must not change.
func TestMeterFraming(t *testing.T) {
	usageStream := string(readTestdata(t, "chat_usage.sse"))
	plain := string(readTestdata(t, "chat_plain.sse"))
	opts := MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true}
	_, wantRes, _ := meterRun(opts, []byte(usageStream))
	require.True(t, wantRes.HasUsage)
	tests := []struct {
		name         string
		rewrite      func(string) string
		rewriteUsage func(string) string // extra rewrite of the upstream stream only
	}{
		{name: "CRLF", rewrite: func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }},
		{name: "CR", rewrite: func(s string) string { return strings.ReplaceAll(s, "\n", "\r") }},
		{name: "mixed endings", rewrite: func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "}\n\n", "}\r\n\r"), "]\n\n", "]\r\r\n")
		}},
		{name: "comments", rewrite: func(s string) string {
			return ": keep-alive\n\n" + strings.ReplaceAll(s, "data: ", ": note\ndata: ")
		}},
		{name: "no space after colon, extra fields", rewrite: func(s string) string {
			return strings.ReplaceAll(s, "data: ", "id: 7\nretry: 10\ndata:")
		}},
		{name: "multi-line data", rewrite: func(s string) string {
			return strings.ReplaceAll(s, `,"choices":`, ",\ndata: \"choices\":")
		}},
		{name: "usage null on its own data line", rewrite: func(s string) string { return s },
			rewriteUsage: func(s string) string {
				return strings.ReplaceAll(s, `,"usage":null}`, ",\r\ndata:\"usage\"\ndata: :null}")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.rewrite(usageStream)
			if tc.rewriteUsage != nil {
				in = tc.rewriteUsage(in)
			}
			want := tc.rewrite(plain)
			require.NotEqual(t, want, in)
			step := 3
			if testing.Short() || raceEnabled {
				step = 11
			}
			for i := 0; i <= len(in); i += step {
				out, res, _ := meterRun(opts, []byte(in[:i]), []byte(in[i:]))
				require.Equal(t, wantRes, res, "split at %d", i)
				require.Equal(t, want, string(out), "split at %d", i)
			}
		})
	}
}

func TestMeterStripUsageNull(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"last member", `{"id":"x","choices":[{"delta":{"content":"a"}}],"usage":null}`, `{"id":"x","choices":[{"delta":{"content":"a"}}]}`},
		{"first member", `{"usage":null,"id":"x","choices":[{"delta":{"content":"a"}}]}`, `{"id":"x","choices":[{"delta":{"content":"a"}}]}`},
		{"middle member", `{"id":"x","usage":null,"choices":[]}`, `{"id":"x","choices":[]}`},
		{"spaced", `{"id": "x", "usage": null, "choices": []}`, `{"id": "x", "choices": []}`},
		{"spaced first", `{ "usage" : null , "id":"x"}`, `{ "id":"x"}`},
		{"only member", `{"usage":null}`, `{}`},
		{"nested usage kept", `{"choices":[{"usage":null,"delta":{}}],"x":{"usage":null},"usage":null}`, `{"choices":[{"usage":null,"delta":{}}],"x":{"usage":null}}`},
		{"escaped key", `{"id":"x","us\u0061ge":null}`, `{"id":"x"}`},
		{"non-null usage kept", `{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}`, `{"choices":[{"delta":{}}],"usage":{"prompt_tokens":1}}`},
	}
	opts := MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "data: " + tc.in + "\n\ndata: [DONE]\n\n"
			want := "data: " + tc.want + "\n\ndata: [DONE]\n\n"
			for i := 0; i <= len(in); i++ {
				out, res, _ := meterRun(opts, []byte(in[:i]), []byte(in[i:]))
				require.Equal(t, want, string(out), "split at %d", i)
				require.True(t, res.Complete)
				require.Zero(t, res.Malformed)
			}
		})
	}
}

func TestMeterUsageOnlyChunkDropped(t *testing.T) {
	opts := MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true}
	in := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n" +
		": a comment\nevent: x\ndata: {\"choices\":[],\n" +
		"data: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n" +
		"data: [DONE]\n\n"
	want := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"
	out, res, _ := meterRun(opts, []byte(in))
	require.Equal(t, want, string(out))
	require.Equal(t, Usage{PromptTokens: 3, CompletionTokens: 1}, res.Usage)
	require.True(t, res.HasUsage)
}

func TestMeterMalformedAndCut(t *testing.T) {
	chat := MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o", SSE: true}
	t.Run("malformed events are skipped", func(t *testing.T) {
		in := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]\n\n" + // unterminated object
			"data: not json\n\n" +
			"data: {\"choices\":[{\"delta\":{\"content\":\"bad \\q escape\"}}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":\"many\"}}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\n" +
			"data: [DONE]\n\n"
		out, res, replaced := meterRun(chat, []byte(in))
		require.Equal(t, in, string(out))
		require.False(t, replaced)
		require.Equal(t, 4, res.Malformed)
		require.True(t, res.HasUsage)
		require.Equal(t, Usage{PromptTokens: 4, CompletionTokens: 2}, res.Usage)
		require.True(t, res.Complete)
	})
	t.Run("stream cut mid-event", func(t *testing.T) {
		full := readTestdata(t, "chat_usage.sse")
		cut := bytes.Index(full, []byte(`" today"`)) + 3
		for _, opts := range []MeterOptions{chat, {Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true}} {
			out, res, _ := meterRun(opts, full[:cut/2], full[cut/2:cut])
			require.False(t, res.Complete)
			require.False(t, res.HasUsage)
			require.Equal(t, "gpt-4o-mini-2024-07-18", res.Model)
			require.Greater(t, res.OutputTokens, int64(4))
			if opts.StripInjectedUsage {
				require.NotContains(t, string(out[:bytes.LastIndex(out, []byte("\n\n"))]), `"usage":null`)
				require.True(t, bytes.HasSuffix(out, full[bytes.LastIndex(full[:cut], []byte("data: ")):cut]), "held bytes are flushed at eos")
			} else {
				require.Equal(t, string(full[:cut]), string(out))
			}
		}
	})
	t.Run("result without eos", func(t *testing.T) {
		m := NewMeter(chat)
		_, _ = m.Write([]byte("data: {\"model\":\"gpt-4o-2024-11-20\",\"choices\":[{\"delta\":{\"content\":\"Hello world\"}}]}\n\n"), false)
		res := m.Result()
		require.Equal(t, CountTokens("gpt-4o", "Hello world"), res.OutputTokens)
		require.Equal(t, res, m.Result(), "Result is idempotent")
		require.False(t, res.Complete)
	})
	t.Run("json body cut", func(t *testing.T) {
		body := readTestdata(t, "chat.json")
		_, res, _ := meterRun(MeterOptions{Endpoint: ChatCompletions}, body[:len(body)-40])
		require.False(t, res.Complete)
		require.Equal(t, 1, res.Malformed)
		require.Equal(t, "gpt-4o-2024-08-06", res.Model)
	})
	t.Run("json garbage", func(t *testing.T) {
		_, res, _ := meterRun(MeterOptions{Endpoint: Embeddings}, []byte(`{"usage":{"prompt_tokens":3}} trailing`))
		require.False(t, res.Complete)
		require.True(t, res.HasUsage, "the usage value itself was complete")
	})
	t.Run("done without final blank line", func(t *testing.T) {
		_, res, _ := meterRun(chat, []byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]"))
		require.True(t, res.Complete)
		require.True(t, res.HasUsage)
	})
}

func TestMeterResponsesVariants(t *testing.T) {
	opts := MeterOptions{Endpoint: Responses, RequestModel: "gpt-4o", SSE: true}
	t.Run("type only in data", func(t *testing.T) {
		in := readTestdata(t, "responses.sse")
		var b bytes.Buffer
		for _, line := range strings.SplitAfter(string(in), "\n") {
			if !strings.HasPrefix(line, "event:") {
				b.WriteString(line)
			}
		}
		_, want, _ := meterRun(opts, in)
		_, got, _ := meterRun(opts, b.Bytes())
		require.Equal(t, want, got)
		require.True(t, got.Complete)
	})
	t.Run("incomplete and failed are terminal", func(t *testing.T) {
		for _, typ := range []string{"response.incomplete", "response.failed"} {
			in := "event: " + typ + "\ndata: {\"type\":\"" + typ + "\",\"response\":{\"model\":\"gpt-4o-2024-08-06\",\"usage\":{\"input_tokens\":5,\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":2}}}}\n\n"
			_, res, _ := meterRun(opts, []byte(in))
			require.True(t, res.Complete, typ)
			require.Equal(t, Usage{PromptTokens: 5, CompletionTokens: 9, ReasoningTokens: 2}, res.Usage)
		}
	})
	t.Run("deltas counted by type only", func(t *testing.T) {
		in := "event: response.audio.delta\ndata: {\"type\":\"response.audio.delta\",\"delta\":\"QUJDREVGR0g=\"}\n\n" +
			"event: response.function_call_arguments.delta\ndata: {\"delta\":\"{\\\"a\\\":1}\",\"type\":\"response.function_call_arguments.delta\"}\n\n"
		_, res, _ := meterRun(opts, []byte(in))
		require.Equal(t, CountTokens("gpt-4o", `{"a":1}`), res.OutputTokens)
		require.False(t, res.Complete)
	})
}

// TestMeterLargeText checks batching: output text far over one batch is
// counted (within a few tokens of one whole count) without growing memory.
func TestMeterLargeText(t *testing.T) {
	words := strings.Fields("the quick brown fox jumps over the lazy dog while streaming tokens arrive one by one")
	var b, text strings.Builder
	for i := range 3000 {
		w := " " + words[i%len(words)]
		text.WriteString(w)
		b.WriteString(`data: {"choices":[{"delta":{"content":"` + w + `"}}]}` + "\n\n")
	}
	m := NewMeter(MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o", SSE: true})
	in := []byte(b.String())
	for len(in) > 0 {
		n := min(len(in), 1500)
		m.Write(in[:n], n == len(in))
		require.Less(t, cap(m.pending), 3*textBatch)
		in = in[n:]
	}
	want := CountTokens("gpt-4o", text.String())
	got := m.Result().OutputTokens
	require.InDelta(t, want, got, float64(want)/100)
}

// TestMeterStripHoldLimit: a "stream" that never ends an event is
// forwarded intact once it outgrows the hold limit.
func TestMeterStripHoldLimit(t *testing.T) {
	opts := MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	m := NewMeter(opts)
	var out []byte
	for i := range 40 {
		o, _ := m.Write(chunk, i == 39)
		out = append(out, o...)
	}
	require.Len(t, out, 40*len(chunk))
	require.LessOrEqual(t, cap(m.hold), 2*maxHold)
}

// TestMeterStripWholeEventsNotReplaced: with stripping on, chunks that are
// whole events needing no change are forwarded untouched (replaced=false).
func TestMeterStripWholeEventsNotReplaced(t *testing.T) {
	in := readTestdata(t, "chat_plain.sse")
	m := NewMeter(MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true})
	events := bytes.SplitAfter(in, []byte("\n\n"))
	for i, ev := range events {
		out, replaced := m.Write(ev, i == len(events)-1)
		require.False(t, replaced)
		require.Equal(t, ev, out)
	}
}

// TestMeterWriteAllocs: metering a chunk with nothing to strip allocates
// nothing once the Meter's buffers exist (tokenising a batch aside).
func TestMeterWriteAllocs(t *testing.T) {
	event := []byte(`data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06","service_tier":"default","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	plain := bytes.Replace(event, []byte(`,"usage":null`), nil, 1)
	for _, strip := range []bool{false, true} {
		if strip { // whole events with nothing to cut are forwarded as they are
			event = plain
		}
		m := NewMeter(MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: strip})
		m.Write(event, false)
		m.pending = make([]byte, 0, textBatch)
		allocs := testing.AllocsPerRun(100, func() {
			if _, replaced := m.Write(event, false); replaced {
				t.Fatal("replaced")
			}
		})
		require.Zero(t, allocs, "strip=%v", strip)
	}
}

// TestMeterReuseOutputBounded: with ReuseOutput, the buffer kept between
// chunks serves small chunks again, but a rewritten chunk larger than
// maxReusedOut is not kept for the rest of the stream.
func TestMeterReuseOutputBounded(t *testing.T) {
	event := func(content string) []byte {
		return []byte(`data: {"choices":[{"delta":{"content":"` + content + `"}}],"usage":null}` + "\n\n")
	}
	m := NewMeter(MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true, ReuseOutput: true})
	small := event("hi")
	out, replaced := m.Write(small, false)
	require.True(t, replaced, "a chunk with \"usage\":null is rewritten")
	require.NotEmpty(t, out)
	require.NotNil(t, m.out, "a small output buffer is kept")
	big := event(strings.Repeat("x", 2*maxReusedOut))
	out, replaced = m.Write(big, false)
	require.True(t, replaced)
	require.Greater(t, len(out), maxReusedOut)
	require.LessOrEqual(t, cap(m.out), maxReusedOut, "the big chunk's buffer is not kept")
	out, _ = m.Write(small, true)
	require.NotEmpty(t, out)
}
