// Package pricing turns OpenAI token usage into money.
//
// # Price table
//
// Prices come from a table in the format of LiteLLM's
// model_prices_and_context_window.json (an object keyed by model name). The
// default table is embedded from data/openai.json, the OpenAI text models of
// the snapshot named by [Snapshot] (see data/SOURCE); `go generate ./pricing`
// regenerates it from ../shared/data. Operators can load any newer LiteLLM
// file with [LoadFile] or [Parse] and add custom prices with [Table.With].
//
// Only entries whose mode is chat, completion, embedding or responses and
// which have an input_cost_per_token are loaded; everything else (sample_spec,
// last_updated, image or audio models, pricing buckets without a mode) is
// skipped. A present but invalid price (wrong JSON type, negative, above
// 1 USD per token) is an error naming the model, because silently dropping a
// model would make it fall back to a different price.
//
// # Units
//
// Prices are int64 nano-USD per million tokens, i.e. 1e-15 USD per token, so
// every LiteLLM price (USD per token) becomes int64(math.Round(p * 1e15))
// exactly enough: $2.50 per million tokens (2.5e-06 USD/token) is
// 2_500_000_000. Costs are int64 nano-USD (1e-9 USD), the unit of the ledger.
//
// The cost of a request is
//
//	((prompt-cached)*Input + cached*CachedInput + completion*Output) / 1e6
//
// where the three products are summed in 128-bit unsigned arithmetic before
// the single division, and the quotient is rounded to the nearest nano-USD
// with halves rounded up. Nothing is rounded per component, so splitting a
// request differently never changes its price by more than one nano-USD.
// Every non-negative int64 input is representable in the intermediate sum; a
// result that does not fit int64 nano-USD is reported as [ErrOverflow],
// never wrapped.
//
// # Tiers and cached prompts
//
// service_tier flex and priority use the model's _flex/_priority prices when
// the table has them. A tier exists when any of its three prices is given; a
// missing tier output price inherits the standard output price, and a missing
// tier cache price is the standard cache price scaled by the tier's input
// ratio (flex halves every price, so does its cache price). When a model has
// no cache_read_input_token_cost at all, cached prompt tokens cost the same
// as uncached ones (CachedInput = Input), as OpenAI bills them.
package pricing

//go:generate go run ./internal/gen -in ../../shared/data/litellm-model-prices-2026-07-24.json -out data/openai.json

// Snapshot names the LiteLLM price snapshot the embedded default table was
// generated from (../shared/data/<Snapshot>.json; also recorded in data/SOURCE).
const Snapshot = "litellm-model-prices-2026-07-24"
