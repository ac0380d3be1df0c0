package pricing

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPriceFor(t *testing.T) {
	// gpt-5.4's rows, per 1M tokens: standard 2.5/0.25/15, flex
	// 1.25/0.13/7.5, priority 5/0.5/30, batch 1.25/0.125/7.5, long context
	// 5/0.5/22.5 above 272K, ×1.1 in the EU and US.
	p, ok := Default().Lookup("gpt-5.4")
	require.True(t, ok)
	tp := func(in, cached, out int64) TierPrice { return TierPrice{Input: in, CachedInput: cached, Output: out} }
	cases := []struct {
		name string
		q    Quote
		want TierPrice
	}{
		{"standard", Quote{}, tp(2_500_000_000, 250_000_000, 15_000_000_000)},
		{"flex", Quote{ServiceTier: "flex"}, tp(1_250_000_000, 130_000_000, 7_500_000_000)},
		{"priority", Quote{ServiceTier: "Priority"}, tp(5_000_000_000, 500_000_000, 30_000_000_000)},
		{"batch", Quote{Batch: true}, tp(1_250_000_000, 125_000_000, 7_500_000_000)},
		{"auto is standard", Quote{ServiceTier: "auto"}, tp(2_500_000_000, 250_000_000, 15_000_000_000)},
		{"at the threshold", Quote{PromptTokens: 272_000}, tp(2_500_000_000, 250_000_000, 15_000_000_000)},
		{"long context", Quote{PromptTokens: 272_001}, tp(5_000_000_000, 500_000_000, 22_500_000_000)},
		// Each flex price × LongContext/Standard: 1.25×5/2.5, 0.13×0.5/0.25, 7.5×22.5/15.
		{"flex long", Quote{ServiceTier: "flex", PromptTokens: 300_000}, tp(2_500_000_000, 260_000_000, 11_250_000_000)},
		// 5×2, 0.5×2, 30×1.5.
		{"priority long", Quote{ServiceTier: "priority", PromptTokens: 300_000}, tp(10_000_000_000, 1_000_000_000, 45_000_000_000)},
		// 1.25×2, 0.125×2, 7.5×1.5.
		{"batch long", Quote{Batch: true, PromptTokens: 300_000}, tp(2_500_000_000, 250_000_000, 11_250_000_000)},
		// ×1.1: 2.75/0.275/16.5.
		{"eu", Quote{Region: "eu"}, tp(2_750_000_000, 275_000_000, 16_500_000_000)},
		{"us", Quote{Region: "US"}, tp(2_750_000_000, 275_000_000, 16_500_000_000)},
		{"other region", Quote{Region: "apac"}, tp(2_500_000_000, 250_000_000, 15_000_000_000)},
		// flex long ×1.1: 2.75/0.286/12.375.
		{"flex long eu", Quote{ServiceTier: "flex", PromptTokens: 300_000, Region: "eu"}, tp(2_750_000_000, 286_000_000, 12_375_000_000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, text(p.For(c.q)))
		})
	}

	// Every price scales, not only the text ones: audio input 2.5 → 5 (long) → 5.5 (EU).
	got := p.For(Quote{PromptTokens: 300_000, Region: "eu"})
	require.Equal(t, int64(5_500_000_000), got.AudioInput)
	require.Equal(t, int64(24_750_000_000), got.AudioOutput)

	// A model without those prices: every quote is the standard price.
	mini, _ := Default().Lookup("gpt-4o-mini")
	for _, q := range []Quote{{Batch: false, ServiceTier: "flex"}, {PromptTokens: 1_000_000}, {Region: "eu"}} {
		require.Equal(t, mini.Standard, mini.For(q), "%+v", q)
	}
}

func TestPriceForCustom(t *testing.T) {
	std := TierPrice{Input: 100, CachedInput: 0, Output: 200, InputPerMSeconds: 7}
	long := TierPrice{Input: 300, CachedInput: 10, Output: 200, InputPerMSeconds: 7}
	flex := TierPrice{Input: 50, CachedInput: 5, Output: 100, InputPerMSeconds: 7}
	p := Price{Standard: std, Flex: &flex, LongContextThreshold: 10, LongContext: &long,
		RegionalUplift: map[string]int64{"eu": 1500}}
	// Flex long: 50×300/100, cached 0 standard → the long price 10 itself,
	// 100×200/200, seconds 7×7/7.
	require.Equal(t, TierPrice{Input: 150, CachedInput: 10, Output: 100, InputPerMSeconds: 7},
		p.For(Quote{ServiceTier: "flex", PromptTokens: 11}))
	// ×1.5 rounds half up: 7×1.5 = 10.5 → 11.
	require.Equal(t, TierPrice{Input: 150, CachedInput: 0, Output: 300, InputPerMSeconds: 11}, p.For(Quote{Region: "eu"}))
	// A threshold without long-context prices changes nothing.
	p.LongContext = nil
	require.Equal(t, std, p.For(Quote{PromptTokens: 11}))
}

func TestMulDiv(t *testing.T) {
	require.Equal(t, int64(3), mulDiv(5, 1, 2), "2.5 rounds half up")
	require.Equal(t, int64(2), mulDiv(7, 1, 4), "1.75 rounds to 2")
	require.Equal(t, int64(0), mulDiv(0, 5, 3))
	require.Equal(t, int64(0), mulDiv(5, 5, 0), "no ratio")
	require.Equal(t, int64(math.MaxInt64), mulDiv(math.MaxInt64, 1, 1))
	require.Equal(t, int64(math.MaxInt64), mulDiv(math.MaxInt64, 2, 1), "saturates")
	require.Equal(t, int64(math.MaxInt64), mulDiv(math.MaxInt64, math.MaxInt64, 1), "saturates")
	require.Equal(t, int64(math.MaxInt64/2000*1100), mulDiv(math.MaxInt64/2000, 1100, 1))
	require.Equal(t, int64(9), ratio(3, 0, 0)+ratio(3, 9, 0), "an undefined ratio takes num")
}
