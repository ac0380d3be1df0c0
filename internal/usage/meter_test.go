package usage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// meterRun feeds chunks to a new Meter, the last one with eos, and returns
// the concatenated output, the result, and whether any chunk was replaced.
func meterRun(opts MeterOptions, chunks ...[]byte) (out []byte, res Result, replaced bool) {
	m := NewMeter(opts)
	for i, c := range chunks {
		o, r := m.Write(c, i == len(chunks)-1)
		if !r && !bytes.Equal(o, c) {
			panic("replaced=false but output differs from chunk")
		}
		replaced = replaced || r
		out = append(out, o...)
	}
	return out, m.Result(), replaced
}

// recorded describes one stream or body under testdata/.
type recorded struct {
	name     string
	file     string
	opts     MeterOptions
	want     Result // OutputTokens is computed from textFile
	textFile string
	model    string // tokenizer model for textFile
	stripped string // expected output when stripping; "" = unchanged
}

func recordedStreams() []recorded {
	chatUsage := Usage{PromptTokens: 1234, CachedTokens: 1024, CompletionTokens: 21}
	chat := func(name, file, stripped string, strip bool, has bool) recorded {
		r := recorded{
			name: name, file: file, textFile: "chat_text.txt", model: "gpt-4o-mini-2024-07-18", stripped: stripped,
			opts: MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o-mini", SSE: true, StripInjectedUsage: strip},
			want: Result{Model: "gpt-4o-mini-2024-07-18", ServiceTier: "default", Complete: true},
		}
		if has {
			r.want.Usage, r.want.HasUsage = chatUsage, true
		}
		return r
	}
	return []recorded{
		chat("chat plain", "chat_plain.sse", "", false, false),
		chat("chat plain, strip on", "chat_plain.sse", "", true, false),
		chat("chat with usage", "chat_usage.sse", "", false, true),
		chat("chat injected usage stripped", "chat_usage.sse", "chat_plain.sse", true, true),
		chat("chat obfuscation injected usage stripped", "chat_obf_usage.sse", "chat_obf_plain.sse", true, true),
		{
			name: "chat tool calls stripped", file: "chat_tools_usage.sse", stripped: "chat_tools_plain.sse",
			textFile: "chat_tools_text.txt", model: "gpt-4.1-2025-04-14",
			opts: MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4.1", SSE: true, StripInjectedUsage: true},
			want: Result{Model: "gpt-4.1-2025-04-14", ServiceTier: "default", Complete: true, HasUsage: true,
				Usage: Usage{PromptTokens: 82, CompletionTokens: 18}},
		},
		{
			name: "completions stripped", file: "completions_usage.sse", stripped: "completions_plain.sse",
			textFile: "completions_text.txt", model: "gpt-3.5-turbo-instruct",
			opts: MeterOptions{Endpoint: Completions, SSE: true, StripInjectedUsage: true},
			want: Result{Model: "gpt-3.5-turbo-instruct", Complete: true, HasUsage: true,
				Usage: Usage{PromptTokens: 5, CompletionTokens: 7}},
		},
		{
			name: "responses stream", file: "responses.sse", textFile: "responses_text.txt", model: "gpt-5-mini",
			opts: MeterOptions{Endpoint: Responses, RequestModel: "gpt-5-mini", SSE: true, StripInjectedUsage: true},
			want: Result{Model: "gpt-5-mini-2025-08-07", ServiceTier: "default", Complete: true, HasUsage: true,
				Usage:      Usage{PromptTokens: 36, CompletionTokens: 76, ReasoningTokens: 64},
				ResponseID: "resp_68a1f0c2b3d4e5f60718293a4b5c6d7e0123456789abcdef", Status: "completed"},
		},
		{
			name: "chat json", file: "chat.json", model: "gpt-4o-2024-08-06",
			opts: MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o"},
			want: Result{Model: "gpt-4o-2024-08-06", ServiceTier: "default", Complete: true, HasUsage: true,
				Usage: Usage{PromptTokens: 19, CompletionTokens: 10}},
		},
		{
			name: "completions json", file: "completions.json", model: "gpt-3.5-turbo-instruct",
			opts: MeterOptions{Endpoint: Completions},
			want: Result{Model: "gpt-3.5-turbo-instruct:20230824-v2", Complete: true, HasUsage: true,
				Usage: Usage{PromptTokens: 5, CompletionTokens: 7}},
		},
		{
			name: "embeddings json", file: "embeddings.json",
			opts: MeterOptions{Endpoint: Embeddings, RequestModel: "text-embedding-3-small"},
			want: Result{Model: "text-embedding-3-small", Complete: true, HasUsage: true, Usage: Usage{PromptTokens: 8}},
		},
		{
			name: "responses json", file: "responses.json", model: "gpt-5-mini",
			opts: MeterOptions{Endpoint: Responses},
			want: Result{Model: "gpt-5-mini-2025-08-07", ServiceTier: "default", Complete: true, HasUsage: true,
				Usage:      Usage{PromptTokens: 36, CachedTokens: 12, CompletionTokens: 76, ReasoningTokens: 64},
				ResponseID: "resp_68a1f0c2b3d4e5f60718293a4b5c6d7e0123456789abcdef", Status: "completed"},
		},
	}
}

// expect fills in the parts of a recorded case that come from other files.
func (r recorded) expect(t *testing.T) (in, wantOut []byte, want Result) {
	in = readTestdata(t, r.file)
	wantOut = in
	if r.stripped != "" {
		wantOut = readTestdata(t, r.stripped)
	}
	want = r.want
	if !want.HasUsage { // with exact usage the output is not counted
		want.OutputTokens = r.textTokens(t)
	}
	return in, wantOut, want
}

// textTokens is the tiktoken count of the case's output text.
func (r recorded) textTokens(t *testing.T) int64 {
	switch {
	case r.textFile != "":
		return CountTokens(r.model, string(readTestdata(t, r.textFile)))
	case r.name == "chat json":
		return CountTokens(r.model, "Hello there, \"friend\" \u2014 caf\u00e9.")
	case r.name == "completions json":
		return CountTokens(r.model, "\n\nThis is indeed a test")
	case r.name == "responses json":
		return CountTokens(r.model, "Sure! The capital of France is Paris.")
	}
	return 0
}

func TestMeterRecorded(t *testing.T) {
	for _, tc := range recordedStreams() {
		t.Run(tc.name, func(t *testing.T) {
			in, wantOut, want := tc.expect(t)
			require.NotZero(t, want.OutputTokens+int64(len(tc.textFile))+want.Usage.PromptTokens)
			out, res, replaced := meterRun(tc.opts, in)
			require.Equal(t, want, res)
			require.Equal(t, string(wantOut), string(out))
			require.Equal(t, tc.stripped != "", replaced)
		})
	}
}

// TestMeterEverySplit feeds each recorded stream split at every byte offset
// (with and without a trailing empty eos chunk) and in random multi-splits:
// the result and the concatenated output never depend on the chunking.
func TestMeterEverySplit(t *testing.T) {
	for _, tc := range recordedStreams() {
		t.Run(tc.name, func(t *testing.T) {
			in, wantOut, want := tc.expect(t)
			noStrip := !tc.opts.SSE || !tc.opts.StripInjectedUsage
			step := 1
			if (testing.Short() || raceEnabled) && len(in) > 2000 {
				step = 7
			}
			for i := 0; i <= len(in); i += step {
				out, res, replaced := meterRun(tc.opts, in[:i], in[i:])
				require.Equal(t, want, res, "split at %d", i)
				require.Equal(t, string(wantOut), string(out), "split at %d", i)
				if noStrip {
					require.False(t, replaced, "split at %d", i)
				}
				out, res, _ = meterRun(tc.opts, in[:i], in[i:], nil)
				require.Equal(t, want, res, "split at %d + empty eos", i)
				require.Equal(t, string(wantOut), string(out), "split at %d + empty eos", i)
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(in))))
			for range 200 {
				chunks := randomSplit(rng, in)
				out, res, _ := meterRun(tc.opts, chunks...)
				require.Equal(t, want, res, "chunks %q", chunks)
				require.Equal(t, string(wantOut), string(out))
			}
		})
	}
}

func randomSplit(rng *rand.Rand, b []byte) [][]byte {
	var chunks [][]byte
	for len(b) > 0 {
		n := min(len(b), rng.IntN(64))
		if rng.IntN(8) == 0 {
			n = min(len(b), rng.IntN(2000))
		}
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	if rng.IntN(2) == 0 {
		chunks = append(chunks, nil)
	}
	return chunks
}
