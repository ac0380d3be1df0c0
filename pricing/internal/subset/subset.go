// Package subset cuts the OpenAI models out of a LiteLLM
// model_prices_and_context_window.json file. It is shared by the go:generate
// tool (pricing/internal/gen) and by the pricing tests, which check that the
// embedded table is exactly what the generator produces.
//
// It deliberately does not import package pricing, so the pricing tests can
// import it without a cycle; its row filter mirrors pricing.Parse, and the
// pricing tests check the two agree.
package subset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// providers are the litellm_provider values that OpenAI's own API serves.
var providers = map[string]bool{"openai": true, "text-completion-openai": true}

// Modes are the LiteLLM modes of the OpenAI endpoints the gateway prices.
// Moderation rows are free; realtime rows are kept for reference (an
// ext_proc sidecar cannot meter a realtime session).
var modes = map[string]bool{
	"chat": true, "completion": true, "embedding": true, "responses": true,
	"image_generation": true, "audio_transcription": true, "audio_speech": true,
	"moderation": true, "realtime": true, "video_generation": true,
}

// tokenPrices and unitPrices decide whether a row is priceable, as in
// pricing.Parse: input_cost_per_token, or no token price but a unit price.
var (
	tokenPrices = []string{"input_cost_per_token", "output_cost_per_token", "input_cost_per_audio_token",
		"output_cost_per_audio_token", "input_cost_per_image_token", "output_cost_per_image_token"}
	unitPrices = []string{"input_cost_per_character", "input_cost_per_second", "output_cost_per_second",
		"output_cost_per_video_per_second", "input_cost_per_image", "input_cost_per_pixel",
		"code_interpreter_cost_per_session"}
)

// kept lists the only fields copied into the subset; everything else in a
// LiteLLM entry (capabilities, endpoints, modalities) is irrelevant to
// metering and would only make the embedded file harder to review.
var kept = func() map[string]bool {
	m := map[string]bool{
		"cache_creation_input_audio_token_cost":    true,
		"cache_read_input_audio_token_cost":        true,
		"code_interpreter_cost_per_session":        true,
		"litellm_provider":                         true,
		"max_input_tokens":                         true,
		"max_output_tokens":                        true,
		"mode":                                     true,
		"regional_processing_uplift_multiplier_eu": true,
		"regional_processing_uplift_multiplier_us": true,
		"search_context_cost_per_query":            true,
		"source":                                   true,
		"supports_reasoning":                       true,
	}
	for _, f := range append(slices.Clone(tokenPrices), unitPrices...) {
		m[f] = true
	}
	// The four tiered token prices, for every tier LiteLLM knows.
	for _, f := range []string{"input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost", "cache_creation_input_token_cost"} {
		for _, suffix := range []string{"", "_flex", "_priority", "_batches", "_above_272k_tokens"} {
			m[f+suffix] = true
		}
	}
	return m
}()

// Origin records where a row that is not an OpenAI row of the snapshot came from.
type Origin struct{ Name, From string }

// Result is the generated subset.
type Result struct {
	JSON        []byte // LiteLLM-format object keyed by model name, indented, sorted, trailing newline
	Models      int    // number of entries in JSON
	LastUpdated string // the source's top-level "last_updated", "" when absent
	// Legacy lists the legacy rows copied from another provider's row,
	// LegacyMissing the legacy names whose source row the snapshot lacks.
	Legacy        []Origin
	LegacyMissing []string
	// Supplement lists the rows taken from the supplement (From is the
	// entry's "source"), Shadowed the supplement rows the snapshot now has.
	Supplement []Origin
	Shadowed   []string
}

// OpenAI returns the subset of src (a LiteLLM-format file) holding every
// priceable model whose provider is openai or text-completion-openai and
// whose mode is one of the metered modes, the legacy models of Legacy, and
// the rows of supplement (a LiteLLM-format file, may be nil) the snapshot
// does not have. Number literals are copied byte for byte so the output is
// reviewable against the source.
func OpenAI(src, supplement []byte) (Result, error) {
	top, err := decode(src, "source")
	if err != nil {
		return Result{}, err
	}
	var res Result
	if raw, ok := top["last_updated"]; ok {
		// Not an error when it is something else: it is informational only.
		_ = json.Unmarshal(raw, &res.LastUpdated)
	}
	out := make(map[string]map[string]json.RawMessage)
	for name, fields := range top.objects() {
		if providers[str(fields["litellm_provider"])] && modes[str(fields["mode"])] && priceable(fields) {
			out[name] = keep(fields)
		}
	}
	if len(out) == 0 {
		return Result{}, errors.New("subset: no OpenAI models in source")
	}
	if err := res.addLegacy(top, out); err != nil {
		return Result{}, err
	}
	if err := res.addSupplement(supplement, out); err != nil {
		return Result{}, err
	}
	// encoding/json sorts map keys, which makes the output deterministic.
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return Result{}, fmt.Errorf("subset: encode: %w", err)
	}
	b = append(b, '\n')
	res.JSON = b
	res.Models = len(out)
	return res, nil
}

func priceable(fields map[string]json.RawMessage) bool {
	if present(fields["input_cost_per_token"]) {
		return true
	}
	for _, f := range tokenPrices {
		if present(fields[f]) {
			return false
		}
	}
	for _, f := range unitPrices {
		if present(fields[f]) {
			return true
		}
	}
	return false
}

func keep(fields map[string]json.RawMessage) map[string]json.RawMessage {
	entry := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if kept[k] && present(v) {
			entry[k] = v
		}
	}
	return entry
}

// file is a decoded LiteLLM file: top-level name → raw value.
type file map[string]json.RawMessage

func decode(src []byte, what string) (file, error) {
	var top file
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, fmt.Errorf("subset: parse %s: %w", what, err)
	}
	return top, nil
}

// objects yields the entries that are JSON objects, skipping metadata such
// as last_updated and entries that do not decode.
func (f file) objects() map[string]map[string]json.RawMessage {
	out := make(map[string]map[string]json.RawMessage, len(f))
	for name, raw := range f {
		if !isObject(raw) {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) == nil {
			out[name] = fields
		}
	}
	return out
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && string(t) != "null"
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// str decodes a JSON string, returning "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
