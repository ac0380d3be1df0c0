// Package pricing turns what an OpenAI request consumed into money.
//
// # Price table
//
// Prices come from a table in the format of LiteLLM's
// model_prices_and_context_window.json (an object keyed by model name). The
// default table is embedded from data/openai.json: the OpenAI rows of the
// snapshot named by [Snapshot], a few legacy rows and a hand-kept supplement
// (see data/SOURCE); `make generate LITELLM=path/to/snapshot.json`
// regenerates it from a LiteLLM snapshot, which is kept outside the
// repository, and data/supplement.json. Operators can load any newer
// LiteLLM file with [LoadFile] or [Parse] and add custom prices with
// [Table.With].
//
// An entry is loaded when its mode is chat, completion, embedding,
// responses, image_generation, audio_transcription, audio_speech,
// moderation, realtime or video_generation, and it is priceable: it has an
// input_cost_per_token, or no token price at all but a per-character,
// per-second, per-image, per-pixel or per-session price (tts-1, whisper-1,
// DALL·E sizes, Sora, openai/container). A row with token prices but no
// input price is skipped, because its prompt could not be priced. A present
// but invalid price (wrong JSON type, negative, absurd) is an error naming
// the model and the field, because silently dropping a model would make it
// fall back to a different price.
//
// # Units
//
// Token, character and pixel prices are int64 nano-USD per million units
// (1e-15 USD per unit); second prices are nano-USD per million seconds. So
// every LiteLLM per-unit price p becomes int64(math.Round(p * 1e15)): $2.50
// per million tokens (2.5e-06 USD/token) is 2_500_000_000. Per-image,
// per-query and per-session prices and all costs are int64 nano-USD (1e-9
// USD), the unit of the ledger.
//
// The cost of a request ([CostOf]) is the sum of every count times its
// price: plain text prompt × Input, cached text × CachedInput, cache writes
// × CacheWrite, uncached audio × AudioInput, cached audio ×
// CachedAudioInput, image prompt × ImageInput, text output (reasoning
// included) × Output, audio output × AudioOutput, image output ×
// ImageOutput, characters × PerMCharacters (all divided by 1e6), input and
// output milliseconds × InputPerMSeconds and OutputPerMSeconds (divided by
// 1e9: milliseconds ÷ 1000 × per-M-seconds ÷ 1e6), plus FeeNano. The
// products are summed exactly in 128-bit unsigned arithmetic before the
// single division, and the quotient is rounded to the nearest nano-USD with
// halves rounded up. Nothing is rounded per component, so splitting a
// request differently never changes its price by more than one nano-USD. A
// result that does not fit int64 nano-USD is [ErrOverflow], never wrapped.
//
// # Prices a row does not give
//
// A row without cache_read_input_token_cost bills cached tokens at Input, as
// OpenAI does; without cache_creation_input_token_cost cache writes cost
// Input; without audio or image token prices, audio and image tokens cost
// the text prices (CachedAudioInput falls back to LiteLLM's older realtime
// name cache_creation_input_audio_token_cost, then to AudioInput). A row
// with no output_cost_per_token but an image (or audio) output price only
// produces such tokens (gpt-image-1), so its Output is that price: output
// tokens a caller did not break down are never free.
//
// service_tier flex and priority use the _flex/_priority prices, the Batch
// API the _batches prices, long prompts the _above_272k_tokens prices. Such
// a set exists when any of its input, output, cache-read or cache-write
// prices is given. A missing input or output price is the standard one; a
// missing cache price is the standard cache price scaled by the set's input
// ratio (flex halves every price, so does its cache price); audio and image
// prices scale by the input ratio (prompt side) or output ratio (completion
// side); unit prices are copied.
//
// # Which prices apply
//
// [Price.For] picks the prices of one request from a [Quote]: Batch → the
// batch prices; else service_tier "flex"/"priority" → that tier; else, or
// when the model has no such prices, Standard. When the prompt exceeds
// LongContextThreshold (272K tokens where the row has _above_272k_tokens
// prices), the long-context prices apply to the whole request, as OpenAI
// bills it; a non-standard tier's long-context price is that tier's price
// scaled by the LongContext/Standard ratio of each price, since OpenAI
// publishes long-context prices only for the standard tier. Region "eu" or
// "us" then multiplies every price by the row's data-residency uplift
// (regional_processing_uplift_multiplier_eu/_us, kept per mille: 1.1 →
// 1100); a row without one has no uplift. [Pricer.Lookup] keeps its
// (model, service_tier) meaning and applies none of long context, batch or
// region; [Pricer.Cost] and [Pricer.CostFor] apply long context from the
// billed prompt.
//
// # Model names
//
// [Table.Lookup] and every Pricer method resolve a model name by trying, in
// order: the exact name (after trimming whitespace), ignoring case ("GPT-4o",
// "O3"); the same rules without any provider prefix ("openai/gpt-4o" →
// "gpt-4o"); the name without a trailing date ("-2099-01-01" or "-0613");
// and for fine-tunes "ft:BASE:org:suffix:id" the fine-tune price "ft:BASE",
// for a dated BASE the undated "ft:" price, for an undated BASE the newest
// dated "ft:BASE-<date>" row ("ft:gpt-4o-mini:acme::abc" →
// "ft:gpt-4o-mini-2024-07-18"), then BASE itself.
//
// A dated snapshot row without flex, priority, batch or long-context prices
// takes them from its alias row ("o3-2025-04-16" at service_tier flex costs
// o3's flex price), scaled by the two rows' standard price ratio when those
// differ (in the snapshot they never do).
//
// Legacy OpenAI models that the snapshot prices only under another provider
// are copied under their own names by the generator (o1-mini from
// azure/o1-mini-2024-09-12, because azure/o1-mini includes Azure's uplift;
// o1-preview, gpt-4-32k from their azure/ rows; computer-use-preview from
// its bare row). Models the snapshot lacks entirely come from
// data/supplement.json, each with the OpenAI page its price was published
// on: gpt-3.5-turbo-0613, gpt-3.5-turbo-16k-0613 and gpt-3.5-turbo-0301
// (which must not fall back to gpt-3.5-turbo's lower price) and
// gpt-image-1-mini's high quality images. A file loaded with LoadFile has
// neither; it is used as it is.
//
// # Images
//
// [Pricer.ImagePrice] prices one generated image from LiteLLM's per-size
// rows "<quality>/<W>-x-<H>/<model>" and "<W>-x-<H>/<model>"; callers pass
// OpenAI's size "1024x1024". A row's input_cost_per_image is used when
// present, else input_cost_per_pixel × W×H rounded to the nearest $0.001
// (OpenAI prices images in tenths of a cent; LiteLLM's per-pixel prices are
// those divided by the pixel count and cut to a few digits). Quality is
// normalised per family: dall-e-2 has a single quality; dall-e-3 takes
// "standard" (also for "", "auto") or "hd"; gpt-image-* takes low, medium
// or high. An empty size means OpenAI's default 1024x1024 for DALL·E. For
// anything else — "auto" or empty size or quality for gpt-image, an
// unknown dall-e-3 quality — the price is the maximum over the sizes and
// qualities the table lists for that model: the worst case, which is what a
// reservation needs before the response says what was made.
// [Pricer.ImagePriceMax] is that maximum over everything listed.
//
// # Tool fees
//
// Per-call fees for built-in tools are not in the LiteLLM snapshot for
// OpenAI; [DefaultToolFees] holds OpenAI's published prices
// (https://platform.openai.com/docs/pricing#built-in-tools): web_search $10
// per 1k calls, web_search_preview $25 per 1k on non-reasoning and $10 per
// 1k on reasoning models, file_search $2.50 per 1k, Code Interpreter
// containers $0.03 (1g, also the snapshot's openai/container
// code_interpreter_cost_per_session), $0.12 (4g), $0.48 (16g), $1.92 (64g)
// per session. Config may override them with [Options.ToolFees]. Callers
// add them to a request through [Usage.FeeNano].
package pricing

// The snapshot is not in the repository: `make generate` passes its path in
// $LITELLM (LITELLM=file.json, an absolute path; see the Makefile).
//go:generate go run ./internal/gen -in $LITELLM -supplement data/supplement.json -out data/openai.json

// Snapshot names the LiteLLM price snapshot the embedded default table was
// generated from (the file <Snapshot>.json given to make generate; also
// recorded in data/SOURCE).
const Snapshot = "litellm-model-prices-2026-07-24"
