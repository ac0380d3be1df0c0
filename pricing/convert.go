package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// unit says how a LiteLLM USD number converts to an int64 and its bounds.
type unit struct {
	scale, max float64
	what       string
}

var (
	// perToken: USD per token, character or pixel → nano-USD per 1M;
	// at most 1 USD each (the bound of PerMTokFromUSD).
	perToken = unit{scale: 1e15, max: 1, what: "USD per unit"}
	// perSecond: USD per second → nano-USD per 1M seconds; at most
	// 1000 USD per second.
	perSecond = unit{scale: 1e15, max: 1000, what: "USD per second"}
	// perItem: USD per image, query or session → nano-USD; at most 1e6 USD.
	perItem = unit{scale: 1e9, max: 1e6, what: "USD"}
	// perMille: a multiplier (1.1) → per-mille (1100); at most ×100.
	perMille = unit{scale: 1e3, max: 100, what: "times"}
)

// converter reads the fields of one entry and collects every error.
type converter struct {
	e    entry
	errs []error
}

// get converts field; ok is false when it is absent or null (or invalid,
// which is recorded).
func (c *converter) get(field string, u unit) (int64, bool) {
	v, ok, err := convert(c.e[field], u)
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", field, err))
	}
	return v, ok
}

// or converts field, or returns def when it is absent.
func (c *converter) or(field string, u unit, def int64) int64 {
	if v, ok := c.get(field, u); ok {
		return v
	}
	return def
}

func (c *converter) limit(field string) int64 {
	v, err := tokenLimit(c.e[field])
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", field, err))
	}
	return v
}

func (c *converter) flag(field string) bool {
	raw := c.e[field]
	if isNull(raw) {
		return false
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: not a boolean: %s", field, clip(string(raw))))
	}
	return b
}

// convert turns a LiteLLM number into u's integer unit, rounding to the
// nearest unit. ok is false when the field is absent or null.
func convert(raw json.RawMessage, u unit) (v int64, ok bool, err error) {
	if isNull(raw) {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false, fmt.Errorf("%w: not a number: %s", ErrInvalidAmount, clip(string(raw)))
	}
	if f < 0 || f > u.max {
		return 0, false, fmt.Errorf("%w: %g %s is outside [0, %g]", ErrInvalidAmount, f, u.what, u.max)
	}
	return int64(math.Round(f * u.scale)), true, nil
}

// perMTok converts a LiteLLM USD-per-token number into nano-USD per 1M
// tokens. ok is false when the field is absent or null.
func perMTok(raw json.RawMessage) (v int64, ok bool, err error) {
	return convert(raw, perToken)
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
