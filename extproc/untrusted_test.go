package extproc

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/metrics"
	"github.com/proxide/proxide/internal/usage"
)

// An upstream answer that lies about its usage is charged the reservation's worst case,
// never less; counted by reason; logged once per reason.
func TestUntrustedUpstreamAnswers(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"Say hello"}]}`
	req, err := usage.ParseRequest(usage.ChatCompletions, []byte(body), usage.Options{})
	require.NoError(t, err)
	worst := req.PromptTokens*150 + 100*600 // gpt-4o-mini: 150 and 600 nano-USD per token
	chat := func(usageJSON string) string {
		s := `{"id":"chatcmpl-1","object":"chat.completion","created":1764300000,"model":"gpt-4o-mini-2024-07-18",` +
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}]`
		if usageJSON != "" {
			s += `,"usage":` + usageJSON
		}
		return s + "}"
	}
	sse := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hi"}}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}` + "\n\n" +
		"data: [DONE]\n\n"
	for _, tc := range []struct {
		name, contentType, encoding, body string
		reason                            string // "" = trusted
		want                              int64
	}{
		{"honest", "application/json", "", chat(`{"prompt_tokens":20,"completion_tokens":10}`), "", 9000},
		{"negative completion", "application/json", "", chat(`{"prompt_tokens":20,"completion_tokens":-5}`), "invalid_usage", worst},
		{"negative cached", "application/json", "", chat(`{"prompt_tokens":20,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":-20}}`), "invalid_usage", worst},
		{"past 1e15", "application/json", "", chat(`{"prompt_tokens":20,"completion_tokens":1e16}`), "invalid_usage", worst},
		// Past 4× the worst case: reported, and charged as reported (more than the worst case).
		{"absurdly large", "application/json", "", chat(`{"prompt_tokens":20,"completion_tokens":10000000}`), "absurd_usage", 20*150 + 10_000_000*600},
		{"all zero", "application/json", "", chat(`{"prompt_tokens":0,"completion_tokens":0}`), "zero_usage", worst},
		{"missing", "application/json", "", chat(""), "missing_usage", worst},
		{"SSE labelled as JSON", "application/json", "", sse, "content_type_mismatch", worst},
		{"compressed", "application/json", "gzip", "\x1f\x8b\x08\x00binary", "compressed", worst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := metrics.New()
			f := newFixture(t, func(o *Options) {
				o.Metrics = m
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			})
			headers := []string{":status", "200", "content-type", tc.contentType}
			if tc.encoding != "" {
				headers = append(headers, "content-encoding", tc.encoding)
			}
			for range 3 { // the same lie three times: counted three times, logged once
				f.run(t, nil, chatHeaders(), reqBody(body), respHeaders(false, headers...),
					respBody(tc.body[:len(tc.body)/2], false), respBody(tc.body[len(tc.body)/2:], false), respBody("", true))
			}
			require.Len(t, f.ledger.settles, 3)
			for _, s := range f.ledger.settles {
				require.Equal(t, tc.want, s.ActualNano)
				require.Equal(t, tc.want == worst, s.Estimated, "a worst-case charge is marked estimated")
				if tc.reason != "" {
					require.GreaterOrEqual(t, s.ActualNano, worst, "never less than the worst case when untrusted")
				}
			}
			got := untrustedCount(t, m)
			if tc.reason == "" {
				require.Empty(t, got)
				require.NotContains(t, logs.String(), "not trusted")
				return
			}
			require.Equal(t, map[string]float64{tc.reason: 3}, got)
			require.Equal(t, 1, strings.Count(logs.String(), "upstream answer not trusted"), logs.String())
			require.Contains(t, logs.String(), "reason="+tc.reason)
		})
	}
}

// A cut stream without usage is still charged its counted tokens: only an answer that
// completed without usage is a lie.
func TestUntrustedLeavesCutStreamsCounted(t *testing.T) {
	m := metrics.New()
	f := newFixture(t, func(o *Options) { o.Metrics = m })
	body := `{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"Say hello"}]}`
	chunk := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hello there"}}]}` + "\n\n"
	f.run(t, nil, chatHeaders(), reqBody(body), respHeaders(false, ":status", "200", "content-type", "text/event-stream"),
		respBody(chunk, false), respBody("", true))
	require.Len(t, f.ledger.settles, 1)
	s := f.ledger.settles[0]
	require.True(t, s.Estimated)
	require.Positive(t, s.Tokens.Completion)
	require.Less(t, s.Tokens.Completion, int64(100), "counted, not the worst case")
	require.Empty(t, untrustedCount(t, m))
}

// A stream whose usage nobody asked for (its body came in STREAMED pieces, which Proxide
// cannot rewrite to inject include_usage) finishing without usage is no lie: its counted
// tokens are charged.
func TestUntrustedExpectsOnlyUsageAskedFor(t *testing.T) {
	m := metrics.New()
	f := newFixture(t, func(o *Options) { o.Metrics = m })
	body := `{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"Say hello"}]}`
	h := chatHeaders()
	h.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: filterv3.ProcessingMode_STREAMED}
	chunk := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hello there"}}]}` + "\n\n"
	f.run(t, nil, h, reqBody(body), respHeaders(false, ":status", "200", "content-type", "text/event-stream"),
		respBody(chunk+"data: [DONE]\n\n", false), respBody("", true))
	require.Len(t, f.ledger.settles, 1)
	s := f.ledger.settles[0]
	require.True(t, s.Estimated)
	require.Less(t, s.Tokens.Completion, int64(100), "counted, not the worst case")
	require.Empty(t, untrustedCount(t, m))
}

func untrustedCount(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "proxide_upstream_untrusted_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			out[mt.GetLabel()[0].GetValue()] = mt.GetCounter().GetValue()
		}
	}
	return out
}
