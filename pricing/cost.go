package pricing

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Errors returned by this package; test with errors.Is.
var (
	// ErrUnknownModel: the model is not in the table and there is no fallback price.
	ErrUnknownModel = errors.New("pricing: unknown model")
	// ErrOverflow: a cost does not fit int64 nano-USD.
	ErrOverflow = errors.New("pricing: cost overflows int64 nano-USD")
	// ErrInvalidAmount: a price or amount is negative, NaN, infinite or absurd.
	ErrInvalidAmount = errors.New("pricing: invalid amount")
)

// Usage is what one request consumed, as OpenAI reports it. The counts nest
// like OpenAI's usage objects: PromptTokens includes the cached, cache-write,
// audio and image prompt tokens; CachedTokens (cached_tokens) includes the
// CachedAudioTokens; CompletionTokens includes reasoning, audio and image
// output tokens. For the Responses API use input_tokens,
// input_tokens_details and output_tokens. Embeddings have only
// PromptTokens. Negative counts are 0 and every part is clamped into its
// whole, so inconsistent counts can never price a token twice.
type Usage struct {
	PromptTokens, CachedTokens, CompletionTokens int64
	// CacheWriteTokens are prompt tokens written to the prompt cache.
	CacheWriteTokens int64
	// AudioPromptTokens and ImagePromptTokens are the audio and image parts
	// of PromptTokens; CachedAudioTokens the cached part of the audio.
	AudioPromptTokens, CachedAudioTokens, ImagePromptTokens int64
	// AudioCompletionTokens and ImageCompletionTokens are the audio and
	// image parts of CompletionTokens (gpt-image output is all image tokens).
	AudioCompletionTokens, ImageCompletionTokens int64
	// Characters of input text (tts-1, tts-1-hd).
	Characters int64
	// InputMillis and OutputMillis are milliseconds of input audio
	// (whisper-1) and of generated audio or video (Sora).
	InputMillis, OutputMillis int64
	// FeeNano is a flat amount in nano-USD added as is, such as tool-call
	// fees or per-image prices the caller computed.
	FeeNano int64
}

// CostOf is the pure cost formula: every count times its price, summed as
// described in the package doc (one 128-bit sum, one rounding), plus
// FeeNano. Negative prices are rejected with ErrInvalidAmount; a result
// above math.MaxInt64 nano-USD is ErrOverflow, never wrapped.
func CostOf(tp TierPrice, u Usage) (int64, error) {
	for _, v := range tp.components() {
		if v < 0 {
			return 0, fmt.Errorf("%w: negative price %+v", ErrInvalidAmount, tp)
		}
	}
	prompt := max(u.PromptTokens, 0)
	audio := part(u.AudioPromptTokens, prompt)
	image := part(u.ImagePromptTokens, prompt-audio)
	text := prompt - audio - image
	cachedAudio := part(u.CachedAudioTokens, audio)
	cachedText := part(max(u.CachedTokens, 0)-cachedAudio, text)
	cacheWrite := part(u.CacheWriteTokens, text-cachedText)

	completion := max(u.CompletionTokens, 0)
	audioOut := part(u.AudioCompletionTokens, completion)
	imageOut := part(u.ImageCompletionTokens, completion-audioOut)

	// The sum is kept in units of 1e-18 USD: a token price is per 1M
	// tokens in nano-USD, so n*price*1000 is 1e-18 USD, as is
	// millis*perMSeconds (1e-3 s × 1e-15 USD/s).
	var s sum
	s.add(text-cachedText-cacheWrite, tp.Input, 1000)
	s.add(cachedText, tp.CachedInput, 1000)
	s.add(cacheWrite, tp.CacheWrite, 1000)
	s.add(audio-cachedAudio, tp.AudioInput, 1000)
	s.add(cachedAudio, tp.CachedAudioInput, 1000)
	s.add(image, tp.ImageInput, 1000)
	s.add(completion-audioOut-imageOut, tp.Output, 1000)
	s.add(audioOut, tp.AudioOutput, 1000)
	s.add(imageOut, tp.ImageOutput, 1000)
	s.add(max(u.Characters, 0), tp.PerMCharacters, 1000)
	s.add(max(u.InputMillis, 0), tp.InputPerMSeconds, 1)
	s.add(max(u.OutputMillis, 0), tp.OutputPerMSeconds, 1)
	s.add(max(u.FeeNano, 0), perNano, 1)
	return s.nano()
}

// part clamps a sub-count into [0, whole].
func part(n, whole int64) int64 { return min(max(n, 0), whole) }

const (
	perMillion = 1_000_000
	// perNano is the number of 1e-18 USD units in one nano-USD.
	perNano = 1_000_000_000
)

// sum is an unsigned 128-bit accumulator that records overflow instead of
// wrapping; any overflow means the result is far beyond int64 nano-USD.
type sum struct {
	hi, lo uint64
	over   bool
}

// add adds n*price*scale for n, price >= 0.
func (s *sum) add(n, price int64, scale uint64) {
	if n <= 0 || price <= 0 {
		return
	}
	ph, pl := bits.Mul64(uint64(n), uint64(price))
	if scale != 1 {
		h1, l1 := bits.Mul64(pl, scale)
		h2, l2 := bits.Mul64(ph, scale)
		var c uint64
		ph, c = bits.Add64(h1, l2, 0)
		if h2 != 0 || c != 0 {
			s.over = true
			return
		}
		pl = l1
	}
	var c uint64
	s.lo, c = bits.Add64(s.lo, pl, 0)
	s.hi, c = bits.Add64(s.hi, ph, c)
	if c != 0 {
		s.over = true
	}
}

// nano rounds the sum to nano-USD, halves up: floor((sum + 5e8) / 1e9).
func (s *sum) nano() (int64, error) {
	if s.over {
		return 0, ErrOverflow
	}
	lo, c := bits.Add64(s.lo, perNano/2, 0)
	hi, c := bits.Add64(s.hi, 0, c)
	if c != 0 || hi >= perNano { // quotient would not fit 64 bits
		return 0, ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, perNano)
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

// PerMTokFromUSD converts a price in USD per million tokens (as written in
// config, e.g. 2.50) into nano-USD per million tokens (2_500_000_000),
// rounding to the nearest unit. NaN, infinities, negatives and prices above
// 1e6 USD per million tokens are rejected.
func PerMTokFromUSD(usdPerMillion float64) (int64, error) {
	if math.IsNaN(usdPerMillion) || usdPerMillion < 0 || usdPerMillion > 1e6 {
		return 0, fmt.Errorf("%w: %v USD per million tokens is outside [0, 1e6]", ErrInvalidAmount, usdPerMillion)
	}
	return int64(math.Round(usdPerMillion * 1e9)), nil
}

// NanoToUSD converts nano-USD to USD for JSON and logs.
func NanoToUSD(nano int64) float64 { return float64(nano) / 1e9 }

// USDToNano converts a USD amount (a budget limit from config or the admin
// API) into nano-USD, rounding to the nearest nano-USD. NaN, infinities,
// negatives and amounts above 1e9 USD are rejected.
func USDToNano(usd float64) (int64, error) {
	if math.IsNaN(usd) || usd < 0 || usd > 1e9 {
		return 0, fmt.Errorf("%w: %v USD is outside [0, 1e9]", ErrInvalidAmount, usd)
	}
	return int64(math.Round(usd * 1e9)), nil
}
