package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every price dimension of the table, charged through the Envoy stand-in on
// both ledgers. The fake is told the exact token counts (x-fake-* headers),
// so each charge is a literal computed by hand from pricing/data/openai.json
// (LiteLLM snapshot 2026-07-24), nano-USD per token in the comments.

// pricesConfig has no pricing section: the built-in fallback
// ($10/$30 per M, see defaults in config.go) stays configured, so a model
// name that missed its row would be charged visibly more.
var pricesConfig = e2eYAML("", "loop_detection: {enabled: false}\n")

// priceCase is one request and the literal it must be charged.
type priceCase struct {
	name    string
	path    string
	body    string
	headers map[string]string
	model   string // the model the fake reports (what is priced)
	tier    string // the service_tier the fake reports
	want    int64  // nano-USD, by hand
}

// runPriceCases sends every case as its own client and checks the ledger
// holds exactly the literal, settled, priced under the reported model.
func runPriceCases(t *testing.T, s *stack, cases []priceCase) {
	t.Helper()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fmt.Sprintf("price-%d", i)
			r := s.do(t, call{path: tc.path, client: client, body: tc.body, headers: tc.headers})
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			if tc.model != "" {
				model, tier := reportedModel(t, r.body)
				require.Equal(t, tc.model, model, "the fake answered another model than the case assumes")
				if tc.tier != "" {
					require.Equal(t, tc.tier, tier)
				}
			}
			sp := s.spend(t, client)
			require.Equal(t, tc.want, sp.Day.SpentNano, "charged to the nano-dollar")
			require.Equal(t, tc.want, sp.Month.SpentNano)
			require.Zero(t, sp.Day.ReservedNano, "settled: nothing left reserved")
			require.Zero(t, sp.Today.EstimatedNano, "priced from the reported usage, not an estimate")
			require.Len(t, sp.Today.Models, 1)
			if tc.model != "" {
				require.True(t, strings.EqualFold(tc.model, sp.Today.Models[0].Model), "recorded as %s", sp.Today.Models[0].Model)
			}
		})
	}
}

// reportedModel reads the top-level model and service_tier of a JSON answer.
func reportedModel(t *testing.T, body []byte) (model, tier string) {
	t.Helper()
	var v struct {
		Model       string `json:"model"`
		ServiceTier string `json:"service_tier"`
	}
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	return v.Model, v.ServiceTier
}

// tokens fixes what the fake reports: prompt, cached and visible words
// (one completion token per word), reasoning added to the completion.
func tokens(prompt, cached, words, reasoning int) map[string]string {
	return map[string]string{
		"x-fake-prompt-tokens":    fmt.Sprint(prompt),
		"x-fake-cached-tokens":    fmt.Sprint(cached),
		"x-fake-words":            fmt.Sprint(words),
		"x-fake-reasoning-tokens": fmt.Sprint(reasoning),
	}
}

// o3 answers as o3-2025-04-16, a dated row WITHOUT flex prices: the flex
// prices come from its alias o3. gpt-4.1 answers as gpt-4.1-2025-04-14,
// again without priority prices in the dated row.
func TestE2EServiceTierPricesFromTheAlias(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		const msgs = `"messages":[{"role":"user","content":"Think it over."}]`
		runPriceCases(t, s, []priceCase{
			{
				// o3 flex: input 1e-06, cached 2.5e-07, output 4e-06.
				// 600 × 1,000 + 400 × 250 + (10 + 90) × 4,000
				// = 600,000 + 100,000 + 400,000
				name: "o3 flex chat", path: "/openai/v1/chat/completions",
				body:    `{"model":"o3","service_tier":"flex",` + msgs + `}`,
				headers: tokens(1000, 400, 10, 90), model: "o3-2025-04-16", tier: "flex", want: 1_100_000,
			},
			{
				// The same through the Responses API.
				name: "o3 flex responses", path: "/openai/v1/responses",
				body:    `{"model":"o3","service_tier":"flex","input":"Think it over."}`,
				headers: tokens(1000, 400, 10, 90), model: "o3-2025-04-16", tier: "flex", want: 1_100_000,
			},
			{
				// The control: o3 standard, input 2e-06, cached 5e-07, output 8e-06.
				// 600 × 2,000 + 400 × 500 + 100 × 8,000 = 1,200,000 + 200,000 + 800,000
				name: "o3 default", path: "/openai/v1/chat/completions",
				body:    `{"model":"o3",` + msgs + `}`,
				headers: tokens(1000, 400, 10, 90), model: "o3-2025-04-16", tier: "default", want: 2_200_000,
			},
			{
				// gpt-4.1 priority: input 3.5e-06, cached 8.75e-07, output 1.4e-05.
				// 600 × 3,500 + 400 × 875 + 100 × 14,000 = 2,100,000 + 350,000 + 1,400,000
				name: "gpt-4.1 priority chat", path: "/openai/v1/chat/completions",
				body:    `{"model":"gpt-4.1","service_tier":"priority",` + msgs + `}`,
				headers: tokens(1000, 400, 100, 0), model: "gpt-4.1-2025-04-14", tier: "priority", want: 3_850_000,
			},
		})
	})
}

// gpt-5.4 has *_above_272k_tokens prices: a prompt above 272,000 tokens moves
// the whole request to input 5e-06, cached 5e-07, output 2.25e-05.
func TestE2ELongContextPrices(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		body := `{"model":"gpt-5.4","messages":[{"role":"user","content":"Read the attached corpus."}]}`
		runPriceCases(t, s, []priceCase{
			{
				// 300,000 × 5,000 + 20 × 22,500 = 1,500,000,000 + 450,000
				name: "300k prompt", path: "/openai/v1/chat/completions", body: body,
				headers: tokens(300_000, 0, 20, 0), model: "gpt-5.4", want: 1_500_450_000,
			},
			{
				// Cached tokens at the long-context cache price:
				// 200,000 × 5,000 + 100,000 × 500 + 20 × 22,500 = 1,000,000,000 + 50,000,000 + 450,000
				name: "300k prompt, 100k cached", path: "/openai/v1/chat/completions", body: body,
				headers: tokens(300_000, 100_000, 20, 0), model: "gpt-5.4", want: 1_050_450_000,
			},
			{
				// Exactly 272,000 is not above: standard input 2.5e-06, output 1.5e-05.
				// 272,000 × 2,500 + 20 × 15,000 = 680,000,000 + 300,000
				name: "272k prompt is standard", path: "/openai/v1/chat/completions", body: body,
				headers: tokens(272_000, 0, 20, 0), model: "gpt-5.4", want: 680_300_000,
			},
			{
				// One token more: 272,001 × 5,000 + 20 × 22,500 = 1,360,005,000 + 450,000
				name: "272,001 prompt is long", path: "/openai/v1/chat/completions", body: body,
				headers: tokens(272_001, 0, 20, 0), model: "gpt-5.4", want: 1_360_455_000,
			},
		})
	})
}

// audioUsage reads the token counts (with their audio parts) from a chat
// answer, JSON or the usage chunk of an SSE stream.
func audioUsage(t *testing.T, body []byte, sse bool) (prompt, audioIn, completion, audioOut int64) {
	t.Helper()
	type u struct {
		Usage *struct {
			PromptTokens        int64 `json:"prompt_tokens"`
			CompletionTokens    int64 `json:"completion_tokens"`
			PromptTokensDetails struct {
				AudioTokens int64 `json:"audio_tokens"`
			} `json:"prompt_tokens_details"`
			CompletionTokensDetails struct {
				AudioTokens int64 `json:"audio_tokens"`
			} `json:"completion_tokens_details"`
		} `json:"usage"`
	}
	docs := []string{string(body)}
	if sse {
		docs = nil
		for _, line := range strings.Split(string(body), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"usage":{`) {
				docs = append(docs, d)
			}
		}
	}
	for _, d := range docs {
		var v u
		require.NoError(t, json.Unmarshal([]byte(d), &v), "%s", d)
		if v.Usage != nil {
			x := v.Usage
			return x.PromptTokens, x.PromptTokensDetails.AudioTokens, x.CompletionTokens, x.CompletionTokensDetails.AudioTokens
		}
	}
	t.Fatalf("no usage in %s", body)
	return
}

// A spoken chat answer to a spoken question: the audio tokens in and out are
// billed at the audio prices of gpt-4o-audio-preview (answered as
// gpt-4o-audio-preview-2024-12-17): text in 2.5e-06, audio in 4e-05, text out
// 1e-05, audio out 8e-05. The counts are the ones the client got.
func TestE2EAudioTokenPrices(t *testing.T) {
	// 48,000 bytes of silence: ceil(48,000 / 4,800) = 10 audio tokens in.
	audio := base64.StdEncoding.EncodeToString(make([]byte, 48_000))
	msgs := `"messages":[{"role":"user","content":[{"type":"text","text":"What is said here?"},` +
		`{"type":"input_audio","input_audio":{"data":"` + audio + `","format":"wav"}}]}]`
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for i, tc := range []struct {
			name string
			body string
			sse  bool
		}{
			{"json", `{"model":"gpt-4o-audio-preview","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},` + msgs + `}`, false},
			{"stream", `{"model":"gpt-4o-audio-preview","modalities":["text","audio"],"audio":{"voice":"alloy","format":"pcm16"},"stream":true,"stream_options":{"include_usage":true},` + msgs + `}`, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				client := fmt.Sprintf("audio-%d", i)
				r := s.do(t, call{path: "/openai/v1/chat/completions", client: client, body: tc.body,
					headers: map[string]string{"x-fake-words": "6"}})
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				require.Contains(t, string(r.body), "gpt-4o-audio-preview-2024-12-17")
				prompt, audioIn, completion, audioOut := audioUsage(t, r.body, tc.sse)
				// The fake's formulas, to be sure the body says what the test means:
				// "What is said here?" is 18 bytes → 18/4 + 7 = 11 text tokens.
				require.Equal(t, int64(10), audioIn)
				require.Equal(t, int64(21), prompt)
				require.Equal(t, int64(6), completion-audioOut, "one text token per word")
				require.Positive(t, audioOut)
				want := (prompt-audioIn)*2_500 + audioIn*40_000 + (completion-audioOut)*10_000 + audioOut*80_000
				sp := s.spend(t, client)
				require.Equal(t, want, sp.Day.SpentNano, "text and audio tokens each at their price")
				require.Zero(t, sp.Day.ReservedNano)
				require.Zero(t, sp.Today.EstimatedNano)
			})
		}
	})
}

// Built-in Responses tools on gpt-4.1 (input 2e-06, output 8e-06). The fake
// adds 100 input and 10 output tokens per call; x-fake-prompt-tokens
// replaces the input after that, so every case bills 1,000 input tokens and
// 10 words + 10 per call of output. Fees: web_search $10/1k calls
// (10,000,000 nano each), file_search $2.50/1k (2,500,000), a code
// interpreter container $0.03 (30,000,000) per distinct container.
func TestE2EToolFees(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		calls := func(n int) map[string]string {
			h := tokens(1000, 0, 10, 0)
			h["x-fake-tool-calls"] = fmt.Sprint(n)
			return h
		}
		body := func(tools string) string {
			return `{"model":"gpt-4.1","input":"Find the latest figures and chart them.","tools":` + tools + `}`
		}
		// Tokens of every case with 2 calls: 1,000 × 2,000 + (10 + 2 × 10) × 8,000 = 2,000,000 + 240,000.
		const tokens2 = 2_240_000
		runPriceCases(t, s, []priceCase{
			{
				// + 2 × 10,000,000
				name: "web_search ×2", path: "/openai/v1/responses", body: body(`[{"type":"web_search"}]`),
				headers: calls(2), model: "gpt-4.1-2025-04-14", want: tokens2 + 20_000_000,
			},
			{
				// + 2 × 2,500,000
				name: "file_search ×2", path: "/openai/v1/responses", body: body(`[{"type":"file_search","vector_store_ids":["vs_fake"]}]`),
				headers: calls(2), model: "gpt-4.1-2025-04-14", want: tokens2 + 5_000_000,
			},
			{
				// Two calls in the one auto container: + 30,000,000 once.
				name: "code_interpreter ×2, one container", path: "/openai/v1/responses",
				body:    body(`[{"type":"code_interpreter","container":{"type":"auto"}}]`),
				headers: calls(2), model: "gpt-4.1-2025-04-14", want: tokens2 + 30_000_000,
			},
			{
				// One call in each of two containers: + 2 × 30,000,000.
				name: "code_interpreter, two containers", path: "/openai/v1/responses",
				body:    body(`[{"type":"code_interpreter","container":"cntr_a"},{"type":"code_interpreter","container":"cntr_b"}]`),
				headers: calls(1), model: "gpt-4.1-2025-04-14", want: tokens2 + 60_000_000,
			},
		})
	})
}

// Model names are case-insensitive and may carry a provider prefix. The
// config keeps the default fallback ($10/$30 per M): priced by the fallback,
// 1,000 prompt and 10 completion tokens would cost 10,000,000 + 300,000; at
// gpt-4o-mini's 1.5e-07 / 6e-07 they cost 1,000 × 150 + 10 × 600 = 156,000.
func TestE2EModelNamesFindTheirRow(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		var cases []priceCase
		for _, m := range []string{"GPT-4o-mini", "openai/gpt-4o-mini", "OpenAI/GPT-4O-MINI"} {
			cases = append(cases, priceCase{
				name: m, path: "/openai/v1/chat/completions",
				body:    `{"model":"` + m + `","messages":[{"role":"user","content":"Hi"}]}`,
				headers: tokens(1000, 0, 10, 0), model: m, want: 156_000,
			})
		}
		runPriceCases(t, s, cases)
		// None of them was counted as an unknown model priced by the fallback.
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.admin+"/metrics", http.NoBody)
		require.NoError(t, err)
		resp, err := testClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Contains(t, string(b), "\nproxide_unknown_model_total 0\n")
	})
}

// pricing.region: eu multiplies a row's prices by its regional uplift:
// gpt-5.4 has regional_processing_uplift_multiplier_eu 1.1, gpt-4o-mini none.
func TestE2ERegionalUplift(t *testing.T) {
	onBothLedgers(t, pricesConfig+"pricing: {region: eu}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		runPriceCases(t, s, []priceCase{
			{
				// gpt-5.4 × 1.1: input 2,750, output 16,500.
				// 1,000 × 2,750 + 20 × 16,500 = 2,750,000 + 330,000 (standard: 2,800,000)
				name: "gpt-5.4 eu", path: "/openai/v1/chat/completions",
				body:    `{"model":"gpt-5.4","messages":[{"role":"user","content":"Bonjour"}]}`,
				headers: tokens(1000, 0, 20, 0), model: "gpt-5.4", want: 3_080_000,
			},
			{
				// The uplift applies on top of the tier: flex 1.25e-06 / 7.5e-06 × 1.1
				// = 1,375 / 8,250. 1,000 × 1,375 + 20 × 8,250 = 1,375,000 + 165,000
				name: "gpt-5.4 flex eu", path: "/openai/v1/chat/completions",
				body:    `{"model":"gpt-5.4","service_tier":"flex","messages":[{"role":"user","content":"Bonjour"}]}`,
				headers: tokens(1000, 0, 20, 0), model: "gpt-5.4", tier: "flex", want: 1_540_000,
			},
			{
				// And on top of the long-context prices: 5e-06 / 2.25e-05 × 1.1
				// = 5,500 / 24,750. 300,000 × 5,500 + 20 × 24,750 = 1,650,000,000 + 495,000
				name: "gpt-5.4 long context eu", path: "/openai/v1/chat/completions",
				body:    `{"model":"gpt-5.4","messages":[{"role":"user","content":"Bonjour"}]}`,
				headers: tokens(300_000, 0, 20, 0), model: "gpt-5.4", want: 1_650_495_000,
			},
			{
				// No uplift in the row: unchanged, 1,000 × 150 + 10 × 600.
				name: "gpt-4o-mini eu", path: "/openai/v1/chat/completions",
				body:    `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Bonjour"}]}`,
				headers: tokens(1000, 0, 10, 0), model: "gpt-4o-mini-2024-07-18", want: 156_000,
			},
		})
	})
}
