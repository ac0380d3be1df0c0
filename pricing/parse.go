package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// modes are the LiteLLM modes the gateway prices. Rerank, search, OCR and
// other modes are not OpenAI endpoints.
var modes = map[string]bool{
	"chat": true, "completion": true, "embedding": true, "responses": true,
	"image_generation": true, "audio_transcription": true, "audio_speech": true,
	"moderation": true, "realtime": true, "video_generation": true,
}

// tokenPriceFields are billed per token; a row with any of them must have
// input_cost_per_token, or its prompt tokens could not be priced.
var tokenPriceFields = []string{
	"input_cost_per_token", "output_cost_per_token", "input_cost_per_audio_token",
	"output_cost_per_audio_token", "input_cost_per_image_token", "output_cost_per_image_token",
}

// unitPriceFields are the per-unit prices that make a row without token
// prices priceable (tts-1, whisper-1, DALL·E sizes, Sora, openai/container).
var unitPriceFields = []string{
	"input_cost_per_character", "input_cost_per_second", "output_cost_per_second",
	"output_cost_per_video_per_second", "input_cost_per_image", "input_cost_per_pixel",
	"code_interpreter_cost_per_session",
}

// LoadFile reads a LiteLLM-format price file; see Parse.
func LoadFile(path string) (*Table, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the price file; reading it is the point
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	t, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a price table in LiteLLM's model_prices_and_context_window.json
// format. It loads the entries whose mode is one the gateway prices (chat,
// completion, embedding, responses, image_generation, audio_transcription,
// audio_speech, moderation, realtime, video_generation) and which are
// priceable: they have input_cost_per_token, or no token price at all but a
// per-character, per-second, per-image, per-pixel or per-session price.
// Everything else (sample_spec, last_updated, rows without a price) is
// skipped. Malformed JSON, a file with no usable model, and an invalid price
// or limit in a loaded entry are errors naming the model and the field.
func Parse(r io.Reader) (*Table, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pricing: read: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("pricing: parse price file: %w", err)
	}
	prices := make(map[string]Price)
	for name, raw := range top {
		if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != '{' {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, fmt.Errorf("pricing: model %q: %w", name, err)
		}
		var mode string
		if json.Unmarshal(fields["mode"], &mode) != nil || !modes[mode] || !priceable(fields) {
			continue
		}
		p, err := entry(fields).price(mode)
		if err != nil {
			return nil, fmt.Errorf("pricing: model %q: %w", name, err)
		}
		prices[name] = p
	}
	if len(prices) == 0 {
		return nil, errors.New("pricing: price file has no chat, completion, embedding, responses, image, audio, moderation, realtime or video model with a price")
	}
	return newTable(prices), nil
}

// priceable is the loader's row filter (mirrored by internal/subset).
func priceable(fields map[string]json.RawMessage) bool {
	if !isNull(fields["input_cost_per_token"]) {
		return true
	}
	for _, f := range tokenPriceFields {
		if !isNull(fields[f]) {
			return false
		}
	}
	for _, f := range unitPriceFields {
		if !isNull(fields[f]) {
			return true
		}
	}
	return false
}

// entry is one LiteLLM row. Fields are read as raw JSON and converted one by
// one, so a wrongly typed field is reported by name.
type entry map[string]json.RawMessage

func (e entry) price(mode string) (Price, error) {
	c := converter{e: e}
	in, _ := c.get("input_cost_per_token", perToken)
	// A row without a text output price produces only image or audio
	// tokens (gpt-image-1): its output tokens cost that price, so a usage
	// that does not break them down is not priced at 0.
	out := c.or("output_cost_per_token", perToken, c.or("output_cost_per_image_token", perToken,
		c.or("output_cost_per_audio_token", perToken, 0)))
	std := TierPrice{Input: in, Output: out}
	std.CachedInput = c.or("cache_read_input_token_cost", perToken, in)
	std.CacheWrite = c.or("cache_creation_input_token_cost", perToken, in)
	std.AudioInput = c.or("input_cost_per_audio_token", perToken, in)
	// Older LiteLLM realtime rows name the cached audio price
	// cache_creation_input_audio_token_cost (it equals
	// cache_read_input_audio_token_cost wherever both are given).
	std.CachedAudioInput = c.or("cache_read_input_audio_token_cost", perToken,
		c.or("cache_creation_input_audio_token_cost", perToken, std.AudioInput))
	std.AudioOutput = c.or("output_cost_per_audio_token", perToken, out)
	std.ImageInput = c.or("input_cost_per_image_token", perToken, in)
	std.ImageOutput = c.or("output_cost_per_image_token", perToken, out)
	std.PerMCharacters, _ = c.get("input_cost_per_character", perToken)
	std.InputPerMSeconds, _ = c.get("input_cost_per_second", perSecond)
	std.OutputPerMSeconds = c.or("output_cost_per_video_per_second", perSecond,
		c.or("output_cost_per_second", perSecond, 0))

	p := Price{Standard: std, Mode: mode}
	p.Flex = c.tier(std, "_flex")
	p.Priority = c.tier(std, "_priority")
	p.Batch = c.tier(std, "_batches")
	if p.LongContext = c.tier(std, "_above_272k_tokens"); p.LongContext != nil {
		p.LongContextThreshold = 272_000
	}
	p.MaxInputTokens = c.limit("max_input_tokens")
	p.MaxOutputTokens = c.limit("max_output_tokens")
	p.Reasoning = c.flag("supports_reasoning")
	p.RegionalUplift = c.uplift()
	p.SearchContextPerQuery = c.searchContext()
	p.PerImage, _ = c.get("input_cost_per_image", perItem)
	p.PerMPixels, _ = c.get("input_cost_per_pixel", perToken)
	p.PerSession, _ = c.get("code_interpreter_cost_per_session", perItem)
	return p, errors.Join(c.errs...)
}

// tier builds the flex, priority, batch or long-context prices from
// whichever of the four fields with that suffix the row gives; nil when it
// gives none. A missing input or output price is the standard one (as
// before). Every other missing price keeps its standard relation: input-side
// prices (cached, cache write, audio, image) are scaled by the tier's input
// ratio, output-side ones by its output ratio; unit prices are copied.
func (c *converter) tier(std TierPrice, suffix string) *TierPrice {
	in, okIn := c.get("input_cost_per_token"+suffix, perToken)
	out, okOut := c.get("output_cost_per_token"+suffix, perToken)
	cached, okCached := c.get("cache_read_input_token_cost"+suffix, perToken)
	write, okWrite := c.get("cache_creation_input_token_cost"+suffix, perToken)
	if !okIn && !okOut && !okCached && !okWrite {
		return nil
	}
	tp := std
	if okIn {
		tp.Input = in
	}
	if okOut {
		tp.Output = out
	}
	inR := func(v int64) int64 { return ratio(v, tp.Input, std.Input) }
	outR := func(v int64) int64 { return ratio(v, tp.Output, std.Output) }
	tp.CachedInput, tp.CacheWrite = inR(std.CachedInput), inR(std.CacheWrite)
	if okCached {
		tp.CachedInput = cached
	}
	if okWrite {
		tp.CacheWrite = write
	}
	tp.AudioInput, tp.CachedAudioInput, tp.ImageInput = inR(std.AudioInput), inR(std.CachedAudioInput), inR(std.ImageInput)
	tp.AudioOutput, tp.ImageOutput = outR(std.AudioOutput), outR(std.ImageOutput)
	return &tp
}

func (c *converter) uplift() map[string]int64 {
	var m map[string]int64
	for _, region := range []string{"eu", "us"} {
		if v, ok := c.get("regional_processing_uplift_multiplier_"+region, perMille); ok {
			if m == nil {
				m = make(map[string]int64, 2)
			}
			m[region] = v
		}
	}
	return m
}

func (c *converter) searchContext() map[string]int64 {
	const field = "search_context_cost_per_query"
	raw := c.e[field]
	if isNull(raw) {
		return nil
	}
	var sizes map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sizes); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w: not an object: %s", field, ErrInvalidAmount, clip(string(raw))))
		return nil
	}
	m := make(map[string]int64, 3)
	for _, size := range []string{"low", "medium", "high"} {
		sub := converter{e: entry{field + ".search_context_size_" + size: sizes["search_context_size_"+size]}}
		if v, ok := sub.get(field+".search_context_size_"+size, perItem); ok {
			m[size] = v
		}
		c.errs = append(c.errs, sub.errs...)
	}
	return m
}
