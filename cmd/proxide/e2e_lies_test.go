package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestE2EUpstreamLies: the (fake) upstream reports a negative usage, an all-zero one, or
// none in a finished answer. Each is charged the reservation's worst case — more than
// the honest answer to the same request — marked estimated, and counted by reason.
func TestE2EUpstreamLies(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		body := `{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`
		honest := s.do(t, call{path: "/openai/v1/chat/completions", client: "honest", body: body})
		require.Equal(t, http.StatusOK, honest.status)
		fair := s.spend(t, "honest").Day.SpentNano
		for _, tc := range []struct{ name, usage, reason string }{
			{"negative", `{"prompt_tokens":-8,"completion_tokens":-12,"total_tokens":-20}`, "invalid_usage"},
			{"zero", `{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}`, "zero_usage"},
			{"missing", "omit", "missing_usage"},
		} {
			client := "liar-" + tc.name
			for _, stream := range []bool{false, true} {
				b := body
				if stream {
					b = `{"model":"gpt-4o-mini","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hello"}]}`
				}
				r := s.do(t, call{path: "/openai/v1/chat/completions", client: client, body: b, headers: map[string]string{"x-fake-usage": tc.usage}})
				require.Equal(t, http.StatusOK, r.status, "%s: the client still gets its answer", tc.name)
			}
			sp := s.spend(t, client)
			require.Zero(t, sp.Day.ReservedNano)
			require.Greater(t, sp.Day.SpentNano, 2*fair, "%s: charged the worst case, not the lie", tc.name)
			require.Equal(t, sp.Day.SpentNano, sp.Today.EstimatedNano, "%s: marked estimated", tc.name)
			require.Contains(t, scrape(t, s.admin), `proxide_upstream_untrusted_total{reason="`+tc.reason+`"} 2`)
		}
	})
}
