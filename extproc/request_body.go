package extproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.opentelemetry.io/otel/attribute"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/media"
	"github.com/proxide/proxide/internal/usage"
)

// tailHold is how much of a STREAMED request body is withheld from the
// upstream until the request is admitted: the end of a JSON document or of a
// multipart body (its closing boundary) is always in it, so whatever went
// ahead can never be processed on its own.
const tailHold = 4 << 10

// onRequestBody collects a metered request's body and admits it once whole.
// In BUFFERED mode (Envoy's and our configs' mode) the one body message is the
// whole body, also when end_of_stream is false because trailers follow (with
// trailer mode SKIP nothing else will come). In STREAMED mode each piece is
// answered at once, but the last tailHold bytes are held back until admission.
func (x *exchange) onRequestBody(ctx context.Context, b *extprocv3.HttpBody) (*extprocv3.ProcessingResponse, phase) {
	if x.unit != nil && x.unit.form != nil {
		return x.onFormBody(ctx, b)
	}
	if x.bodyMode != filterv3.ProcessingMode_STREAMED && x.bodyMode != filterv3.ProcessingMode_BUFFERED_PARTIAL {
		x.body = b.GetBody()
		x.trailersFollow = !b.GetEndOfStream()
		return x.admitBody(ctx, true)
	}
	if limit := x.s.opts.MaxBodyBytes; len(x.body)+len(b.GetBody()) > limit {
		// Checked before the piece is kept: memory stays within the limit.
		x.s.opts.Metrics.Request(x.opName(), "bad_request")
		x.body = nil
		return x.reject(openAIError(413, "invalid_request_error", "request_too_large", "",
			fmt.Sprintf("The request body is larger than Proxide meters (%d bytes).", limit)))
	}
	x.body = append(x.body, b.GetBody()...)
	if b.GetEndOfStream() {
		return x.admitBody(ctx, false)
	}
	if x.bodyMode == filterv3.ProcessingMode_BUFFERED_PARTIAL {
		// Envoy sends the rest unprocessed after this message: the body can
		// never be seen whole.
		x.s.opts.Metrics.Request(x.opName(), "bad_request")
		return x.reject(openAIError(413, "invalid_request_error", "request_too_large", "",
			"The request body is larger than Envoy's buffer for Proxide; it cannot be metered."))
	}
	// Forward all but the tail; what was already forwarded stays forwarded.
	release := max(len(x.body)-tailHold, x.held)
	out := x.body[x.held:release]
	x.held = release
	return bodyReply(out, nil), phaseRequestBody
}

// onRequestTrailers: trailers (mode SEND) arrived while a metered request was
// still waiting for its body. In BUFFERED mode the body, had there been one,
// came first and was admitted whole; in STREAMED mode its tail is still held
// back and a trailers reply cannot release it. Either way the request cannot
// be metered, and nothing of it was forwarded that could be processed.
func (x *exchange) onRequestTrailers() (*extprocv3.ProcessingResponse, phase) {
	x.s.opts.Metrics.Request(x.opName(), "bad_request")
	return x.reject(openAIError(400, "invalid_request_error", "trailers_not_supported", "",
		"Proxide cannot meter a request body that ends in trailers unless Envoy buffers it (request_body_mode BUFFERED)."))
}

// admitBody admits the whole body and builds the body reply: the injected
// usage option when it was added (with a matching content-length, or Envoy
// answers 500), and in STREAMED mode the tail held back so far.
func (x *exchange) admitBody(ctx context.Context, buffered bool) (*extprocv3.ProcessingResponse, phase) {
	if resp := x.admitAside(ctx, buffered); resp != nil {
		return resp, phaseDone
	}
	if buffered {
		if !x.injected {
			return continueBody(), phaseUpstream
		}
		if x.trailersFollow {
			// With a content-length the upstream request could not be chunked,
			// and HTTP/1 would drop the client's trailers: remove it instead.
			return bodyReply(x.body, &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}}), phaseUpstream
		}
		cl := setHeader("content-length", strconv.Itoa(len(x.body)))
		return bodyReply(x.body, &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{cl}}), phaseUpstream
	}
	out := x.body[x.held:]
	x.held = len(x.body)
	return bodyReply(out, nil), phaseUpstream
}

// admitAside runs admit on a kept goroutine (deepWork), not on the
// stream's.
func (x *exchange) admitAside(ctx context.Context, rewritable bool) *extprocv3.ProcessingResponse {
	var resp *extprocv3.ProcessingResponse
	sp := x.childSpan("proxide.admission")
	x.s.deep.run(func() { resp = x.admit(ctx, rewritable) })
	if sp != nil {
		sp.SetAttributes(attribute.String("proxide.model", x.req.Model), attribute.Float64("proxide.estimate_usd", float64(x.est.nano)/1e9),
			attribute.Bool("proxide.admitted", resp == nil || resp.GetImmediateResponse() == nil))
		sp.End()
	}
	return resp
}

// admit parses the request body, prices its worst case and reserves it in the
// ledger (check and reserve are one atomic round trip). It returns a local
// reply when the request must not go upstream, nil when it may. rewritable
// says whether the body reply can still replace the whole body.
func (x *exchange) admit(ctx context.Context, rewritable bool) *extprocv3.ProcessingResponse {
	if x.unit != nil {
		return x.admitUnit(ctx, x.body, media.FormResult{})
	}
	if x.batchCreate {
		return x.admitBatch(ctx)
	}
	s := x.s
	req, err := usage.ParseRequest(x.endpoint, x.body, s.opts.Usage)
	if err != nil {
		s.opts.Metrics.Request(x.opName(), "bad_request")
		return openAIError(400, "invalid_request_error", "invalid_body", "", "Proxide could not read the request body: "+err.Error())
	}
	x.req = req
	x.rule = s.opts.Rules.Resolve(x.clientID)
	est, resp := x.estimate(ctx)
	if resp != nil {
		return resp
	}
	x.est = est

	now := s.opts.Now()
	x.resID = newReservationID()
	var loopCheck *budget.LoopCheck
	if cfg, enabled, block := x.rule.Loop.Effective(s.opts.Loop); enabled {
		loopCheck = &budget.LoopCheck{Sig: loop.Compute(req), Config: cfg, Block: block, Excerpt: loop.Excerpt(req, excerptBytes)}
	}
	adm, resp := x.reserve(ctx, est.nano, loopCheck, now)
	if resp != nil {
		return resp
	}
	x.reserved = true
	if adm.Exceeded != nil {
		x.logger().Warn("over budget, admitted by an alert-only rule", "limit_type", adm.Exceeded.Kind, "spent_nano", adm.Exceeded.SpentNano)
	}
	if req.Stream && !req.IncludeUsage && (x.endpoint == usage.ChatCompletions || x.endpoint == usage.Completions) {
		if !rewritable {
			x.logger().Warn("request body arrived in pieces; cannot inject stream_options.include_usage, usage will be estimated")
		} else if body, err := usage.InjectIncludeUsageParsed(x.body); err == nil {
			x.body, x.injected = body, true
		}
	}
	return nil
}

// admitBatch reserves a batch's worst case: its input file's.
func (x *exchange) admitBatch(ctx context.Context) *extprocv3.ProcessingResponse {
	x.rule = x.s.opts.Rules.Resolve(x.clientID)
	e, resp := x.estimateBatch(ctx)
	if resp != nil {
		return resp
	}
	x.est = e
	x.resID = newReservationID()
	if _, resp := x.reserve(ctx, e.nano, nil, x.s.opts.Now()); resp != nil {
		return resp
	}
	x.reserved = true
	return nil
}

// reserve runs the ledger's admission for estimate and turns a refusal into
// its local reply.
func (x *exchange) reserve(ctx context.Context, estimate int64, loopCheck *budget.LoopCheck, now time.Time) (budget.Admission, *extprocv3.ProcessingResponse) {
	s := x.s
	ctx, cancel := context.WithTimeout(ctx, s.opts.LedgerTimeout)
	defer cancel()
	start := time.Now()
	adm, err := s.opts.Ledger.Reserve(ctx, budget.ReserveRequest{
		ID:           x.resID,
		ClientID:     x.clientID,
		Rule:         x.rule,
		Periods:      s.opts.Calendar.Periods(now),
		EstimateNano: estimate,
		Now:          now,
		TTL:          s.opts.ReservationTTL,
		Loop:         loopCheck,
	})
	s.opts.Metrics.LedgerCall("reserve", time.Since(start), err)
	if err != nil {
		x.logger().Error("budget ledger unavailable; refusing (failure_mode closed)", "err", err)
		s.opts.Metrics.Request(x.opName(), "ledger_unavailable")
		return adm, openAIError(503, "budget_unavailable", "budget_unavailable", "",
			"Proxide cannot reach its budget ledger right now; retry shortly.")
	}
	if v := adm.Loop; v.Loop && loopCheck != nil {
		s.opts.Metrics.Loop(v.Kind, loopCheck.Block)
		x.logger().Warn("loop detected", "kind", v.Kind, "repeats", v.Repeats, "blocked", loopCheck.Block, "cooldown_until", v.Until)
		if s.opts.Alerts != nil && !v.Cooldown {
			s.opts.Alerts.LoopDetected(x.clientID, x.rule.Key().String(), v, loopCheck.Block, now)
		}
	}
	if adm.Admitted {
		return adm, nil
	}
	var r refusal
	switch {
	case (adm.Loop.Loop || adm.Loop.Cooldown) && loopCheck != nil:
		v := adm.Loop
		r = refusal{loop: &v, window: loopCheck.Config.Window}
	case adm.Exceeded != nil:
		ex := *adm.Exceeded
		r = refusal{exceeded: &ex}
		x.logger().Info("over budget", "limit_type", ex.Kind, "limit_nano", ex.LimitNano, "spent_nano", ex.SpentNano,
			"estimate_nano", estimate, "strict", adm.Strict)
	default:
		x.logger().Error("ledger refused without a reason; refusing as unavailable")
		return adm, openAIError(503, "budget_unavailable", "budget_unavailable", "", "Proxide's budget ledger gave no answer; retry shortly.")
	}
	return adm, x.refuse(r, now)
}

// admitUnmetered checks the budget of a call allowed unmetered (a client over
// its budget is refused on every paid endpoint) and records it in the
// client's stats under the endpoint's name, at no cost.
func (x *exchange) admitUnmetered(ctx context.Context) *extprocv3.ProcessingResponse {
	s := x.s
	now := s.opts.Now()
	if r, blocked := s.refused(x.clientID, now); blocked {
		return x.refuse(r, now)
	}
	x.resID = newReservationID()
	if _, resp := x.reserve(ctx, 0, nil, now); resp != nil {
		return resp
	}
	x.reserved = true
	x.est.model = "unmetered:" + x.opName()
	x.settle(ctx, charge{model: x.est.model})
	return nil
}

// excerptBytes bounds the redacted excerpt stored with a loop event.
const excerptBytes = 200

// refuse answers a certain refusal: 402 for a budget, the loop status (429)
// for a loop or its cooldown.
func (x *exchange) refuse(r refusal, now time.Time) *extprocv3.ProcessingResponse {
	s := x.s
	if r.loop != nil {
		s.opts.Metrics.Request(x.opName(), "loop_detected")
		return loopDetected(x.clientID, *r.loop, s.opts.LoopStatus, r.window, now)
	}
	s.opts.Metrics.Blocked(string(r.exceeded.Kind))
	s.opts.Metrics.Request(x.opName(), "budget_exceeded")
	if s.opts.Alerts != nil && !r.exceeded.DoesNotFit {
		// A strict rule's "does not fit" leaves the budget unexhausted: no
		// budget.exceeded (it would take the period's one event).
		// A refusal at the headers comes before the rule is resolved.
		s.opts.Alerts.BudgetExceeded(x.clientID, s.opts.Rules.Resolve(x.clientID).Key().String(), *r.exceeded, now)
	}
	return budgetExceeded(x.clientID, *r.exceeded, now)
}

func bodyReply(body []byte, hm *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{
		Response: &extprocv3.CommonResponse{
			HeaderMutation: hm,
			BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: body}},
		},
	}}}
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
