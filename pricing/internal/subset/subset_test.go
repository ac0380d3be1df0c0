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
  "dalle": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04, "supports_vision": true},
  "tts": {"litellm_provider": "openai", "mode": "audio_speech", "input_cost_per_character": 1.5e-05},
  "no-input": {"litellm_provider": "openai", "mode": "chat", "output_cost_per_token": 1e-05, "input_cost_per_image": 0.01},
  "no-price": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 1000},
  "rerank": {"litellm_provider": "openai", "mode": "rerank", "input_cost_per_token": 1e-06},
  "azure/gpt-4o": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 2.5e-06},
  "azure/o1-preview": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 1.5e-05, "supported_regions": ["x"]},
  "openai/container": {"litellm_provider": "openai", "mode": "chat", "code_interpreter_cost_per_session": 0.03}
}`

func TestOpenAI(t *testing.T) {
	res, err := OpenAI([]byte(src), nil)
	require.NoError(t, err)
	// zeta, alpha, embed, resp, dalle, tts, openai/container, and the legacy o1-preview.
	require.Equal(t, 8, res.Models)
	require.Equal(t, "2026-07-24T18:23:43.215560+00:00", res.LastUpdated)

	var got map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.JSON, &got))
	require.Len(t, got, 8)
	for _, name := range []string{"alpha", "embed", "resp", "dalle", "tts", "openai/container", "o1-preview"} {
		require.Contains(t, got, name)
	}
	zeta := got["zeta"]
	require.Equal(t, []string{"input_cost_per_token", "input_cost_per_token_batches", "input_cost_per_token_priority",
		"litellm_provider", "max_input_tokens", "mode", "output_cost_per_token"}, keys(zeta))
	require.Equal(t, []string{"input_cost_per_image", "litellm_provider", "mode"}, keys(got["dalle"]))
	require.Equal(t, `"litellm row azure/o1-preview"`, string(got["o1-preview"]["source"]))
	require.Equal(t, `"azure"`, string(got["o1-preview"]["litellm_provider"]), "legacy rows are copied as they are")
	require.Equal(t, []Origin{{Name: "o1-preview", From: "azure/o1-preview"}}, res.Legacy)
	require.Len(t, res.LegacyMissing, len(Legacy)-1)
	require.Equal(t, "2.5e-06", string(zeta["input_cost_per_token"]), "number literals are copied as written")

	// Sorted, indented, newline-terminated and deterministic.
	s := string(res.JSON)
	require.True(t, strings.HasPrefix(s, "{\n  \"alpha\": {\n    \"input_cost_per_token\": 4e-07,"), s)
	require.True(t, strings.HasSuffix(s, "}\n"))
	require.Less(t, strings.Index(s, `"resp"`), strings.Index(s, `"zeta"`))
	for range 5 {
		again, err := OpenAI([]byte(src), nil)
		require.NoError(t, err)
		require.Equal(t, res.JSON, again.JSON)
	}
}

func TestOpenAIErrors(t *testing.T) {
	for _, bad := range []string{``, `{`, `[]`, `{}`, `{"azure/x": {"litellm_provider": "azure", "mode": "chat", "input_cost_per_token": 1}}`} {
		_, err := OpenAI([]byte(bad), nil)
		require.Error(t, err, bad)
	}
}

func TestSupplement(t *testing.T) {
	const extra = `{
	  "old-model-0613": {"mode": "chat", "litellm_provider": "openai", "input_cost_per_token": 1.5e-06,
	                     "output_cost_per_token": 2e-06, "source": "https://example.test/legacy", "supports_vision": true},
	  "resp": {"mode": "responses", "input_cost_per_token": 9e-06, "source": "https://example.test/old"}
	}`
	res, err := OpenAI([]byte(src), []byte(extra))
	require.NoError(t, err)
	require.Equal(t, 9, res.Models)
	require.Equal(t, []Origin{{Name: "old-model-0613", From: "https://example.test/legacy"}}, res.Supplement)
	require.Equal(t, []string{"resp"}, res.Shadowed, "the snapshot wins over the supplement")

	var got map[string]map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.JSON, &got))
	require.Equal(t, []string{"input_cost_per_token", "litellm_provider", "mode", "output_cost_per_token", "source"}, keys(got["old-model-0613"]))
	require.Equal(t, "1.5e-05", string(got["resp"]["input_cost_per_token"]))

	for name, bad := range map[string]string{
		"not json":  `{`,
		"no source": `{"m": {"mode": "chat", "input_cost_per_token": 1e-06}}`,
		"bad mode":  `{"m": {"mode": "rerank", "input_cost_per_token": 1e-06, "source": "x"}}`,
		"no price":  `{"m": {"mode": "chat", "source": "x"}}`,
		"not a row": `{"m": 7}`,
	} {
		_, err := OpenAI([]byte(src), []byte(bad))
		require.Error(t, err, name)
	}
}

func TestSource(t *testing.T) {
	note := string(Source("../snapshots/litellm-model-prices-2026-07-24.json", "", Result{Models: 7, LastUpdated: "2026-07-24T18:23:43Z"}))
	require.Contains(t, note, "Snapshot: litellm-model-prices-2026-07-24\n")
	require.Contains(t, note, "File: litellm-model-prices-2026-07-24.json\n")
	require.Contains(t, note, "Date: 2026-07-24\n")
	require.Contains(t, note, "Last-Updated: 2026-07-24T18:23:43Z\n")
	require.Contains(t, note, "Models: 7\n")
	require.Equal(t, note, string(Source("/elsewhere/litellm-model-prices-2026-07-24.json", "", Result{Models: 7, LastUpdated: "2026-07-24T18:23:43Z"})),
		"the note must not depend on where the generator ran")
	require.NotContains(t, note, "Supplement")

	note = string(Source("x/litellm-model-prices-2026-07-24.json", "/abs/data/supplement.json", Result{
		Legacy:        []Origin{{Name: "o1-mini", From: "azure/o1-mini-2024-09-12"}},
		LegacyMissing: []string{"gpt-4-32k"},
		Supplement:    []Origin{{Name: "gpt-3.5-turbo-0613", From: "https://example.test/legacy"}},
		Shadowed:      []string{"gpt-3.5-turbo-0301"},
	}))
	require.Contains(t, note, "Legacy: o1-mini <- snapshot row azure/o1-mini-2024-09-12\n")
	require.Contains(t, note, "Legacy-Missing: gpt-4-32k")
	require.Contains(t, note, "Supplement-File: pricing/data/supplement.json")
	require.Contains(t, note, "Supplement: gpt-3.5-turbo-0613 <- https://example.test/legacy\n")
	require.Contains(t, note, "Supplement-Shadowed: gpt-3.5-turbo-0301")
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
