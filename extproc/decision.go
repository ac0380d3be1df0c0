package extproc

import (
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Decisions: what Proxide decided for one request, the label of
// proxide_decisions_total. A request is counted once, at the reply that
// decides it: a local reply (refusal), or the reply that lets it go upstream.
const (
	DecisionAllowed            = "allowed"
	DecisionBudgetExceeded     = "budget_exceeded"
	DecisionLoopDetected       = "loop_detected"
	DecisionUnauthenticated    = "unauthenticated"
	DecisionForbidden          = "forbidden" // a key that may not speak for the client id, or lacks the scope
	DecisionBadRequest         = "bad_request"
	DecisionUnavailable        = "unavailable"
	DecisionEndpointNotMetered = "endpoint_not_metered"
	DecisionProtocolError      = "protocol_error"
)

// decisionOf names the decision a local reply carries, from its status and
// the details Proxide set (immediate's "proxide_<code>").
func decisionOf(imm *extprocv3.ImmediateResponse) string {
	code := strings.TrimPrefix(imm.GetDetails(), "proxide_")
	switch code {
	case "budget_exceeded":
		return DecisionBudgetExceeded
	case "loop_detected":
		return DecisionLoopDetected
	case "endpoint_not_metered", "batch_not_metered":
		return DecisionEndpointNotMetered
	case "invalid_api_key":
		return DecisionUnauthenticated
	case "insufficient_scope", "client_id_not_allowed":
		return DecisionForbidden
	}
	switch status := int(imm.GetStatus().GetCode()); {
	case status == 401:
		return DecisionUnauthenticated
	case status == 403:
		return DecisionForbidden
	case status == 503 || status == 504:
		return DecisionUnavailable
	case status >= 500:
		return DecisionProtocolError
	default:
		return DecisionBadRequest
	}
}

// decide counts the exchange's decision once: at its first local reply, or
// when the request goes upstream.
func (x *exchange) decide(resp *extprocv3.ProcessingResponse) {
	if x.access.decision != "" { // counted already
		return
	}
	switch {
	case resp.GetImmediateResponse() != nil:
		x.access.decision = decisionOf(resp.GetImmediateResponse())
		x.s.opts.Metrics.Decision(x.opName(), x.access.decision)
	case x.phase >= phaseUpstream:
		x.access.decision = DecisionAllowed
		x.s.opts.Metrics.Decision(x.opName(), DecisionAllowed)
	}
}

// messageName names an ext_proc message for the phase latency histogram.
func messageName(req *extprocv3.ProcessingRequest) string {
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return "request_headers"
	case *extprocv3.ProcessingRequest_RequestBody:
		return "request_body"
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return "request_trailers"
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return "response_headers"
	case *extprocv3.ProcessingRequest_ResponseBody:
		return "response_body"
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return "response_trailers"
	}
	return "other"
}
