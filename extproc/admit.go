package extproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/loop"
	"github.com/proxide/proxide/pricing"
	"github.com/proxide/proxide/usage"
)

// admit parses the buffered request body, prices the worst case and reserves
// it in the ledger (check and reserve are one atomic round trip). It returns
// a local reply when the request must not go upstream, nil when it may.
// rewritable says whether the body reply can still replace the body (it can
// when the whole body arrived in the message being answered).
func (x *exchange) admit(ctx context.Context, rewritable bool) *extprocv3.ProcessingResponse {
	s := x.s
	req, err := usage.ParseRequest(x.endpoint, x.body, s.opts.Usage)
	if err != nil {
		s.opts.Metrics.Request(x.endpoint.String(), "bad_request")
		return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "", "Proxide could not read the request body: "+err.Error()))
	}
	x.req = req
	x.tier = req.ServiceTier
	tp, info, known, err := s.opts.Pricer.Lookup(req.Model, req.ServiceTier)
	if !known {
		s.opts.Metrics.UnknownModel()
	}
	if err != nil {
		s.opts.Metrics.Request(x.endpoint.String(), "unknown_model")
		return x.reject(openAIError(400, "invalid_request_error", "model_not_priced", "model",
			fmt.Sprintf("Model %q has no price in Proxide's price table and unknown models are refused.", req.Model)))
	}
	x.price = tp
	x.estimate, err = pricing.CostOf(tp, pricing.Usage{PromptTokens: req.PromptTokens, CompletionTokens: x.maxOutputTokens(info)})
	if err != nil {
		return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "", "Request too large to price: "+err.Error()))
	}

	now := s.opts.Now()
	x.rule = s.opts.Rules.Resolve(x.clientID)
	x.resID = newReservationID()
	var loopCheck *budget.LoopCheck
	if cfg, enabled, block := x.rule.Loop.Effective(s.opts.Loop); enabled {
		loopCheck = &budget.LoopCheck{Sig: loop.Compute(req), Config: cfg, Block: block, Excerpt: loop.Excerpt(req, excerptBytes)}
	}
	start := time.Now()
	adm, err := s.opts.Ledger.Reserve(ctx, budget.ReserveRequest{
		ID:           x.resID,
		ClientID:     x.clientID,
		Rule:         x.rule,
		Periods:      s.opts.Calendar.Periods(now),
		EstimateNano: x.estimate,
		Now:          now,
		TTL:          s.opts.ReservationTTL,
		Loop:         loopCheck,
	})
	s.opts.Metrics.LedgerCall("reserve", time.Since(start), err)
	if err != nil {
		x.log.Error("budget ledger unavailable; refusing (failure_mode closed)", "err", err)
		s.opts.Metrics.Request(x.endpoint.String(), "ledger_unavailable")
		return x.reject(openAIError(503, "service_unavailable", "budget_ledger_unavailable", "",
			"Proxide cannot reach its budget ledger right now; retry shortly."))
	}
	if v := adm.Loop; v.Loop {
		s.opts.Metrics.Loop(v.Kind, loopCheck.Block)
		x.log.Warn("loop detected", "kind", v.Kind, "repeats", v.Repeats, "blocked", loopCheck.Block, "cooldown_until", v.Until)
	}
	if !adm.Admitted {
		var r refusal
		var until time.Time
		switch {
		case adm.Loop.Loop || adm.Loop.Cooldown:
			v := adm.Loop
			r, until = refusal{loop: &v, window: loopCheck.Config.Window}, v.Until
		case adm.Exceeded != nil:
			ex := *adm.Exceeded
			r = refusal{exceeded: &ex}
			if ex.SettledOnly {
				until = ex.Period.End
			}
			x.log.Info("over budget", "limit_type", ex.Kind, "limit_nano", ex.LimitNano, "spent_nano", ex.SpentNano)
		default:
			x.log.Error("ledger refused without a reason; refusing as unavailable")
			return x.reject(openAIError(503, "service_unavailable", "budget_ledger_unavailable", "", "Proxide's budget ledger gave no answer; retry shortly."))
		}
		// Certain refusals are remembered so the next ones cost no round trip.
		if !until.IsZero() && s.opts.BlockCacheTTL > 0 {
			s.blocked.put(x.clientID, r, earlier(until, now.Add(s.opts.BlockCacheTTL)))
		}
		return x.reject(x.refuse(r, now))
	}
	x.reserved = true
	if adm.Exceeded != nil {
		x.log.Warn("over budget, admitted by an alert-only rule", "limit_type", adm.Exceeded.Kind, "spent_nano", adm.Exceeded.SpentNano)
	}

	if req.Stream && !req.IncludeUsage && (x.endpoint == usage.ChatCompletions || x.endpoint == usage.Completions) {
		if !rewritable {
			x.log.Warn("request body arrived in pieces; cannot inject stream_options.include_usage, usage will be estimated")
		} else if body, err := usage.InjectIncludeUsage(x.body); err == nil {
			x.body, x.injected = body, true
		}
	}
	return nil
}

// excerptBytes bounds the redacted excerpt stored with a loop event.
const excerptBytes = 200

// refuse answers a certain refusal: 402 for a budget, the loop status (429)
// for a loop or its cooldown.
func (x *exchange) refuse(r refusal, now time.Time) *extprocv3.ProcessingResponse {
	s := x.s
	if r.loop != nil {
		s.opts.Metrics.Request(x.endpoint.String(), "loop_detected")
		return loopDetected(x.clientID, *r.loop, s.opts.LoopStatus, r.window, now)
	}
	s.opts.Metrics.Blocked(string(r.exceeded.Kind))
	s.opts.Metrics.Request(x.endpoint.String(), "budget_exceeded")
	return budgetExceeded(x.clientID, *r.exceeded, now)
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// maxOutputTokens is the output the reservation covers: what the request
// allows (or the configured default), capped by the model's own maximum, times
// the number of choices. Embeddings produce no output tokens.
func (x *exchange) maxOutputTokens(info pricing.Price) int64 {
	if x.endpoint == usage.Embeddings {
		return 0
	}
	out := x.req.MaxOutputTokens
	if out <= 0 {
		out = x.s.opts.DefaultMaxOutputTokens
	}
	if info.MaxOutputTokens > 0 && out > info.MaxOutputTokens {
		out = info.MaxOutputTokens
	}
	if n := x.req.N; n > 1 {
		out *= n
	}
	return out
}

// newReservationID is random: ids from headers (x-request-id) are client
// controlled, and a collision would make a settlement look like a duplicate.
func newReservationID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; keep a unique id anyway.
		return fmt.Sprintf("t%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}
