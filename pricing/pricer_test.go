package pricing

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

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
		// gpt-5-nano priority gives only an input price.
		{"gpt-5-nano", "priority", TierPrice{Input: 2_500_000_000, CachedInput: 250_000_000, Output: 400_000_000}},
		// gpt-4o-2024-05-13 has no cache price at all: cached = input per tier.
		{"gpt-4o-2024-05-13", "priority", TierPrice{Input: 8_750_000_000, CachedInput: 8_750_000_000, Output: 26_250_000_000}},
		{"gpt-4o-2024-05-13", "", TierPrice{Input: 5_000_000_000, CachedInput: 5_000_000_000, Output: 15_000_000_000}},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.tier, func(t *testing.T) {
			tp, info, known, err := p.Lookup(c.model, c.tier)
			require.NoError(t, err)
			require.True(t, known)
			require.Equal(t, c.want, tp)
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
	require.Equal(t, []string{"claude-3-opus", ""}, seen)

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
	_, info, known, err := p.Lookup("gpt-4o", "")
	require.NoError(t, err)
	require.True(t, known)
	require.Equal(t, "chat", info.Mode)
	require.Equal(t, int64(128000), info.MaxInputTokens)
	require.Equal(t, int64(16384), info.MaxOutputTokens)
	require.NotNil(t, info.Priority)
	info.Priority.Input = 1
	tp, _, _, err := p.Lookup("gpt-4o", "priority")
	require.NoError(t, err)
	require.Equal(t, int64(4_250_000_000), tp.Input)
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
