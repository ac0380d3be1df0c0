package extproc

import (
	"context"
	"fmt"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

// Bounds for a model the price table knows nothing about (priced at the
// fallback price): the largest context window and output of any OpenAI model.
const (
	unknownContextTokens = 1_050_000
	unknownOutputTokens  = 128_000
)

// imageToolModel prices the image_generation tool's images.
const imageToolModel = "gpt-image-1"

// estimate is a request's worst case: what it can cost at most, which is
// what is reserved. Every part is an upper bound OpenAI cannot exceed.
type estimate struct {
	model string
	known bool     // the model has its own price row
	row   rowFacts // what settling reads of the model's row (the fallback's when unknown)
	tier  string   // the service tier reserved at
	// prompt and output are token upper bounds; fees the per-call tool fees.
	prompt, output, fees int64
	// promptUnknown: the prompt holds parts whose size Proxide cannot see, so
	// even a cut response's prompt is only known as the bound.
	promptUnknown bool
	nano          int64
}

// reasoning reports whether the model may bill hidden reasoning tokens: its
// visible output does not tell what it cost.
func (e estimate) reasoning() bool { return e.row.reasoning || !e.known }

// rowFacts is what an exchange keeps of its model's price row after the
// estimate: an open stream kept the whole row (216 bytes) for these.
type rowFacts struct {
	reasoning      bool             // supports_reasoning
	maxInput       int64            // the context window; 0 = unknown
	searchPerQuery map[string]int64 // a chat search model's fee by context size
}

func factsOf(p pricing.Price) rowFacts {
	return rowFacts{reasoning: p.Reasoning, maxInput: p.MaxInputTokens, searchPerQuery: p.SearchContextPerQuery}
}

// estimate prices the worst case of the parsed request, or answers why it
// cannot be priced.
func (x *exchange) estimate(ctx context.Context) (estimate, *extprocv3.ProcessingResponse) {
	s := x.s
	req := x.req
	e := estimate{model: req.Model, tier: x.serviceTier(req.ServiceTier)}
	q := pricing.Quote{ServiceTier: e.tier, Region: s.opts.Region, Batch: x.batch}
	info, known, err := s.opts.Pricer.Row(req.Model)
	if !known {
		s.opts.Metrics.UnknownModel()
	}
	if err != nil {
		s.opts.Metrics.Request(x.opName(), "unknown_model")
		return e, openAIError(400, "invalid_request_error", "model_not_priced", "model",
			fmt.Sprintf("Model %q has no price in Proxide's price table and unknown models are refused.", req.Model))
	}
	e.known, e.row = known, factsOf(info)
	turn := x.promptBound(ctx, &e)
	e.output = x.outputBound(info)
	e.fees = x.toolFeesBound(e.row)
	// The long-context price applies when any model turn may pass the threshold.
	q.PromptTokens = turn
	tp := info.For(q) // an unknown model's row holds the fallback price alone
	e.nano, err = pricing.CostOf(worstPrices(tp, req), pricing.Usage{PromptTokens: e.prompt, CompletionTokens: e.output, FeeNano: e.fees})
	if err != nil {
		return e, openAIError(400, "invalid_request_error", "invalid_body", "", "Request too large to price: "+err.Error())
	}
	return e, nil
}

// serviceTier is the tier a request is reserved at: flex and priority as
// asked; unset, "auto" and "default" at the project's default tier.
func (x *exchange) serviceTier(asked string) string {
	switch t := strings.ToLower(strings.TrimSpace(asked)); t {
	case "flex", "priority", "scale":
		return t
	}
	return x.s.opts.DefaultServiceTier
}

// promptBound sets e.prompt, the prompt tokens the whole request can bill,
// and returns the largest prompt of one model turn. The counted prompt is
// exact or an upper bound; parts the body does not show are bounded by what
// Proxide remembers (the context a stored response or conversation holds) or
// else by the context window. A Responses request with built-in tools runs
// up to max_tool_calls more model turns, each reading at most the context
// window.
func (x *exchange) promptBound(ctx context.Context, e *estimate) int64 {
	req := x.req
	window := e.row.maxInput
	if window <= 0 {
		window = unknownContextTokens
	}
	p := req.PromptTokens
	if req.PromptUnbounded {
		e.promptUnknown = true
		onlyContext := req.Audios == 0 && req.Files == 0 && (req.Images == 0 || usage.ImageTokensMax(req.Model) > 0 || x.s.opts.Usage.ImageTokens > 0)
		if n, ok := x.contextTokens(ctx); ok && onlyContext && !x.batch {
			p += n
		} else {
			p = window
		}
	}
	p = min(p, window) // OpenAI refuses a longer prompt
	e.prompt = p
	if len(req.BuiltinTools) > 0 {
		e.prompt = p + x.toolCalls()*window
		return max(p, window)
	}
	return p
}

// contextTokens looks up the context a previous response or a conversation
// holds: in this replica's cache, else in the ledger (one round trip, only for
// such requests). ok is false when it is unknown.
func (x *exchange) contextTokens(ctx context.Context) (int64, bool) {
	var key string
	switch {
	case x.req.PreviousResponseID != "":
		key = "resp:" + x.req.PreviousResponseID
	case x.req.ConversationID != "":
		key = "conv:" + x.req.ConversationID
	default:
		return 0, false
	}
	if n, ok := x.s.contexts.get(x.clientID, key); ok {
		return n, true
	}
	ctx, cancel := context.WithTimeout(ctx, x.s.opts.LedgerTimeout)
	defer cancel()
	got, err := x.s.opts.Ledger.Contexts(ctx, x.clientID, []string{key}, x.s.opts.Now())
	if err != nil {
		x.logger().Warn("cannot look up the previous context; reserving the context window", "err", err)
		return 0, false
	}
	if len(got) != 1 || got[0] <= 0 {
		return 0, false
	}
	x.s.contexts.put(x.clientID, key, got[0])
	return got[0], true
}

// toolCalls bounds the built-in tool calls of a Responses request.
func (x *exchange) toolCalls() int64 {
	if n := x.req.MaxToolCalls; n > 0 {
		return n
	}
	return x.s.opts.DefaultMaxToolCalls
}

// outputBound is the output tokens the request can bill: what it allows, else
// the model's maximum (reasoning included), for every choice, plus a
// predicted output's tokens (rejected ones are billed as completion tokens).
// A configured default_max_output_tokens replaces the model's maximum.
func (x *exchange) outputBound(info pricing.Price) int64 {
	if x.endpoint == usage.Embeddings {
		return 0
	}
	out := x.req.MaxOutputTokens
	if out <= 0 {
		out = x.s.opts.DefaultMaxOutputTokens
	}
	if out <= 0 {
		out = info.MaxOutputTokens
	}
	if out <= 0 {
		out = unknownOutputTokens
	}
	if info.MaxOutputTokens > 0 && out > info.MaxOutputTokens {
		out = info.MaxOutputTokens
	}
	if n := x.req.N; n > 1 {
		out *= n
	}
	return out + x.req.PredictionTokens
}

// toolFeesBound is the most the request's tool calls can add in fees: every
// allowed call of every built-in tool, one container per code interpreter, and
// a chat search model's per-request search fee.
func (x *exchange) toolFeesBound(info rowFacts) int64 {
	req := x.req
	fees := x.s.opts.Pricer.Fees()
	var total int64
	if req.WebSearch {
		total += searchFee(info, req.SearchContextSize, fees)
	}
	calls := x.toolCalls()
	for _, t := range req.BuiltinTools {
		switch {
		case t == "web_search" || strings.HasPrefix(t, "web_search_2"):
			total += calls * fees.WebSearchPerCall
		case strings.HasPrefix(t, "web_search_preview"):
			total += calls * previewFee(info, fees)
		case t == "file_search":
			total += calls * fees.FileSearchPerCall
		case t == "code_interpreter":
			total += containerFee(req.ContainerMemory, fees)
		case t == "image_generation":
			if p, ok := x.imagePriceMax(imageToolModel); ok {
				total += calls * p
			}
		}
	}
	return total
}

// imagePriceMax is the pricer's highest per-image price of model, when it has one.
func (x *exchange) imagePriceMax(model string) (int64, bool) {
	return x.s.opts.Pricer.ImagePriceMax(model)
}

func previewFee(info rowFacts, fees *pricing.ToolFees) int64 {
	if info.reasoning {
		return fees.WebSearchPreviewReasoningPerCall
	}
	return fees.WebSearchPreviewPerCall
}

// searchFee is a chat search model's per-request fee for a context size
// (medium when unset), from its row, else the web_search_preview fee.
func searchFee(info rowFacts, size string, fees *pricing.ToolFees) int64 {
	if size == "" {
		size = "medium"
	}
	if f, ok := info.searchPerQuery[strings.ToLower(size)]; ok {
		return f
	}
	var worst int64
	for _, f := range info.searchPerQuery {
		worst = max(worst, f)
	}
	if worst > 0 {
		return worst
	}
	return previewFee(info, fees)
}

// containerFee is one code-interpreter container of the given memory limit
// (1g when unset; the largest when unknown).
func containerFee(memory string, fees *pricing.ToolFees) int64 {
	if memory == "" {
		memory = "1g"
	}
	if f, ok := fees.ContainerPerSession[strings.ToLower(memory)]; ok {
		return f
	}
	var worst int64
	for _, f := range fees.ContainerPerSession {
		worst = max(worst, f)
	}
	return worst
}

// worstPrices prices every prompt token at the highest input price it could
// be billed at (text, prompt-cache write, audio for audio input) and every
// output token at the highest output price (audio when audio was asked for).
func worstPrices(tp pricing.TierPrice, req usage.Request) pricing.TierPrice {
	in := max(tp.Input, tp.CacheWrite, tp.ImageInput)
	if req.Audios > 0 {
		in = max(in, tp.AudioInput)
	}
	out := max(tp.Output, tp.ImageOutput)
	if req.AudioOutput {
		out = max(out, tp.AudioOutput)
	}
	return pricing.TierPrice{Input: in, CachedInput: in, CacheWrite: in, AudioInput: in, CachedAudioInput: in,
		ImageInput: in, Output: out, AudioOutput: out, ImageOutput: out}
}
