package usage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var usageKey = regexp.MustCompile(`"usage"\s*:\s*\{`)

// dropUsage replaces every `"usage":{...}` object in b with `"usage":null`,
// turning a recorded response into one from an upstream that ignored
// include_usage.
func dropUsage(b []byte) []byte {
	var out []byte
	for {
		loc := usageKey.FindIndex(b)
		if loc == nil {
			return append(out, b...)
		}
		end, depth := loc[1], 1
		for ; depth > 0; end++ {
			switch b[end] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		out = append(append(out, b[:loc[0]]...), `"usage":null`...)
		b = b[end:]
	}
}

// TestMeterRecordedWithoutUsage: every recorded response with its usage
// removed, split at every byte offset and at random, still yields the
// tiktoken count of its output text, since settling then depends on it.
func TestMeterRecordedWithoutUsage(t *testing.T) {
	for _, tc := range recordedStreams() {
		t.Run(tc.name, func(t *testing.T) {
			in, _, want := tc.expect(t)
			in = dropUsage(in)
			require.NotContains(t, string(in), `"usage":{`)
			want.Usage, want.HasUsage = Usage{}, false
			want.OutputTokens = tc.textTokens(t)
			step := 1
			if (testing.Short() || raceEnabled) && len(in) > 2000 {
				step = 7
			}
			for i := 0; i <= len(in); i += step {
				_, res, _ := meterRun(tc.opts, in[:i], in[i:])
				require.Equal(t, want, res, "split at %d", i)
			}
			rng := rand.New(rand.NewPCG(2, uint64(len(in))))
			for range 100 {
				chunks := randomSplit(rng, in)
				_, res, _ := meterRun(tc.opts, chunks...)
				require.Equal(t, want, res, "chunks %q", chunks)
			}
		})
	}
}

// longChatStream returns a chat stream of about size bytes of output text
// (words, punctuation, non-ASCII and newlines) and that text. With usage, a
// usage chunk and [DONE] end it.
func longChatStream(size int, withUsage bool) (stream []byte, text string) {
	words := strings.Fields("Streaming output arrives token by token: café, naïve, 東京, 42, 3.14, " +
		"\"quoted\" words, tabs\tand (parentheses) - so the batches cut between words.")
	var sb, tb strings.Builder
	for i := 0; tb.Len() < size; i++ {
		w := " " + words[i%len(words)]
		if i%97 == 96 {
			w += "\n\n"
		}
		tb.WriteString(w)
		q, _ := json.Marshal(w)
		fmt.Fprintf(&sb, `data: {"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":%s}}],"usage":null}`+"\n\n", q)
	}
	if withUsage {
		sb.WriteString(`data: {"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":50000}}` + "\n\n")
		sb.WriteString("data: [DONE]\n\n")
	}
	return []byte(sb.String()), tb.String()
}

// TestMeterLongOutputCut: an output far over the pending bound, cut
// mid-string with no usage, is counted in batches, in memory bounded by the
// batch size, within a token or two of one whole count (batches end before
// a word's leading space, nearly always a token boundary). Here both the
// former 4 KiB batches and the 64 KiB ones give the whole count, 45075.
func TestMeterLongOutputCut(t *testing.T) {
	stream, text := longChatStream(160<<10, false)
	marker := []byte(`"delta":{"content":" `)
	cut := bytes.LastIndex(stream, marker) + len(marker) + 2 // inside the last word
	stream = stream[:cut]
	text = text[:strings.LastIndexByte(text, ' ')+2] // the same two bytes of it
	for _, strip := range []bool{false, true} {
		m := NewMeter(MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o", SSE: true, StripInjectedUsage: strip})
		for in := stream; len(in) > 0; {
			n := min(len(in), 16<<10)
			m.Write(in[:n], n == len(in))
			require.Less(t, cap(m.pending), 2*textBatch)
			in = in[n:]
		}
		res := m.Result()
		require.False(t, res.HasUsage)
		require.False(t, res.Complete)
		require.InDelta(t, CountTokens("gpt-4o", text), res.OutputTokens, 2, "strip=%v", strip)
		require.Greater(t, m.tokenised, len(text)/textBatch, "batches were tokenised along the way")
		require.Equal(t, res, m.Result(), "Result is idempotent")
	}
}

// TestMeterUsageStopsCounting: once exact usage arrives the output text is
// dropped and never tokenised; OutputTokens is 0. Text before a long
// stream's usage was already batched; nothing more is counted after it.
func TestMeterUsageStopsCounting(t *testing.T) {
	for _, tc := range recordedStreams() {
		if !tc.want.HasUsage {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			in, _, _ := tc.expect(t)
			for _, at := range []int{0, len(in) / 3, len(in) - 1, len(in)} {
				m := NewMeter(tc.opts)
				m.Write(in[:at], false)
				m.Write(in[at:], true)
				res := m.Result()
				require.True(t, res.HasUsage)
				require.Zero(t, res.OutputTokens)
				require.Zero(t, m.tokenised, "split at %d", at)
				require.Nil(t, m.pending)
			}
		})
	}
	t.Run("long output", func(t *testing.T) {
		stream, _ := longChatStream(200<<10, true)
		m := NewMeter(MeterOptions{Endpoint: ChatCompletions, RequestModel: "gpt-4o", SSE: true, StripInjectedUsage: true})
		at := bytes.LastIndex(stream, []byte("data: {")) // the usage chunk
		m.Write(stream[:at], false)
		before := m.Result()
		require.False(t, before.HasUsage)
		require.Positive(t, before.OutputTokens, "counted while usage was missing")
		calls := m.tokenised
		m.Write(stream[at:], true)
		res := m.Result()
		require.True(t, res.HasUsage)
		require.True(t, res.Complete)
		require.Equal(t, Usage{PromptTokens: 10, CompletionTokens: 50000}, res.Usage)
		require.Zero(t, res.OutputTokens)
		require.Equal(t, calls, m.tokenised, "nothing tokenised after usage")
	})
	t.Run("text after usage", func(t *testing.T) {
		m := NewMeter(MeterOptions{Endpoint: Responses, RequestModel: "gpt-4o", SSE: true})
		m.Write([]byte("data: {\"type\":\"response.in_progress\",\"response\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"+
			"data: {\"type\":\"response.output_text.delta\",\"delta\":\"more words\"}\n\n"), true)
		res := m.Result()
		require.True(t, res.HasUsage)
		require.Zero(t, res.OutputTokens)
		require.Zero(t, m.tokenised)
		require.Empty(t, m.pending)
	})
}
