package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// maxPerToken is the largest accepted LiteLLM price, 1 USD per token
// (1e6 USD per million tokens, the same bound as PerMTokFromUSD).
const maxPerToken = 1.0

// textModes are the LiteLLM modes billed by tokens that the gateway meters.
var textModes = map[string]bool{"chat": true, "completion": true, "embedding": true, "responses": true}

// fileEntry holds the raw fields of one LiteLLM entry. RawMessage never fails
// to decode, so a wrongly typed field is reported by name below instead of
// as an anonymous type error.
type fileEntry struct {
	Mode            json.RawMessage `json:"mode"`
	Input           json.RawMessage `json:"input_cost_per_token"`
	Output          json.RawMessage `json:"output_cost_per_token"`
	Cached          json.RawMessage `json:"cache_read_input_token_cost"`
	InputFlex       json.RawMessage `json:"input_cost_per_token_flex"`
	OutputFlex      json.RawMessage `json:"output_cost_per_token_flex"`
	CachedFlex      json.RawMessage `json:"cache_read_input_token_cost_flex"`
	InputPriority   json.RawMessage `json:"input_cost_per_token_priority"`
	OutputPriority  json.RawMessage `json:"output_cost_per_token_priority"`
	CachedPriority  json.RawMessage `json:"cache_read_input_token_cost_priority"`
	MaxInputTokens  json.RawMessage `json:"max_input_tokens"`
	MaxOutputTokens json.RawMessage `json:"max_output_tokens"`
}

// LoadFile reads a LiteLLM-format price file; see Parse.
func LoadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a price table in LiteLLM's model_prices_and_context_window.json
// format. Entries that are not objects (last_updated), lack
// input_cost_per_token, or have a mode other than chat, completion,
// embedding or responses are skipped. Malformed JSON, a file with no usable
// model, and invalid prices or limits in a used entry are errors.
func Parse(r io.Reader) (*Table, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("pricing: read: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("pricing: parse price file: %w", err)
	}
	t := &Table{prices: make(map[string]Price)}
	for name, raw := range top {
		if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != '{' {
			continue
		}
		var e fileEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("pricing: model %q: %w", name, err)
		}
		var mode string
		if json.Unmarshal(e.Mode, &mode) != nil || !textModes[mode] {
			continue
		}
		if isNull(e.Input) {
			continue
		}
		p, err := e.price(mode)
		if err != nil {
			return nil, fmt.Errorf("pricing: model %q: %w", name, err)
		}
		t.prices[name] = p
	}
	if len(t.prices) == 0 {
		return nil, errors.New("pricing: price file has no chat, completion, embedding or responses model with input_cost_per_token")
	}
	return t, nil
}

func (e *fileEntry) price(mode string) (Price, error) {
	var errs []error
	get := func(field string, raw json.RawMessage) (int64, bool) {
		v, ok, err := perMTok(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
		return v, ok
	}
	in, _ := get("input_cost_per_token", e.Input)
	out, _ := get("output_cost_per_token", e.Output)
	cached, hasCache := get("cache_read_input_token_cost", e.Cached)
	if !hasCache {
		cached = in
	}
	p := Price{Standard: TierPrice{Input: in, CachedInput: cached, Output: out}, Mode: mode}

	fi, okFI := get("input_cost_per_token_flex", e.InputFlex)
	fo, okFO := get("output_cost_per_token_flex", e.OutputFlex)
	fc, okFC := get("cache_read_input_token_cost_flex", e.CachedFlex)
	p.Flex = deriveTier(p.Standard, fi, fo, fc, okFI, okFO, okFC)

	pi, okPI := get("input_cost_per_token_priority", e.InputPriority)
	po, okPO := get("output_cost_per_token_priority", e.OutputPriority)
	pc, okPC := get("cache_read_input_token_cost_priority", e.CachedPriority)
	p.Priority = deriveTier(p.Standard, pi, po, pc, okPI, okPO, okPC)

	var err error
	if p.MaxInputTokens, err = tokenLimit(e.MaxInputTokens); err != nil {
		errs = append(errs, fmt.Errorf("max_input_tokens: %w", err))
	}
	if p.MaxOutputTokens, err = tokenLimit(e.MaxOutputTokens); err != nil {
		errs = append(errs, fmt.Errorf("max_output_tokens: %w", err))
	}
	return p, errors.Join(errs...)
}

// deriveTier builds a flex or priority tier from whichever of its prices the
// file gives; nil when it gives none. A missing input or output price is the
// standard one. A missing cache price keeps the standard cache discount:
// the standard cache price scaled by the tier's input ratio.
func deriveTier(std TierPrice, in, out, cached int64, okIn, okOut, okCached bool) *TierPrice {
	if !okIn && !okOut && !okCached {
		return nil
	}
	tp := TierPrice{Input: std.Input, CachedInput: cached, Output: std.Output}
	if okIn {
		tp.Input = in
	}
	if okOut {
		tp.Output = out
	}
	if !okCached {
		tp.CachedInput = tp.Input
		if std.Input > 0 {
			tp.CachedInput = int64(math.Round(float64(std.CachedInput) * float64(tp.Input) / float64(std.Input)))
		}
	}
	return &tp
}

// perMTok converts a LiteLLM USD-per-token number into nano-USD per 1M
// tokens. ok is false when the field is absent or null.
func perMTok(raw json.RawMessage) (v int64, ok bool, err error) {
	if isNull(raw) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false, fmt.Errorf("%w: not a number: %s", ErrInvalidAmount, clip(string(raw)))
	}
	if f < 0 || f > maxPerToken {
		return 0, false, fmt.Errorf("%w: %g USD per token is outside [0, %g]", ErrInvalidAmount, f, maxPerToken)
	}
	return int64(math.Round(f * 1e15)), true, nil
}

// tokenLimit decodes max_*_tokens; LiteLLM writes integers, sometimes as
// floats. Absent or null is 0 (unknown).
func tokenLimit(raw json.RawMessage) (int64, error) {
	if isNull(raw) {
		return 0, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("not a number: %s", clip(string(raw)))
	}
	if f < 0 || f > 1e15 {
		return 0, fmt.Errorf("%g is outside [0, 1e15]", f)
	}
	return int64(f), nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// clip keeps error messages short when a field holds a large value.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
