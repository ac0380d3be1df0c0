package extproc

import (
	"context"
	"strings"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/usage"
)

// Background responses: OpenAI answers a create with "background": true at
// once ("queued", usage null) and runs the model afterwards; the result is
// fetched later (GET /v1/responses/{id}, or its stream resumed with
// starting_after), possibly through another replica. The create's worst case
// is therefore held in the ledger under "resp:<id>" beyond the request's life,
// settled exactly once by whichever fetch sees the finished response, and
// charged as estimated if none does before BackgroundTTL.

// heldKey is the ledger id of a background response's held charge.
func heldKey(responseID string) string { return "resp:" + responseID }

// hold turns the create's reservation into the response's held charge. If
// that fails the worst case is charged now: never nothing.
func (x *exchange) hold(ctx context.Context, r usage.Result) {
	x.holdAs(ctx, heldKey(r.ResponseID), x.s.opts.BackgroundTTL)
}

// holdAs holds the request's reservation under key for ttl.
func (x *exchange) holdAs(ctx context.Context, key string, ttl time.Duration) {
	s := x.s
	x.reserved = false
	s.dropLease(x)
	now := s.opts.Now()
	timeout := s.opts.LedgerTimeout
	if ctx.Err() != nil {
		timeout = s.opts.SettleTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	start := time.Now()
	model := x.req.Model
	if model == "" {
		model = x.est.model
	}
	held, err := s.opts.Ledger.Hold(ctx, budget.HoldRequest{
		ID: x.resID, NewID: key, ClientID: x.clientID,
		Periods: s.opts.Calendar.Periods(now), EstimateNano: x.est.nano,
		Expiry: now.Add(ttl), Model: model, Now: now,
	})
	s.opts.Metrics.LedgerCall("hold", time.Since(start), err)
	switch {
	case err != nil:
		x.logger().Error("cannot hold the charge; charging its worst case now", "err", err, "held_id", key)
		x.reserved = true
		x.settle(ctx, x.worstCase())
	case !held:
		x.logger().Warn("already held or settled", "held_id", key)
	default:
		x.heldID = key
		x.logger().Info("charge held until its result is fetched", "held_id", key,
			"estimate_nano", x.est.nano, "expires", now.Add(ttl))
	}
}

// settleFetched settles a held background response from a fetch of its
// result (GET /v1/responses/{id}, its resumed stream, or a cancel): a finished
// response with usage settles the held charge once; anything else leaves it
// held. A response nobody held (created before Proxide, by another client, or
// already settled) changes nothing.
func (x *exchange) settleFetched(ctx context.Context) {
	if x.meter == nil || x.compressed {
		return
	}
	r := x.meter.Result()
	id := r.ResponseID
	if id == "" {
		id = responseIDFromPath(x.path.Suffix)
	}
	if id == "" || !finished(r.Status) {
		return
	}
	s := x.s
	x.rule = s.opts.Rules.Resolve(x.clientID)
	if !r.HasUsage {
		if r.Status == "failed" {
			// OpenAI bills nothing for a response that failed without usage.
			x.resID = heldKey(id)
			_, _ = x.record(ctx, budget.SettleRequest{ID: x.resID, ClientID: x.clientID, Rule: x.rule, Failed: true,
				Model: r.Model, OnlyIfHeld: true})
		}
		// A cancelled response without usage: what it used is unknown, so
		// its charge stays held and is charged as estimated when it expires.
		return
	}
	e, _ := x.estimateForFetched(r)
	x.est = e
	c := charge{model: r.Model, tier: r.ServiceTier, usage: toPricing(r.Usage), reasoning: r.Usage.ReasoningTokens}
	if c.model == "" {
		c.model = x.req.Model
	}
	// The fees follow the tools the create declared, which the response echoes.
	x.req.BuiltinTools, x.req.ContainerMemory = r.Tools, r.Memory
	c.usage.FeeNano = x.toolFees(r.ToolCalls)
	x.resID = heldKey(id)
	cost := x.cost(c)
	res, err := x.record(ctx, budget.SettleRequest{
		ID: x.resID, ClientID: x.clientID, Rule: x.rule, ActualNano: cost, Model: c.model,
		Tokens: budget.Tokens{Prompt: c.usage.PromptTokens, Cached: c.usage.CachedTokens,
			Completion: c.usage.CompletionTokens, Reasoning: c.reasoning},
		OnlyIfHeld: true, Remember: x.rememberContext(r),
	})
	if err != nil || res.Duplicate || res.NotHeld {
		return
	}
	x.logger().Info("background response settled", "response_id", id, "cost_nano", cost)
	x.recorded(res, c.model, cost, c)
}

// estimateForFetched prices what a fetched result needs: the model's row (for
// tool fees) and the tier it reports.
func (x *exchange) estimateForFetched(r usage.Result) (estimate, error) {
	model := r.Model
	x.req.Model = model
	info, known, err := x.s.opts.Pricer.Row(model)
	return estimate{model: model, known: known, row: factsOf(info), tier: r.ServiceTier}, err
}

// finished reports a response status that will not change any more.
func finished(status string) bool {
	switch status {
	case "completed", "incomplete", "cancelled", "failed":
		return true
	}
	return false
}

// responseIDFromPath takes the id out of "/responses/{id}" or "/responses/{id}/cancel".
func responseIDFromPath(suffix string) string {
	parts := strings.Split(strings.Trim(suffix, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "responses") {
		return parts[1]
	}
	return ""
}
