package pricing

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPerMTok(t *testing.T) {
	// LiteLLM USD-per-token literals → nano-USD per million tokens.
	cases := []struct {
		raw  string
		want int64
	}{
		{"2.5e-06", 2_500_000_000},
		{"1.375e-07", 137_500_000},
		{"6.25e-08", 62_500_000},
		{"2.5e-09", 2_500_000},
		{"1.875e-06", 1_875_000_000},
		{"0.00018", 180_000_000_000},
		{"0.0", 0},
		{"0", 0},
		{"1", 1_000_000_000_000_000},
	}
	for _, c := range cases {
		t.Run(c.raw, func(t *testing.T) {
			got, ok, err := perMTok([]byte(c.raw))
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, c.want, got)
		})
	}
	for _, bad := range []string{`"cheap"`, `-1e-06`, `1.5`, `true`, `{}`} {
		_, _, err := perMTok([]byte(bad))
		require.ErrorIs(t, err, ErrInvalidAmount, bad)
	}
	_, ok, err := perMTok([]byte("null"))
	require.NoError(t, err)
	require.False(t, ok)
}

func TestPerMTokFromUSD(t *testing.T) {
	cases := []struct {
		usd     float64
		want    int64
		wantErr bool
	}{
		{usd: 2.5, want: 2_500_000_000},
		{usd: 10, want: 10_000_000_000},
		{usd: 0.075, want: 75_000_000},
		{usd: 0, want: 0},
		{usd: 1e6, want: 1_000_000_000_000_000},
		{usd: 1e6 + 1, wantErr: true},
		{usd: -0.01, wantErr: true},
		{usd: math.NaN(), wantErr: true},
		{usd: math.Inf(1), wantErr: true},
		{usd: math.Inf(-1), wantErr: true},
	}
	for _, c := range cases {
		got, err := PerMTokFromUSD(c.usd)
		if c.wantErr {
			require.ErrorIs(t, err, ErrInvalidAmount, "%v", c.usd)
			continue
		}
		require.NoError(t, err, "%v", c.usd)
		require.Equal(t, c.want, got, "%v", c.usd)
	}
}

func TestUSDToNano(t *testing.T) {
	cases := []struct {
		usd     float64
		want    int64
		wantErr bool
	}{
		{usd: 0.5, want: 500_000_000},
		{usd: 0.1, want: 100_000_000},
		{usd: 5, want: 5_000_000_000},
		{usd: 1e-9, want: 1},
		{usd: 4e-10, want: 0},
		{usd: 0.0000000016, want: 2},
		{usd: 1e9, want: 1_000_000_000_000_000_000},
		{usd: 1e9 + 1, wantErr: true},
		{usd: -1e-9, wantErr: true},
		{usd: math.NaN(), wantErr: true},
		{usd: math.Inf(1), wantErr: true},
	}
	for _, c := range cases {
		got, err := USDToNano(c.usd)
		if c.wantErr {
			require.ErrorIs(t, err, ErrInvalidAmount, "%v", c.usd)
			continue
		}
		require.NoError(t, err, "%v", c.usd)
		require.Equal(t, c.want, got, "%v", c.usd)
	}
	require.InDelta(t, 0.003, NanoToUSD(3_000_000), 1e-15)
	require.InDelta(t, 0.52, NanoToUSD(520_000_000), 1e-15)
	require.Equal(t, 0.0, NanoToUSD(0))
}

func TestCostOf(t *testing.T) {
	gpt4o := TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000}
	cases := []struct {
		name string
		tp   TierPrice
		u    Usage
		want int64
	}{
		// 600*2.5e-6 + 400*1.25e-6 + 100*1e-5 USD = 0.0015+0.0005+0.001 = 0.003 USD.
		{"gpt-4o cached", gpt4o, Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 100}, 3_000_000},
		{"zero usage", gpt4o, Usage{}, 0},
		{"one token rounds half up", TierPrice{Input: 500_000}, Usage{PromptTokens: 1}, 1},
		{"just below half rounds down", TierPrice{Input: 499_999}, Usage{PromptTokens: 1}, 0},
		{"2.5 rounds to 3 (not to even)", TierPrice{Input: 2_500_000}, Usage{PromptTokens: 1}, 3},
		// Components are summed before rounding: 0.4 + 0.4 nano = 0.8 → 1,
		// where rounding each would give 0.
		{"sum before rounding", TierPrice{Input: 400_000, Output: 400_000}, Usage{PromptTokens: 1, CompletionTokens: 1}, 1},
		{"negative counts are zero", gpt4o, Usage{PromptTokens: -5, CachedTokens: -1, CompletionTokens: -7}, 0},
		{"cached clamped to prompt", gpt4o, Usage{PromptTokens: 1000, CachedTokens: 5000}, 1_250_000},
		{"negative cached is zero", gpt4o, Usage{PromptTokens: 1000, CachedTokens: -3}, 2_500_000},
		{"cached without prompt is ignored", gpt4o, Usage{CachedTokens: 400}, 0},
		{"largest exact result", TierPrice{Input: 1_000_000}, Usage{PromptTokens: math.MaxInt64}, math.MaxInt64},
		{"huge tokens at zero price", TierPrice{}, Usage{PromptTokens: math.MaxInt64, CompletionTokens: math.MaxInt64}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CostOf(c.tp, c.u)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestCostOfErrors(t *testing.T) {
	cases := []struct {
		name string
		tp   TierPrice
		u    Usage
		want error
	}{
		{"max times max", TierPrice{Input: math.MaxInt64, CachedInput: math.MaxInt64, Output: math.MaxInt64},
			Usage{PromptTokens: math.MaxInt64, CachedTokens: math.MaxInt64 / 2, CompletionTokens: math.MaxInt64}, ErrOverflow},
		// MaxInt64*1e6 + 500_000 rounds to MaxInt64+1.
		{"one past the largest", TierPrice{Input: 1_000_000, Output: 1},
			Usage{PromptTokens: math.MaxInt64, CompletionTokens: 500_000}, ErrOverflow},
		{"just past int64 quotient", TierPrice{Input: 2_000_000}, Usage{PromptTokens: math.MaxInt64/2 + 1}, ErrOverflow},
		{"negative input price", TierPrice{Input: -1}, Usage{PromptTokens: 1}, ErrInvalidAmount},
		{"negative cached price", TierPrice{CachedInput: -1}, Usage{}, ErrInvalidAmount},
		{"negative output price", TierPrice{Output: -1}, Usage{}, ErrInvalidAmount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CostOf(c.tp, c.u)
			require.ErrorIs(t, err, c.want)
			require.Zero(t, got)
		})
	}
	// Just below the boundary of the "one past" case still fits.
	got, err := CostOf(TierPrice{Input: 1_000_000, Output: 1}, Usage{PromptTokens: math.MaxInt64, CompletionTokens: 499_999})
	require.NoError(t, err)
	require.Equal(t, int64(math.MaxInt64), got)
	require.False(t, errors.Is(err, ErrOverflow))
}
