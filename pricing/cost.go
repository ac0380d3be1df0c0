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

// Usage is the token usage of one request, as OpenAI reports it. Reasoning
// tokens are part of CompletionTokens (OpenAI counts them there); for the
// Responses API use input_tokens, input_tokens_details.cached_tokens and
// output_tokens. Embeddings have only PromptTokens.
type Usage struct{ PromptTokens, CachedTokens, CompletionTokens int64 }

// Options configures a Pricer.
type Options struct {
	// Table is the price table; nil = Default().
	Table *Table
	// Fallback prices models the table does not know; nil = they are refused
	// with ErrUnknownModel.
	Fallback *TierPrice
	// OnUnknown is called with the model name each time Lookup or Cost meets
	// an unknown model, whether or not a fallback applies (for a metric).
	// Cost calls it once. May be nil.
	OnUnknown func(model string)
}

// Pricer prices requests against a table. It is immutable and safe for
// concurrent use.
type Pricer struct {
	table     *Table
	fallback  *TierPrice
	onUnknown func(string)
}

// New returns a Pricer. The fallback price is copied.
func New(opts Options) *Pricer {
	p := &Pricer{table: opts.Table, onUnknown: opts.OnUnknown}
	if p.table == nil {
		p.table = Default()
	}
	if opts.Fallback != nil {
		fb := *opts.Fallback
		p.fallback = &fb
	}
	return p
}

// Lookup resolves the price for (model, serviceTier). serviceTier "flex" or
// "priority" selects that tier when the model has it; anything else ("",
// "auto", "default", "scale") selects Standard. known=false means the model
// is unknown and the fallback price was used (info then holds only the
// fallback as Standard). err wraps ErrUnknownModel, naming the model, when
// the model is unknown and there is no fallback.
func (p *Pricer) Lookup(model, serviceTier string) (tp TierPrice, info Price, known bool, err error) {
	if price, ok := p.table.find(model); ok {
		return price.tier(serviceTier), price.clone(), true, nil
	}
	tp, err = p.unknown(model)
	if err != nil {
		return TierPrice{}, Price{}, false, err
	}
	return tp, Price{Standard: tp}, false, nil
}

// Cost prices usage for (model, serviceTier):
// (prompt-cached)*Input + cached*CachedInput + completion*Output, in nano-USD,
// rounded as described in the package doc. known and err are as in Lookup.
// Negative counts are treated as 0 and cached tokens are clamped to
// [0, prompt].
func (p *Pricer) Cost(model, serviceTier string, u Usage) (nanoUSD int64, known bool, err error) {
	var tp TierPrice
	if price, ok := p.table.find(model); ok {
		tp, known = price.tier(serviceTier), true
	} else if tp, err = p.unknown(model); err != nil {
		return 0, false, err
	}
	nanoUSD, err = CostOf(tp, u)
	if err != nil {
		return 0, known, fmt.Errorf("pricing: model %q: %w", clip(model), err)
	}
	return nanoUSD, known, nil
}

func (p *Pricer) unknown(model string) (TierPrice, error) {
	if p.onUnknown != nil {
		p.onUnknown(model)
	}
	if p.fallback == nil {
		return TierPrice{}, fmt.Errorf("%w %q", ErrUnknownModel, clip(model))
	}
	return *p.fallback, nil
}

// CostOf is the pure cost formula of Cost, for callers that already hold a
// TierPrice. Negative prices are rejected with ErrInvalidAmount; a result
// above math.MaxInt64 nano-USD is ErrOverflow.
func CostOf(tp TierPrice, u Usage) (int64, error) {
	if tp.Input < 0 || tp.CachedInput < 0 || tp.Output < 0 {
		return 0, fmt.Errorf("%w: negative price %+v", ErrInvalidAmount, tp)
	}
	prompt := max(u.PromptTokens, 0)
	cached := min(max(u.CachedTokens, 0), prompt)
	completion := max(u.CompletionTokens, 0)

	// Each product is below 2^126, so the 128-bit sum of three cannot carry
	// out; the checks below are about the final int64 only.
	var hi, lo uint64
	add := func(n, price int64) {
		ph, pl := bits.Mul64(uint64(n), uint64(price))
		var c uint64
		lo, c = bits.Add64(lo, pl, 0)
		hi, _ = bits.Add64(hi, ph, c)
	}
	add(prompt-cached, tp.Input)
	add(cached, tp.CachedInput)
	add(completion, tp.Output)

	// Round half up: floor((sum + 500_000) / 1_000_000).
	var c uint64
	lo, c = bits.Add64(lo, perMillion/2, 0)
	hi, c = bits.Add64(hi, 0, c)
	if c != 0 || hi >= perMillion { // quotient would not fit 64 bits
		return 0, ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, perMillion)
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	return int64(q), nil
}

const perMillion = 1_000_000

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
