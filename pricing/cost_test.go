package pricing

import (
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
	require.Zero(t, NanoToUSD(0))
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
		{"negative audio output price", TierPrice{AudioOutput: -1}, Usage{}, ErrInvalidAmount},
		{"negative second price", TierPrice{OutputPerMSeconds: -1}, Usage{}, ErrInvalidAmount},
		// MaxInt64² × 1000 does not fit 128 bits: caught in the product.
		{"characters times max", TierPrice{PerMCharacters: math.MaxInt64}, Usage{Characters: math.MaxInt64}, ErrOverflow},
		// MaxInt64² ≈ 2^126 fits 128 bits, but not after dividing by 1e9 into int64.
		{"seconds times max", TierPrice{InputPerMSeconds: math.MaxInt64}, Usage{InputMillis: math.MaxInt64}, ErrOverflow},
		// Each product 4.4e16 * 2^62 * 1000 ≈ 0.6 * 2^128 fits; their sum
		// carries out of 128 bits.
		{"sum carries out", TierPrice{AudioOutput: 1 << 62, ImageOutput: 1 << 62},
			Usage{CompletionTokens: 88e15, AudioCompletionTokens: 44e15, ImageCompletionTokens: 44e15}, ErrOverflow},
		// The largest fee plus one nano-USD.
		{"fee plus a token", TierPrice{Input: 1_000_000}, Usage{PromptTokens: 1, FeeNano: math.MaxInt64}, ErrOverflow},
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
	require.NotErrorIs(t, err, ErrOverflow)
}

// rich has a different price for every component, so a test can tell which
// price each token was charged at (nano-USD per 1M units).
var rich = TierPrice{
	Input:             1_000_000_000,       // $1/M
	CachedInput:       100_000_000,         // $0.10/M
	Output:            4_000_000_000,       // $4/M
	CacheWrite:        1_250_000_000,       // $1.25/M
	AudioInput:        40_000_000_000,      // $40/M
	CachedAudioInput:  2_500_000_000,       // $2.50/M
	AudioOutput:       80_000_000_000,      // $80/M
	ImageInput:        10_000_000_000,      // $10/M
	ImageOutput:       40_000_000_000,      // $40/M
	PerMCharacters:    15_000_000_000,      // $15/M characters
	InputPerMSeconds:  100_000_000_000,     // $0.0001/s
	OutputPerMSeconds: 100_000_000_000_000, // $0.10/s
}

func TestCostOfComponents(t *testing.T) {
	cases := []struct {
		name string
		u    Usage
		want int64
	}{
		// Prompt 10000 = text 7000 + audio 2000 + image 1000. Text: 2500
		// cached (3000 cached − 500 cached audio), 1000 cache writes, 3500
		// plain. Completion 5000 = 2000 text + 1000 audio + 2000 image.
		// Per 1M: 3500*1e9 + 2500*1e8 + 1000*1.25e9 + 1500*4e10 + 500*2.5e9
		// + 1000*1e10 + 2000*4e9 + 1000*8e10 + 2000*4e10 + 100*1.5e10
		// = 245.75e12 → 245_750_000; seconds: 1500 ms*1e11/1e9 = 150_000 and
		// 4000 ms*1e14/1e9 = 400_000_000; fee 10_000_000.
		{"everything", Usage{PromptTokens: 10_000, CachedTokens: 3000, CacheWriteTokens: 1000, AudioPromptTokens: 2000,
			CachedAudioTokens: 500, ImagePromptTokens: 1000, CompletionTokens: 5000, AudioCompletionTokens: 1000,
			ImageCompletionTokens: 2000, Characters: 100, InputMillis: 1500, OutputMillis: 4000, FeeNano: 10_000_000}, 655_900_000},
		// Audio is clamped to the prompt: 100*4e10.
		{"audio above prompt", Usage{PromptTokens: 100, AudioPromptTokens: 500}, 4_000_000},
		// Image is clamped to what audio leaves: 60*4e10 + 40*1e10.
		{"image above the rest", Usage{PromptTokens: 100, AudioPromptTokens: 60, ImagePromptTokens: 100}, 2_800_000},
		// Cached audio clamped to audio (50); cached text = 80 − 50 = 30;
		// plain 20: 20*1e9 + 30*1e8 + 50*2.5e9.
		{"cached audio above audio", Usage{PromptTokens: 100, AudioPromptTokens: 50, CachedAudioTokens: 80, CachedTokens: 80}, 148_000},
		// Cached tokens below the cached audio: no cached text (50*1e9 text
		// + 50*2.5e9 cached audio); never a negative count.
		{"cached below cached audio", Usage{PromptTokens: 100, AudioPromptTokens: 50, CachedAudioTokens: 50, CachedTokens: 10}, 175_000},
		// Cache writes clamped to the uncached text (20): 80*1e8 + 20*1.25e9.
		{"cache writes above the rest", Usage{PromptTokens: 100, CachedTokens: 80, CacheWriteTokens: 50}, 33_000},
		// Output parts clamped: 70 audio, then 30 image, no text: 70*8e10 + 30*4e10.
		{"output parts above completion", Usage{CompletionTokens: 100, AudioCompletionTokens: 70, ImageCompletionTokens: 70}, 6_800_000},
		// Reasoning tokens are text output: 1000*4e9.
		{"text output", Usage{CompletionTokens: 1000}, 4_000_000},
		{"negative everything", Usage{PromptTokens: -1, CachedTokens: -1, CacheWriteTokens: -1, AudioPromptTokens: -1,
			CachedAudioTokens: -1, ImagePromptTokens: -1, CompletionTokens: -1, AudioCompletionTokens: -1,
			ImageCompletionTokens: -1, Characters: -1, InputMillis: -1, OutputMillis: -1, FeeNano: -1}, 0},
		// Negative parts of a positive whole: 100 plain text * 1e9.
		{"negative parts", Usage{PromptTokens: 100, AudioPromptTokens: -5, CachedTokens: -5, ImagePromptTokens: -5}, 100_000},
		{"fee only", Usage{FeeNano: 123}, 123},
		{"largest fee", Usage{FeeNano: math.MaxInt64}, math.MaxInt64},
		// 0.1 s of whisper at $0.0001/s = $0.00001.
		{"tenth of a second", Usage{InputMillis: 100}, 10_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CostOf(rich, c.u)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestCostOfRoundsOnce(t *testing.T) {
	cases := []struct {
		name string
		tp   TierPrice
		u    Usage
		want int64
	}{
		// 1 ms at 499_999_999 per M seconds = 0.499999999 nano → 0; 0.5 → 1.
		{"second below half", TierPrice{InputPerMSeconds: 499_999_999}, Usage{InputMillis: 1}, 0},
		{"second at half", TierPrice{InputPerMSeconds: 500_000_000}, Usage{InputMillis: 1}, 1},
		// 0.4 nano of tokens + 0.4 nano of seconds = 0.8 → 1.
		{"tokens and seconds summed first", TierPrice{Input: 400_000, InputPerMSeconds: 400_000_000}, Usage{PromptTokens: 1, InputMillis: 1}, 1},
		// 0.3 + 0.3 nano over audio and image → 0.6 → 1.
		{"audio and image summed first", TierPrice{AudioInput: 300_000, ImageOutput: 300_000},
			Usage{PromptTokens: 1, AudioPromptTokens: 1, CompletionTokens: 1, ImageCompletionTokens: 1}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CostOf(c.tp, c.u)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}
