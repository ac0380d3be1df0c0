package pricing

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// text keeps the three text prices, the ones these tests are about.
func text(tp TierPrice) TierPrice {
	return TierPrice{Input: tp.Input, CachedInput: tp.CachedInput, Output: tp.Output}
}

func TestPricerTiers(t *testing.T) {
	p := New(Options{})
	cases := []struct {
		model, tier string
		want        TierPrice
	}{
		{"gpt-5", "flex", TierPrice{Input: 625_000_000, CachedInput: 62_500_000, Output: 5_000_000_000}},
		{"gpt-5", "priority", TierPrice{Input: 2_500_000_000, CachedInput: 250_000_000, Output: 20_000_000_000}},
		{"gpt-5", "", TierPrice{Input: 1_250_000_000, CachedInput: 125_000_000, Output: 10_000_000_000}},
		{"gpt-5", " FLEX ", TierPrice{Input: 625_000_000, CachedInput: 62_500_000, Output: 5_000_000_000}},
		{"gpt-5", "Flex", TierPrice{Input: 625_000_000, CachedInput: 62_500_000, Output: 5_000_000_000}},
		{"gpt-4o", "priority", TierPrice{Input: 4_250_000_000, CachedInput: 2_125_000_000, Output: 17_000_000_000}},
		{"gpt-4o", "default", TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000}},
		{"gpt-4o", "auto", TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000}},
		{"gpt-4o", "scale", TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000}},
		// gpt-4o-mini has no flex tier: standard applies.
		{"gpt-4o-mini", "flex", TierPrice{Input: 150_000_000, CachedInput: 75_000_000, Output: 600_000_000}},
		// Partial tiers in the snapshot. gpt-5.4-pro flex has no cache price:
		// the standard 3e-6 scaled by the flex input ratio 1.5e-5/3e-5.
		{"gpt-5.4-pro", "flex", TierPrice{Input: 15_000_000_000, CachedInput: 1_500_000_000, Output: 90_000_000_000}},
		// gpt-5-nano priority gives only an input price; cached = 5e-9 × 2.5e-6/5e-8.
		{"gpt-5-nano", "priority", TierPrice{Input: 2_500_000_000, CachedInput: 250_000_000, Output: 400_000_000}},
		// gpt-4o-2024-05-13 has no cache price at all: cached = input per tier.
		{"gpt-4o-2024-05-13", "priority", TierPrice{Input: 8_750_000_000, CachedInput: 8_750_000_000, Output: 26_250_000_000}},
		{"gpt-4o-2024-05-13", "", TierPrice{Input: 5_000_000_000, CachedInput: 5_000_000_000, Output: 15_000_000_000}},

		// Dated rows without tier prices take their alias's (o3: flex
		// $1/$0.25/$4, priority $3.50/$0.875/$14 per M).
		{"o3-2025-04-16", "flex", TierPrice{Input: 1_000_000_000, CachedInput: 250_000_000, Output: 4_000_000_000}},
		{"o3-2025-04-16", "priority", TierPrice{Input: 3_500_000_000, CachedInput: 875_000_000, Output: 14_000_000_000}},
		{"O3-2025-04-16", "FLEX", TierPrice{Input: 1_000_000_000, CachedInput: 250_000_000, Output: 4_000_000_000}},
		{"gpt-4.1-2025-04-14", "priority", TierPrice{Input: 3_500_000_000, CachedInput: 875_000_000, Output: 14_000_000_000}},
		{"gpt-4o-2024-08-06", "priority", TierPrice{Input: 4_250_000_000, CachedInput: 2_125_000_000, Output: 17_000_000_000}},
		{"o4-mini-2025-04-16", "priority", TierPrice{Input: 2_000_000_000, CachedInput: 500_000_000, Output: 8_000_000_000}},
		{"o4-mini-2025-04-16", "flex", TierPrice{Input: 550_000_000, CachedInput: 137_500_000, Output: 2_200_000_000}},
		{"gpt-5-nano-2025-08-07", "priority", TierPrice{Input: 2_500_000_000, CachedInput: 250_000_000, Output: 400_000_000}},
		// ...but keep their own: gpt-5-nano-2025-08-07 has its own flex.
		{"gpt-5-nano-2025-08-07", "flex", TierPrice{Input: 25_000_000, CachedInput: 2_500_000, Output: 200_000_000}},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.tier, func(t *testing.T) {
			tp, info, known, err := p.Lookup(c.model, c.tier)
			require.NoError(t, err)
			require.True(t, known)
			require.Equal(t, c.want, text(tp))
			require.NotEmpty(t, info.Mode)
		})
	}
}

func TestPricerCost(t *testing.T) {
	p := New(Options{Table: Default()})
	cases := []struct {
		name, model, tier string
		u                 Usage
		want              int64
	}{
		// 600*2.5e-6 + 400*1.25e-6 + 100*1e-5 = 0.003 USD.
		{"gpt-4o cached", "gpt-4o", "", Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 100}, 3_000_000},
		{"dated snapshot from the response", "gpt-4o-2024-08-06", "", Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 100}, 3_000_000},
		// 1000 * 2e-8 USD.
		{"embedding", "text-embedding-3-small", "", Usage{PromptTokens: 1000}, 20_000},
		// 1M prompt tokens at flex 6.25e-7 + 1000 output at 5e-6.
		{"gpt-5 flex", "gpt-5", "flex", Usage{PromptTokens: 1_000_000, CompletionTokens: 1000}, 625_000_000 + 5_000_000},
		// No cache price: cached tokens cost the full input price.
		{"no cache price", "gpt-4", "", Usage{PromptTokens: 100, CachedTokens: 100}, 3_000_000},
		{"legacy completion", "gpt-3.5-turbo-instruct", "", Usage{PromptTokens: 10, CompletionTokens: 10}, 35_000},
		// o3's flex price for the dated snapshot: 1000*1e-6 + 2000*4e-6 = 0.009 USD.
		{"o3 flex via snapshot", "o3-2025-04-16", "flex", Usage{PromptTokens: 1000, CompletionTokens: 2000}, 9_000_000},
		// gpt-5.4 above 272K: the whole request at 5e-6 in / 2.25e-5 out:
		// 300000*5e-6 + 1000*2.25e-5 = 1.5 + 0.0225 = 1.5225 USD.
		{"gpt-5.4 long context", "gpt-5.4", "", Usage{PromptTokens: 300_000, CompletionTokens: 1000}, 1_522_500_000},
		// The issue's $1.545 is the same prompt with 2000 output tokens: 1.5 + 0.045.
		{"gpt-5.4 long context 2000 out", "gpt-5.4", "", Usage{PromptTokens: 300_000, CompletionTokens: 2000}, 1_545_000_000},
		// At exactly 272000 the standard prices still apply: 272000*2.5e-6 + 1000*1.5e-5 = 0.68 + 0.015.
		{"gpt-5.4 at the threshold", "gpt-5.4", "", Usage{PromptTokens: 272_000, CompletionTokens: 1000}, 695_000_000},
		// One token more: 272001*5e-6 + 1000*2.25e-5 = 1.360005 + 0.0225.
		{"gpt-5.4 one above", "gpt-5.4", "", Usage{PromptTokens: 272_001, CompletionTokens: 1000}, 1_382_505_000},
		// Flex long context: flex 1.25e-6 in scaled by 5e-6/2.5e-6 = 2.5e-6,
		// 7.5e-6 out by 2.25e-5/1.5e-5 = 1.125e-5: 300000*2.5e-6 + 1000*1.125e-5 = 0.75 + 0.01125.
		{"gpt-5.4 flex long context", "gpt-5.4", "flex", Usage{PromptTokens: 300_000, CompletionTokens: 1000}, 761_250_000},
		// gpt-4o-audio-preview: 5000 prompt tokens of which 4800 audio, 1000
		// completion of which 900 audio: 200*2.5e-6 + 4800*4e-5 + 100*1e-5 +
		// 900*8e-5 = 0.0005 + 0.192 + 0.001 + 0.072 = 0.2655 USD.
		{"audio tokens", "gpt-4o-audio-preview", "", Usage{PromptTokens: 5000, AudioPromptTokens: 4800,
			CompletionTokens: 1000, AudioCompletionTokens: 900}, 265_500_000},
		// The same request seen as text only: 5000*2.5e-6 + 1000*1e-5 = 0.0225 USD.
		{"audio request priced as text", "gpt-4o-audio-preview", "", Usage{PromptTokens: 5000, CompletionTokens: 1000}, 22_500_000},
		// tts-1: 1000 characters * 1.5e-5 = 0.015 USD.
		{"tts-1 characters", "tts-1", "", Usage{Characters: 1000}, 15_000_000},
		// whisper-1: 61.5 s * 1e-4 USD/s = 0.00615 USD.
		{"whisper-1 seconds", "whisper-1", "", Usage{InputMillis: 61_500}, 6_150_000},
		// sora-2: 4 s of video * 0.1 USD/s.
		{"sora-2 seconds", "sora-2", "", Usage{OutputMillis: 4000}, 400_000_000},
		// gpt-image-1 output is image tokens: 100 text in * 5e-6 + 4160 image out * 4e-5 = 0.0005 + 0.1664.
		{"gpt-image-1 tokens", "gpt-image-1", "", Usage{PromptTokens: 100, CompletionTokens: 4160, ImageCompletionTokens: 4160}, 166_900_000},
		// The same when the caller does not break the output down: a row
		// without a text output price bills output at the image price.
		{"gpt-image-1 plain tokens", "gpt-image-1", "", Usage{PromptTokens: 100, CompletionTokens: 4160}, 166_900_000},
		{"moderation is free", "omni-moderation-latest", "", Usage{PromptTokens: 10_000}, 0},
		// A flat fee is added as is: 1000*2.5e-6 + 0.025 (one web_search_preview call).
		{"fee", "gpt-4o", "", Usage{PromptTokens: 1000, FeeNano: 25_000_000}, 27_500_000},
		// Legacy rows: gpt-3.5-turbo-0613 is 1.5e-6/2e-6, not gpt-3.5-turbo's 5e-7/1.5e-6:
		// 1000*1.5e-6 + 1000*2e-6 = 0.0035 USD.
		{"gpt-3.5-turbo-0613", "gpt-3.5-turbo-0613", "", Usage{PromptTokens: 1000, CompletionTokens: 1000}, 3_500_000},
		// 1000*5e-7 + 1000*1.5e-6 = 0.002 USD.
		{"gpt-3.5-turbo", "gpt-3.5-turbo", "", Usage{PromptTokens: 1000, CompletionTokens: 1000}, 2_000_000},
		// o1-mini at OpenAI's 1.1e-6/4.4e-6, not Azure's 1.21e-6: 0.0011 + 0.0044.
		{"o1-mini", "o1-mini", "", Usage{PromptTokens: 1000, CompletionTokens: 1000}, 5_500_000},
		// Fine-tune of an undated base: ft:gpt-4o-mini-2024-07-18 at 3e-7/1.2e-6: 0.0003 + 0.0012.
		{"ft undated base", "ft:gpt-4o-mini:acme::abc", "", Usage{PromptTokens: 1000, CompletionTokens: 1000}, 1_500_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, known, err := p.Cost(c.model, c.tier, c.u)
			require.NoError(t, err)
			require.True(t, known)
			require.Equal(t, c.want, got)
		})
	}
}

func TestPricerCostFor(t *testing.T) {
	p := New(Options{})
	cases := []struct {
		name, model string
		q           Quote
		u           Usage
		want        int64
	}{
		// gpt-4o batch: 1.25e-6 in, cache 1.25e-6*0.5 = 6.25e-7, 5e-6 out:
		// 600*1.25e-6 + 400*6.25e-7 + 100*5e-6 = 0.00075 + 0.00025 + 0.0005.
		{"batch", "gpt-4o", Quote{Batch: true}, Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 100}, 1_500_000},
		// Batch wins over a service tier.
		{"batch beats priority", "gpt-4o", Quote{Batch: true, ServiceTier: "priority"}, Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 100}, 1_500_000},
		// A dated fine-tune row takes its alias's batch prices:
		// ft:gpt-3.5-turbo-0125 from ft:gpt-3.5-turbo, 1000*1.5e-6 + 100*3e-6.
		{"batch from alias", "ft:gpt-3.5-turbo-0125", Quote{Batch: true}, Usage{PromptTokens: 1000, CompletionTokens: 100}, 1_800_000},
		// o3 has no batch prices: standard 1000*2e-6 + 100*8e-6.
		{"no batch prices", "o3", Quote{Batch: true}, Usage{PromptTokens: 1000, CompletionTokens: 100}, 2_800_000},
		// gpt-5.4 in the EU: ×1.1 → 2.75e-6 in, 1.65e-5 out: 0.00275 + 0.0165.
		{"eu uplift", "gpt-5.4", Quote{Region: "eu"}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 19_250_000},
		{"region ignores case", "gpt-5.4", Quote{Region: " EU "}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 19_250_000},
		// No uplift for an unknown region or a model without one: 0.0025 + 0.015.
		{"unknown region", "gpt-5.4", Quote{Region: "jp"}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 17_500_000},
		{"model without uplift", "gpt-4o", Quote{Region: "eu"}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 12_500_000},
		// The billed prompt decides long context, not the quote's estimate:
		// 1000*2.5e-6 + 1000*1.5e-5 at standard prices.
		{"usage decides long context", "gpt-5.4", Quote{PromptTokens: 1_000_000}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 17_500_000},
		// Priority, long context and EU together: priority 5e-6 × (5e-6/2.5e-6) = 1e-5,
		// ×1.1 = 1.1e-5 in; 3e-5 × 1.5 = 4.5e-5, ×1.1 = 4.95e-5 out:
		// 300000*1.1e-5 + 1000*4.95e-5 = 3.3 + 0.0495.
		{"priority long eu", "gpt-5.4", Quote{ServiceTier: "priority", Region: "eu"}, Usage{PromptTokens: 300_000, CompletionTokens: 1000}, 3_349_500_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, known, err := p.CostFor(c.model, c.q, c.u)
			require.NoError(t, err)
			require.True(t, known)
			require.Equal(t, c.want, got)
		})
	}

	// LookupFor applies the quote's own prompt estimate (for the reservation).
	tp, info, known, err := p.LookupFor("gpt-5.4", Quote{PromptTokens: 300_000})
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, int64(5_000_000_000), tp.Input)
	require.Equal(t, int64(272_000), info.LongContextThreshold)
	tp, _, _, err = p.Lookup("gpt-5.4", "")
	require.NoError(t, err)
	require.Equal(t, int64(2_500_000_000), tp.Input, "Lookup applies no long-context price")

	// Row is LookupFor's row, uncopied.
	row, known, err := p.Row("gpt-5.4")
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, info, row)

	// TierFor gives LookupFor's prices without the row.
	for _, q := range []Quote{{PromptTokens: 300_000}, {}, {ServiceTier: "flex"}, {Batch: true}, {Region: "eu"}} {
		want, _, wantKnown, err := p.LookupFor("gpt-5.4", q)
		require.NoError(t, err)
		got, known, err := p.TierFor("gpt-5.4", q)
		require.NoError(t, err)
		require.Equal(t, wantKnown, known)
		require.Equal(t, want, got, "quote %+v", q)
	}
}

func TestPricerUnknown(t *testing.T) {
	var seen []string
	onUnknown := func(m string) { seen = append(seen, m) }

	refuse := New(Options{OnUnknown: onUnknown})
	_, known, err := refuse.Cost("claude-3-opus", "", Usage{PromptTokens: 10})
	require.ErrorIs(t, err, ErrUnknownModel)
	require.Contains(t, err.Error(), "claude-3-opus")
	require.False(t, known)
	_, _, known, err = refuse.Lookup("", "")
	require.ErrorIs(t, err, ErrUnknownModel)
	require.False(t, known)
	_, _, known, err = refuse.LookupFor("mystery", Quote{})
	require.ErrorIs(t, err, ErrUnknownModel)
	require.False(t, known)
	_, known, err = refuse.TierFor("mystery", Quote{})
	require.ErrorIs(t, err, ErrUnknownModel)
	require.False(t, known)
	_, known, err = refuse.Row("mystery")
	require.ErrorIs(t, err, ErrUnknownModel)
	require.False(t, known)
	require.Equal(t, []string{"claude-3-opus", "", "mystery", "mystery", "mystery"}, seen)

	seen = nil
	fb := &TierPrice{Input: 10_000_000_000, CachedInput: 10_000_000_000, Output: 30_000_000_000}
	fallback := New(Options{Fallback: fb, OnUnknown: onUnknown})
	fb.Input = 1 // New copies the fallback
	got, known, err := fallback.Cost("my-local-llm", "priority", Usage{PromptTokens: 1000, CompletionTokens: 100})
	require.NoError(t, err)
	require.False(t, known)
	require.Equal(t, int64(10_000_000+3_000_000), got)
	tp, info, known, err := fallback.Lookup("my-local-llm", "")
	require.NoError(t, err)
	require.False(t, known)
	require.Equal(t, int64(10_000_000_000), tp.Input)
	require.Equal(t, tp, info.Standard)
	require.Equal(t, []string{"my-local-llm", "my-local-llm"}, seen)
	// A text-only fallback prices audio tokens at its text prices, never at 0:
	// 1000 audio prompt tokens * 1e-5 + 100 audio output * 3e-5.
	got, _, err = fallback.Cost("my-local-llm", "", Usage{PromptTokens: 1000, AudioPromptTokens: 1000, CompletionTokens: 100, AudioCompletionTokens: 100})
	require.NoError(t, err)
	require.Equal(t, int64(10_000_000+3_000_000), got)

	// Known models never fire OnUnknown and never use the fallback.
	seen = nil
	got, known, err = fallback.Cost("openai/gpt-4o", "", Usage{PromptTokens: 1000})
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, int64(2_500_000), got)
	require.Empty(t, seen)

	// A fallback with a negative price is an error at cost time, not a panic.
	bad := New(Options{Fallback: &TierPrice{Input: -1}})
	_, _, err = bad.Cost("x", "", Usage{PromptTokens: 1})
	require.ErrorIs(t, err, ErrInvalidAmount)
}

func TestPricerLookupInfoIsACopy(t *testing.T) {
	p := New(Options{})
	_, info, known, err := p.Lookup("gpt-5.4", "")
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, "chat", info.Mode)
	require.Equal(t, int64(1_050_000), info.MaxInputTokens)
	require.Equal(t, int64(128_000), info.MaxOutputTokens)
	require.True(t, info.Reasoning)
	require.NotNil(t, info.Priority)
	info.Priority.Input = 1
	info.Batch.Input = 1
	info.LongContext.Input = 1
	info.RegionalUplift["eu"] = 1
	tp, again, _, err := p.Lookup("gpt-5.4", "priority")
	require.NoError(t, err)
	require.Equal(t, int64(5_000_000_000), tp.Input)
	require.Equal(t, int64(1_250_000_000), again.Batch.Input)
	require.Equal(t, int64(5_000_000_000), again.LongContext.Input)
	require.Equal(t, map[string]int64{"eu": 1100, "us": 1100}, again.RegionalUplift)
}

func TestPricerConcurrent(t *testing.T) {
	p := New(Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				got, _, err := p.Cost("gpt-4o-mini-2099-01-01", "flex", Usage{PromptTokens: 1000})
				if err != nil || got != 150_000 {
					t.Errorf("Cost = %d, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
