package pricing

import (
	"maps"
	"math"
	"math/bits"
	"strings"
)

// TierPrice is the price of one service tier. Token, character and pixel
// prices are nano-USD per 1M units; second prices are nano-USD per 1M
// seconds (so every LiteLLM per-unit USD price p is round(p*1e15)).
//
// Every field is used as given, including 0 (free cached tokens). The loader
// fills a price the file does not give from the text price it falls back to
// (CacheWrite, AudioInput, ImageInput = Input; CachedAudioInput = AudioInput;
// AudioOutput, ImageOutput = Output). A TierPrice built by hand whose six
// audio, image and cache-write prices are all 0 is "text-only": Table.With and
// New (for the fallback) fill those six from the text prices, so audio and
// image tokens are never free by omission. CostOf itself never fills.
type TierPrice struct {
	Input, CachedInput, Output int64
	// CacheWrite prices prompt tokens written to the prompt cache
	// (cache_creation_input_token_cost).
	CacheWrite int64
	// AudioInput, CachedAudioInput and AudioOutput price audio tokens
	// (input_cost_per_audio_token, cache_read_input_audio_token_cost,
	// output_cost_per_audio_token).
	AudioInput, CachedAudioInput, AudioOutput int64
	// ImageInput and ImageOutput price image tokens
	// (input_cost_per_image_token, output_cost_per_image_token).
	ImageInput, ImageOutput int64
	// PerMCharacters prices input characters (tts-1: input_cost_per_character).
	PerMCharacters int64
	// InputPerMSeconds and OutputPerMSeconds price seconds of input audio
	// (whisper: input_cost_per_second) and of generated audio or video
	// (output_cost_per_second, output_cost_per_video_per_second).
	InputPerMSeconds, OutputPerMSeconds int64
}

// Price is everything the table knows about one model.
type Price struct {
	Standard TierPrice
	// Flex, Priority and Batch are nil when the model has no such prices;
	// then Standard applies.
	Flex, Priority, Batch *TierPrice
	// LongContext holds the standard prices that apply to a whole request
	// whose prompt exceeds LongContextThreshold tokens (the
	// *_above_272k_tokens prices; threshold 272000). Nil and 0 when the model
	// has none.
	LongContextThreshold int64
	LongContext          *TierPrice
	// Mode is LiteLLM's mode: chat, completion, embedding, responses,
	// image_generation, audio_transcription, audio_speech, moderation,
	// realtime or video_generation.
	Mode string
	// MaxInputTokens and MaxOutputTokens are the context limits; 0 = unknown.
	MaxInputTokens, MaxOutputTokens int64
	// Reasoning is supports_reasoning: the model bills hidden reasoning
	// tokens as output, and web_search_preview calls at the reasoning fee.
	Reasoning bool
	// RegionalUplift is the per-mille multiplier for data-residency
	// processing by region ("eu", "us"; 1100 = ×1.1); nil = none.
	RegionalUplift map[string]int64
	// SearchContextPerQuery is the nano-USD per web-search query by search
	// context size ("low", "medium", "high"); nil = none.
	SearchContextPerQuery map[string]int64
	// PerImage is input_cost_per_image in nano-USD per image, and PerMPixels
	// input_cost_per_pixel in nano-USD per 1M pixels (image rows).
	PerImage, PerMPixels int64
	// PerSession is code_interpreter_cost_per_session in nano-USD
	// (the openai/container row).
	PerSession int64
}

// Quote says which of a model's prices apply to one request.
type Quote struct {
	// ServiceTier is the request's or response's service_tier; "flex" and
	// "priority" select that tier, anything else the standard prices.
	ServiceTier string
	// Batch is true for requests run by the Batch API.
	Batch bool
	// PromptTokens is the request's prompt size (exact or an upper bound);
	// above LongContextThreshold the long-context prices apply.
	PromptTokens int64
	// Region is the data-residency region ("eu", "us") or "".
	Region string
}

// For returns the prices that apply to q. Batch selects the Batch prices,
// else ServiceTier flex/priority selects that tier (Standard when the model
// has no such prices). A prompt above LongContextThreshold moves the whole
// request to the long-context prices: LongContext itself for the standard
// tier; for another tier each of its prices scaled by that price's
// LongContext/Standard ratio, since OpenAI publishes long-context prices
// only for the standard tier. Last, Region "eu"/"us" multiplies every price
// by the model's uplift for it (no change when the model has none).
// Derived prices are rounded half up and saturate at math.MaxInt64.
func (p Price) For(q Quote) TierPrice {
	tp, standard := p.Standard, true
	if q.Batch {
		if p.Batch != nil {
			tp, standard = *p.Batch, false
		}
	} else if p.tierSelected(q.ServiceTier) {
		tp, standard = p.tier(q.ServiceTier), false
	}
	if p.LongContext != nil && p.LongContextThreshold > 0 && q.PromptTokens > p.LongContextThreshold {
		if standard {
			tp = *p.LongContext
		} else {
			tp = scaleTier(tp, *p.LongContext, p.Standard)
		}
	}
	if r := strings.ToLower(strings.TrimSpace(q.Region)); r != "" {
		if m, ok := p.RegionalUplift[r]; ok {
			tp = mapTier(tp, func(v int64) int64 { return mulDiv(v, m, 1000) })
		}
	}
	return tp
}

// tierSelected reports whether serviceTier names a tier the model has.
func (p *Price) tierSelected(serviceTier string) bool {
	serviceTier = strings.TrimSpace(serviceTier)
	return (p.Flex != nil && strings.EqualFold(serviceTier, "flex")) ||
		(p.Priority != nil && strings.EqualFold(serviceTier, "priority"))
}

// tier returns the price for an OpenAI service_tier value. "auto",
// "default", "scale" and anything unknown are billed at the standard price.
func (p *Price) tier(serviceTier string) TierPrice {
	serviceTier = strings.TrimSpace(serviceTier)
	switch {
	case p.Flex != nil && strings.EqualFold(serviceTier, "flex"):
		return *p.Flex
	case p.Priority != nil && strings.EqualFold(serviceTier, "priority"):
		return *p.Priority
	}
	return p.Standard
}

// clone returns p with its own copies of the tier prices and maps, so
// callers cannot mutate a shared table through them.
func (p Price) clone() Price {
	for _, tp := range []**TierPrice{&p.Flex, &p.Priority, &p.Batch, &p.LongContext} {
		if *tp != nil {
			c := **tp
			*tp = &c
		}
	}
	p.RegionalUplift = maps.Clone(p.RegionalUplift)
	p.SearchContextPerQuery = maps.Clone(p.SearchContextPerQuery)
	return p
}

// textDefaults fills a text-only TierPrice (see TierPrice) from its text
// prices; any other TierPrice is returned unchanged.
func (tp TierPrice) textDefaults() TierPrice {
	if tp.CacheWrite != 0 || tp.AudioInput != 0 || tp.CachedAudioInput != 0 ||
		tp.AudioOutput != 0 || tp.ImageInput != 0 || tp.ImageOutput != 0 {
		return tp
	}
	tp.CacheWrite, tp.AudioInput, tp.CachedAudioInput, tp.ImageInput = tp.Input, tp.Input, tp.Input, tp.Input
	tp.AudioOutput, tp.ImageOutput = tp.Output, tp.Output
	return tp
}

// textDefaults applies TierPrice.textDefaults to every tier of p.
func (p Price) textDefaults() Price {
	p.Standard = p.Standard.textDefaults()
	for _, tp := range []*TierPrice{p.Flex, p.Priority, p.Batch, p.LongContext} {
		if tp != nil {
			*tp = tp.textDefaults() // p is already a clone
		}
	}
	return p
}

// components lists every price of tp, for checks that treat them alike.
func (tp TierPrice) components() []int64 {
	return []int64{tp.Input, tp.CachedInput, tp.Output, tp.CacheWrite, tp.AudioInput, tp.CachedAudioInput,
		tp.AudioOutput, tp.ImageInput, tp.ImageOutput, tp.PerMCharacters, tp.InputPerMSeconds, tp.OutputPerMSeconds}
}

// zipTier applies f to the matching prices of a, b and c.
func zipTier(a, b, c TierPrice, f func(a, b, c int64) int64) TierPrice {
	return TierPrice{
		Input: f(a.Input, b.Input, c.Input), CachedInput: f(a.CachedInput, b.CachedInput, c.CachedInput),
		Output: f(a.Output, b.Output, c.Output), CacheWrite: f(a.CacheWrite, b.CacheWrite, c.CacheWrite),
		AudioInput: f(a.AudioInput, b.AudioInput, c.AudioInput), CachedAudioInput: f(a.CachedAudioInput, b.CachedAudioInput, c.CachedAudioInput),
		AudioOutput: f(a.AudioOutput, b.AudioOutput, c.AudioOutput), ImageInput: f(a.ImageInput, b.ImageInput, c.ImageInput),
		ImageOutput: f(a.ImageOutput, b.ImageOutput, c.ImageOutput), PerMCharacters: f(a.PerMCharacters, b.PerMCharacters, c.PerMCharacters),
		InputPerMSeconds:  f(a.InputPerMSeconds, b.InputPerMSeconds, c.InputPerMSeconds),
		OutputPerMSeconds: f(a.OutputPerMSeconds, b.OutputPerMSeconds, c.OutputPerMSeconds),
	}
}

func mapTier(a TierPrice, f func(int64) int64) TierPrice {
	return zipTier(a, a, a, func(v, _, _ int64) int64 { return f(v) })
}

// scaleTier returns t with each price multiplied by num/den of the same
// price. Where den is 0 the ratio is undefined and num's price is taken.
func scaleTier(t, num, den TierPrice) TierPrice {
	return zipTier(t, num, den, ratio)
}

// ratio is v*num/den rounded half up, or num when den is 0.
func ratio(v, num, den int64) int64 {
	if den == 0 {
		return num
	}
	return mulDiv(v, num, den)
}

// mulDiv returns a*b/c rounded half up for a, b >= 0 and c > 0, computed in
// 128 bits and saturating at math.MaxInt64 instead of wrapping.
func mulDiv(a, b, c int64) int64 {
	if a <= 0 || b <= 0 || c <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	var carry uint64
	lo, carry = bits.Add64(lo, uint64(c)/2, 0)
	hi += carry // hi < 2^62, cannot wrap
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}
