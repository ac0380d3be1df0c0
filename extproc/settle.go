package extproc

import (
	"context"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

// What a request is charged, exactly once:
//   - the exact usage when the upstream reported it;
//   - the counted tokens where they are visible: the prompt plus the output
//     streamed so far of a non-reasoning text stream (an estimate);
//   - otherwise the reserved worst case, marked estimated: hidden reasoning
//     of a cut stream, a body never read, a compressed body, a request the
//     client left before the response began;
//   - nothing for a request OpenAI refused (non-2xx) or that never went
//     upstream;
//   - a background response's charge is held until its result passes through
//     Proxide (any replica, any fetch path) or charged when it expires.

// charge is what a settlement records.
type charge struct {
	usage     pricing.Usage
	reasoning int64
	model     string
	tier      string
	estimated bool
	failed    bool
	flat      bool // charge the reservation (x.est.nano) instead of pricing usage
	fixed     bool // charge fixedNano, known from the request (images, characters, seconds)
	fixedNano int64
	remember  []budget.Remember
}

// settleResponse runs when the response is complete (end of stream, or its
// trailers): the meter's result decides.
func (x *exchange) settleResponse(ctx context.Context) {
	switch x.kind {
	case kindMetered:
		if x.reserved {
			x.settleMetered(ctx, true)
		}
	case kindFetch:
		if x.batch {
			x.settleBatch(ctx)
		} else {
			x.settleFetched(ctx)
		}
	case kindUpload:
		if x.meter != nil {
			x.meter.Write(nil, true)
		}
		x.rememberUpload(ctx)
	}
}

// finish runs when the stream ends for any reason. A reservation still open
// here means the exchange was cut short: the client went away, the upstream
// reset, or Envoy gave up.
func (x *exchange) finish(ctx context.Context) {
	if !x.reserved {
		return
	}
	if !x.forwarded {
		// Refused, abandoned before the body went upstream, or its body reply
		// never reached Envoy: nothing was used.
		x.settle(ctx, charge{failed: true})
		return
	}
	x.settleMetered(ctx, false)
}

// settleMetered charges a metered request from its meter; complete says the
// response ended normally.
func (x *exchange) settleMetered(ctx context.Context, complete bool) {
	if x.unit != nil {
		x.settle(ctx, x.unitCharge(complete && !x.compressed))
		return
	}
	if x.compressed || x.meter == nil {
		// A body we could not read, or none at all yet: OpenAI may have done
		// the whole work.
		if x.compressed {
			x.distrust("compressed")
		}
		x.settle(ctx, x.worstCase())
		return
	}
	if x.batchCreate {
		x.holdBatch(ctx)
		return
	}
	r := x.meter.Result()
	if x.req.Background && r.ResponseID != "" && !r.HasUsage && r.Status != "failed" {
		x.hold(ctx, r)
		return
	}
	c := charge{model: x.req.Model, tier: x.est.tier}
	if r.Model != "" {
		c.model = r.Model
	}
	if r.ServiceTier != "" {
		c.tier = r.ServiceTier
	}
	var cost int64
	if r.HasUsage {
		c.usage = toPricing(r.Usage)
		c.usage.FeeNano = x.toolFees(r.ToolCalls)
		cost = x.cost(c)
	}
	if why, worst := x.untrusted(r, cost); why != "" { // untrusted.go
		x.distrust(why)
		if worst {
			x.settle(ctx, x.worstCase())
			return
		}
	}
	switch {
	case r.HasUsage:
		c.reasoning = r.Usage.ReasoningTokens
		c.remember = x.rememberContext(r)
		c.fixed, c.fixedNano = true, cost // priced once, above
	case x.visibleOutput(complete):
		c.usage = pricing.Usage{PromptTokens: x.promptCharged(), CompletionTokens: r.OutputTokens,
			FeeNano: x.toolFees(r.ToolCalls)}
		c.estimated = true
	default:
		c = x.worstCase()
	}
	x.settle(ctx, c)
}

// visibleOutput reports whether every token the request billed was seen: a
// non-reasoning text answer, not audio, not a body cut before its end unless
// it streams, and no built-in tool turns (their inputs never show).
func (x *exchange) visibleOutput(complete bool) bool {
	if x.est.reasoning() || x.req.AudioOutput || len(x.req.BuiltinTools) > 0 {
		return false
	}
	if x.endpoint == usage.Embeddings {
		return complete
	}
	return x.req.Stream || complete
}

// promptCharged is the prompt of a response without usage: the exact count
// when the body showed all of it, else its upper bound.
func (x *exchange) promptCharged() int64 {
	if x.est.promptUnknown {
		return x.est.prompt
	}
	return x.req.PromptTokens
}

// worstCase charges the reservation, marked estimated.
func (x *exchange) worstCase() charge {
	return charge{flat: true, estimated: true, model: x.req.Model, tier: x.est.tier,
		usage: pricing.Usage{PromptTokens: x.est.prompt, CompletionTokens: x.est.output}}
}

// toPricing maps a response's usage to the pricer's.
func toPricing(u usage.Usage) pricing.Usage {
	return pricing.Usage{PromptTokens: u.PromptTokens, CachedTokens: u.CachedTokens, CompletionTokens: u.CompletionTokens,
		CacheWriteTokens: u.CacheWriteTokens, AudioPromptTokens: u.AudioPromptTokens, ImagePromptTokens: u.ImagePromptTokens,
		AudioCompletionTokens: u.AudioCompletionTokens, ImageCompletionTokens: u.ImageCompletionTokens}
}

// toolFees prices the built-in tool calls a response made, and a chat search
// model's per-request fee.
func (x *exchange) toolFees(calls usage.ToolCalls) int64 {
	fees := x.s.opts.Pricer.Fees()
	info := x.est.row
	var total int64
	if x.req.WebSearch {
		total += searchFee(info, x.req.SearchContextSize, fees)
	}
	if calls.WebSearch > 0 {
		fee := fees.WebSearchPerCall
		if x.previewSearchOnly() {
			fee = previewFee(info, fees)
		}
		total += calls.WebSearch * fee
	}
	total += calls.FileSearch * fees.FileSearchPerCall
	total += calls.Containers * containerFee(x.req.ContainerMemory, fees)
	if calls.ImageGeneration > 0 {
		if p, ok := x.imagePriceMax(imageToolModel); ok {
			total += calls.ImageGeneration * p
		}
	}
	return total
}

// previewSearchOnly: the request offered web_search_preview and not
// web_search, so its web_search_call items are billed at the preview fee.
func (x *exchange) previewSearchOnly() bool {
	preview := false
	for _, t := range x.req.BuiltinTools {
		switch {
		case strings.HasPrefix(t, "web_search_preview"):
			preview = true
		case strings.HasPrefix(t, "web_search"):
			return false
		}
	}
	return preview
}

// rememberContext keeps the context a stored response now holds (its prompt
// and its output), so the next turn that continues it (previous_response_id,
// or the same conversation) is estimated from it.
func (x *exchange) rememberContext(r usage.Result) []budget.Remember {
	if x.endpoint != usage.Responses || r.ResponseID == "" {
		return nil
	}
	tokens := r.Usage.PromptTokens + r.Usage.CompletionTokens
	ttl := x.s.opts.ContextTTL
	out := []budget.Remember{{Key: "resp:" + r.ResponseID, Tokens: tokens, TTL: ttl}}
	if x.req.ConversationID != "" {
		out = append(out, budget.Remember{Key: "conv:" + x.req.ConversationID, Tokens: tokens, TTL: ttl})
	}
	for _, rm := range out {
		x.s.contexts.put(x.clientID, rm.Key, rm.Tokens)
	}
	return out
}

// settle replaces the reservation with the actual cost, exactly once.
func (x *exchange) settle(ctx context.Context, c charge) {
	s := x.s
	x.reserved = false
	s.dropLease(x)
	cost := x.est.nano
	switch {
	case c.failed:
		cost = 0
	case c.fixed:
		cost = c.fixedNano
	case !c.flat:
		cost = x.cost(c)
	}
	model := c.model
	if model == "" {
		model = x.req.Model
	}
	if sp := x.childSpan("proxide.settle"); sp != nil {
		defer func() {
			sp.SetAttributes(attribute.String("proxide.model", model), attribute.Float64("proxide.cost_usd", float64(cost)/1e9),
				attribute.Bool("proxide.estimated", c.estimated), attribute.Bool("proxide.failed", c.failed))
			sp.End()
		}()
	}
	res, err := x.record(ctx, budget.SettleRequest{
		ID: x.resID, ClientID: x.clientID, Rule: x.rule, ActualNano: cost, Failed: c.failed, Model: model,
		Tokens: budget.Tokens{Prompt: c.usage.PromptTokens, Cached: c.usage.CachedTokens,
			Completion: c.usage.CompletionTokens, Reasoning: c.reasoning},
		Estimated: c.estimated, Remember: c.remember,
	})
	if err != nil || c.failed {
		return
	}
	x.access.settled, x.access.model, x.access.costNano, x.access.estimated = true, model, cost, c.estimated
	x.access.tokens = budget.Tokens{Prompt: c.usage.PromptTokens, Cached: c.usage.CachedTokens, Completion: c.usage.CompletionTokens, Reasoning: c.reasoning}
	x.recorded(res, model, cost, c)
}

// record sends a settlement to the ledger. Envoy may already have closed the
// stream; the charge must still land: it is bounded by LedgerTimeout while
// Envoy waits for our reply (a resilient ledger buffers what times out), by
// SettleTimeout once the stream is over.
func (x *exchange) record(ctx context.Context, sr budget.SettleRequest) (budget.SettleResult, error) {
	s := x.s
	timeout := s.opts.LedgerTimeout
	if ctx.Err() != nil {
		timeout = s.opts.SettleTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	now := s.opts.Now()
	sr.Periods, sr.Now = s.opts.Calendar.Periods(now), now
	start := time.Now()
	res, err := s.opts.Ledger.Settle(ctx, sr)
	s.opts.Metrics.LedgerCall("settle", time.Since(start), err)
	if err != nil {
		x.logger().Error("settlement failed", "err", err, "id", sr.ID, "cost_nano", sr.ActualNano)
	}
	return res, err
}

// recorded reports a settled charge: metrics, logs and alert crossings.
func (x *exchange) recorded(res budget.SettleResult, model string, cost int64, c charge) {
	s := x.s
	s.opts.Metrics.Spend(model, cost, c.usage.PromptTokens, c.usage.CachedTokens, c.usage.CompletionTokens, c.reasoning)
	s.opts.Metrics.ClientSpend(x.clientID, cost)
	if c.estimated {
		s.opts.Metrics.EstimatedUsage()
	}
	s.opts.Metrics.Request(x.opName(), "ok")
	for _, cr := range res.Crossings {
		thr := strconv.FormatFloat(cr.Threshold, 'f', -1, 64)
		s.opts.Metrics.Alert(string(cr.Kind), thr)
		x.logger().Warn("budget alert threshold crossed", "limit_type", cr.Kind, "threshold", thr,
			"spent_nano", cr.SpentNano, "limit_nano", cr.LimitNano, "action", x.rule.Action)
		if s.opts.Alerts != nil {
			s.opts.Alerts.ThresholdCrossed(x.clientID, x.rule.Key().String(), cr)
		}
	}
	if x.debugOn() {
		x.logger().Debug("settled", "model", model, "cost_nano", cost, "estimated", c.estimated)
	}
}

// cost prices the usage by the model the upstream reports (the dated snapshot
// it really used) at the tier it reports, with the long-context price when the
// billed prompt passes the model's threshold; by the request's model when the
// reported one is not priced.
func (x *exchange) cost(c charge) int64 {
	s := x.s
	q := pricing.Quote{ServiceTier: c.tier, PromptTokens: c.usage.PromptTokens, Region: s.opts.Region}
	tp, known, err := s.opts.Pricer.TierFor(c.model, q)
	if err != nil || !known {
		tp, _, err = s.opts.Pricer.TierFor(x.req.Model, q)
	}
	if err != nil {
		x.logger().Error("cannot price usage; charging the reservation", "err", err)
		return x.est.nano
	}
	cost, err := pricing.CostOf(tp, c.usage)
	if err != nil {
		x.logger().Error("cannot price usage; charging the reservation", "err", err)
		return x.est.nano
	}
	return cost
}
