package extproc

import (
	"context"
	"strconv"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/pricing"
	"github.com/proxide/proxide/usage"
)

func (x *exchange) onResponseHeaders(ctx context.Context, h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	cont := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if !x.reserved {
		return cont
	}
	hm := h.GetHeaders()
	st, _ := headerLookup(hm, ":status")
	x.status, _ = strconv.Atoi(st)
	if x.status < 200 || x.status > 299 {
		// OpenAI charges nothing for a refused request; neither do we.
		x.settle(ctx, charge{failed: true})
		x.s.opts.Metrics.Request(x.endpoint.String(), "upstream_error")
		return cont
	}
	if enc, ok := headerLookup(hm, "content-encoding"); ok && enc != "" && !strings.EqualFold(enc, "identity") {
		// accept-encoding was removed, so this upstream ignored it. We cannot
		// read the usage; the reservation (an upper bound) is charged instead.
		x.compressed = true
		x.log.Warn("response is compressed; charging the reservation", "content_encoding", enc)
	}
	ct, _ := headerLookup(hm, "content-type")
	x.meter = usage.NewMeter(usage.MeterOptions{
		Endpoint:           x.endpoint,
		RequestModel:       x.req.Model,
		SSE:                strings.Contains(strings.ToLower(ct), "text/event-stream"),
		StripInjectedUsage: x.injected,
	})
	if h.GetEndOfStream() {
		x.settleMetered(ctx)
	}
	return cont
}

func (x *exchange) onResponseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	reply := &extprocv3.BodyResponse{}
	if x.meter != nil && !x.compressed && x.reserved {
		if out, replaced := x.meter.Write(b.GetBody(), b.GetEndOfStream()); replaced {
			mutation := &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
			if len(out) == 0 {
				mutation.Mutation = &extprocv3.BodyMutation_ClearBody{ClearBody: true}
			}
			reply.Response = &extprocv3.CommonResponse{BodyMutation: mutation}
		}
	}
	if b.GetEndOfStream() && x.reserved {
		// Settle before releasing the last chunk: when the client sees the end
		// of the answer, its next request already sees the real spend.
		x.settleMetered(ctx)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: reply}}
}

// finish runs when the stream ends for any reason. A reservation still open
// here means the exchange was cut short: the client went away, the upstream
// reset, or Envoy gave up. What was used is charged — the prompt, once the
// request went upstream, plus every output token streamed so far.
func (x *exchange) finish(ctx context.Context) {
	if !x.reserved {
		return
	}
	if !x.forwarded {
		// Refused or abandoned before the body went upstream: nothing was used.
		x.settle(ctx, charge{failed: true})
		return
	}
	x.settleMetered(ctx)
}

// charge is what a settlement records.
type charge struct {
	usage     pricing.Usage
	reasoning int64
	model     string
	tier      string
	estimated bool
	failed    bool
	flat      int64 // charge this amount instead of pricing usage (compressed responses)
}

// settleMetered charges from the meter: the exact usage when the upstream
// sent it, otherwise the prompt estimate plus the tiktoken count of the output.
func (x *exchange) settleMetered(ctx context.Context) {
	if x.compressed {
		x.settle(ctx, charge{flat: x.estimate, estimated: true, usage: pricing.Usage{PromptTokens: x.req.PromptTokens}})
		return
	}
	c := charge{model: x.req.Model, tier: x.tier}
	if x.meter == nil {
		c.usage.PromptTokens, c.estimated = x.req.PromptTokens, true
		x.settle(ctx, c)
		return
	}
	r := x.meter.Result()
	if r.Model != "" {
		c.model = r.Model
	}
	if r.ServiceTier != "" {
		c.tier = r.ServiceTier
	}
	if r.HasUsage {
		c.usage = pricing.Usage{PromptTokens: r.Usage.PromptTokens, CachedTokens: r.Usage.CachedTokens, CompletionTokens: r.Usage.CompletionTokens}
		c.reasoning = r.Usage.ReasoningTokens
	} else {
		c.usage = pricing.Usage{PromptTokens: x.req.PromptTokens, CompletionTokens: r.OutputTokens}
		c.estimated = true
	}
	x.settle(ctx, c)
}

// settle replaces the reservation with the actual cost, exactly once.
func (x *exchange) settle(ctx context.Context, c charge) {
	s := x.s
	x.reserved = false
	cost := c.flat
	if !c.failed && c.flat == 0 {
		cost = x.cost(c)
	}
	model := c.model
	if c.failed {
		model = x.req.Model
	}
	// Envoy may already have closed the stream; the charge must still land.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.SettleTimeout)
	defer cancel()
	now := s.opts.Now()
	start := time.Now()
	res, err := s.opts.Ledger.Settle(ctx, budget.SettleRequest{
		ID:         x.resID,
		ClientID:   x.clientID,
		Rule:       x.rule,
		Periods:    s.opts.Calendar.Periods(now),
		ActualNano: cost,
		Failed:     c.failed,
		Model:      model,
		Tokens: budget.Tokens{Prompt: c.usage.PromptTokens, Cached: c.usage.CachedTokens,
			Completion: c.usage.CompletionTokens, Reasoning: c.reasoning},
		Estimated: c.estimated,
		Now:       now,
	})
	s.opts.Metrics.LedgerCall("settle", time.Since(start), err)
	if err != nil {
		x.log.Error("settlement failed", "err", err, "cost_nano", cost)
		return
	}
	if c.failed {
		return
	}
	s.opts.Metrics.Spend(model, cost, c.usage.PromptTokens, c.usage.CachedTokens, c.usage.CompletionTokens, c.reasoning)
	if c.estimated {
		s.opts.Metrics.EstimatedUsage()
	}
	s.opts.Metrics.Request(x.endpoint.String(), "ok")
	for _, cr := range res.Crossings {
		thr := strconv.FormatFloat(cr.Threshold, 'f', -1, 64)
		s.opts.Metrics.Alert(string(cr.Kind), thr)
		x.log.Warn("budget alert threshold crossed", "limit_type", cr.Kind, "threshold", thr,
			"spent_nano", cr.SpentNano, "limit_nano", cr.LimitNano, "action", x.rule.Action)
		if s.opts.OnAlert != nil {
			s.opts.OnAlert(x.clientID, cr)
		}
	}
	x.log.Debug("settled", "model", model, "cost_nano", cost, "estimated", c.estimated)
}

// cost prices the usage by the model the upstream reports (the dated snapshot
// it really used) when that model is priced, else by the request's price.
func (x *exchange) cost(c charge) int64 {
	tp := x.price
	if c.model != x.req.Model || c.tier != x.tier {
		if p, _, known, err := x.s.opts.Pricer.Lookup(c.model, c.tier); err == nil && known {
			tp = p
		}
	}
	cost, err := pricing.CostOf(tp, c.usage)
	if err != nil {
		x.log.Error("cannot price usage; charging the reservation", "err", err)
		return x.estimate
	}
	return cost
}
