package subset

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const src = `{
  "sample_spec": {"litellm_provider": "one of", "mode": "one of: chat", "input_cost_per_token": 0.0},
  "last_updated": "2026-07-24T18:23:43.215560+00:00",
  "zeta": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06,
           "output_cost_per_token": 1e-05, "supports_vision": true, "input_cost_per_token_batches": 1.25e-06,
           "input_cost_per_token_priority": 4.25e-06, "deprecation_date": null, "max_input_tokens": 128000},
  "alpha": {"litellm_provider": "text-completion-openai", "mode": "completion", "input_cost_per_token": 4e-07},
  "embed": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0.0},
  "resp":  {"litellm_provider": "openai", "mode": "responses", "input_cost_per_token": 1.5e-05},
  "dalle": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_token": 1e-06},
  "azure/gpt-4o": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 2.5e-06},
  "openai/container": {"litellm_provider": "openai", "mode": "chat"}
}`

func TestOpenAI(t *testing.T) {
	res, err := OpenAI([]byte(src))
	require.NoError(t, err)
	require.Equal(t, 4, res.Models)
	require.Equal(t, "2026-07-24T18:23:43.215560+00:00", res.LastUpdated)

	var got map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.JSON, &got))
	require.Len(t, got, 4)
	require.Contains(t, got, "alpha")
	require.Contains(t, got, "embed")
	require.Contains(t, got, "resp")
	zeta := got["zeta"]
	require.Equal(t, []string{"input_cost_per_token", "input_cost_per_token_priority", "litellm_provider",
		"max_input_tokens", "mode", "output_cost_per_token"}, keys(zeta))
	require.Equal(t, "2.5e-06", string(zeta["input_cost_per_token"]), "number literals are copied as written")

	// Sorted, indented, newline-terminated and deterministic.
	s := string(res.JSON)
	require.True(t, strings.HasPrefix(s, "{\n  \"alpha\": {\n    \"input_cost_per_token\": 4e-07,"), s)
	require.True(t, strings.HasSuffix(s, "}\n"))
	require.Less(t, strings.Index(s, `"resp"`), strings.Index(s, `"zeta"`))
	for range 5 {
		again, err := OpenAI([]byte(src))
		require.NoError(t, err)
		require.Equal(t, res.JSON, again.JSON)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, bad := range []string{``, `{`, `[]`, `{}`, `{"azure/x": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 1}}`} {
		_, err := OpenAI([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestSource(t *testing.T) {
	note := string(Source("../../shared/data/litellm-model-prices-2026-07-24.json", Result{Models: 7, LastUpdated: "2026-07-24T18:23:43Z"}))
	require.Contains(t, note, "Snapshot: litellm-model-prices-2026-07-24\n")
	require.Contains(t, note, "File: shared/data/litellm-model-prices-2026-07-24.json\n")
	require.Contains(t, note, "Date: 2026-07-24\n")
	require.Contains(t, note, "Last-Updated: 2026-07-24T18:23:43Z\n")
	require.Contains(t, note, "Models: 7\n")
	require.Equal(t, note, string(Source("/elsewhere/litellm-model-prices-2026-07-24.json", Result{Models: 7, LastUpdated: "2026-07-24T18:23:43Z"})),
		"the note must not depend on where the generator ran")
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out { // tiny insertion sort keeps the test dependency-free
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
