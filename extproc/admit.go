package extproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget"
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
	start := time.Now()
	adm, err := s.opts.Ledger.Reserve(ctx, budget.ReserveRequest{
		ID:           x.resID,
		ClientID:     x.clientID,
		Rule:         x.rule,
		Periods:      s.opts.Calendar.Periods(now),
		EstimateNano: x.estimate,
		Now:          now,
		TTL:          s.opts.ReservationTTL,
	})
	s.opts.Metrics.LedgerCall("reserve", time.Since(start), err)
	if err != nil {
		x.log.Error("budget ledger unavailable; refusing (failure_mode closed)", "err", err)
		s.opts.Metrics.Request(x.endpoint.String(), "ledger_unavailable")
		return x.reject(openAIError(503, "service_unavailable", "budget_ledger_unavailable", "",
			"Proxide cannot reach its budget ledger right now; retry shortly."))
	}
	if !adm.Admitted {
		ex := *adm.Exceeded
		if ex.SettledOnly && s.opts.BlockCacheTTL > 0 {
			until := now.Add(s.opts.BlockCacheTTL)
			if ex.Period.End.Before(until) {
				until = ex.Period.End
			}
			s.blocked.put(x.clientID, ex, until)
		}
		s.opts.Metrics.Blocked(string(ex.Kind))
		s.opts.Metrics.Request(x.endpoint.String(), "budget_exceeded")
		x.log.Info("over budget", "limit_type", ex.Kind, "limit_nano", ex.LimitNano, "spent_nano", ex.SpentNano)
		return x.reject(budgetExceeded(x.clientID, ex, now))
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
