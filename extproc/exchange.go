package extproc

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/auth"
	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/pricing"
	"github.com/proxide/proxide/usage"
)

// exchange is the state of one HTTP request as Envoy walks it through the
// phases. Envoy sends at most one message at a time per direction and waits
// for (or pipelines, for response chunks) our answers in order, so the state
// needs no locking.
type exchange struct {
	s   *Server
	log *slog.Logger

	clientID string
	endpoint usage.Endpoint
	metered  bool // a priced endpoint: body buffered, reservation taken
	ended    bool // an ImmediateResponse was sent: Envoy ends the stream

	body       []byte // request body chunks, when Envoy sends more than one
	bodyChunks int

	req        usage.Request
	price      pricing.TierPrice
	tier       string
	rule       budget.Rule
	resID      string
	estimate   int64
	reserved   bool // a reservation is outstanding
	injected   bool // we added stream_options.include_usage
	forwarded  bool // the request went upstream
	status     int  // upstream status, 0 until the response headers
	compressed bool // the response is encoded: it cannot be metered
	meter      *usage.Meter
}

func (s *Server) newExchange() *exchange {
	return &exchange{s: s, log: s.opts.Logger}
}

// handle answers one message from Envoy with the reply that message expects
// (or an ImmediateResponse), never an error: a failure inside Proxide must not
// turn into a gRPC error that Envoy maps to a bare 500. nil means "close the
// stream OK" (Envoy continues unprocessed).
func (x *exchange) handle(ctx context.Context, req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return x.onRequestHeaders(r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		return x.onRequestBody(ctx, r.RequestBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		if x.metered && !x.reserved && !x.ended && x.bodyChunks > 0 {
			// The body ended without an end_of_stream chunk because trailers followed.
			if resp := x.admit(ctx, false); resp != nil {
				return resp
			}
			x.forwarded = true
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return x.onResponseHeaders(ctx, r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return x.onResponseBody(ctx, r.ResponseBody)
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		// A message this server does not know (a newer Envoy's oneof). Any
		// reply would be spurious; closing the stream OK makes Envoy carry on
		// unprocessed, which is the honest answer.
		return nil
	}
}

func (x *exchange) onRequestHeaders(h *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	s := x.s
	hm := h.GetHeaders()
	if rid, ok := headerLookup(hm, "x-request-id"); ok {
		x.log = x.log.With("request_id", rid)
	}
	path, _ := headerLookup(hm, ":path")
	method, _ := headerLookup(hm, ":method")
	endpoint, _ := s.route(path)
	x.endpoint = endpoint
	x.metered = endpoint != usage.Other && strings.EqualFold(method, "POST") && !h.GetEndOfStream()

	if s.opts.Keys != nil && s.opts.Keys.Enabled() {
		authz, _ := headerLookup(hm, "authorization")
		if _, err := s.opts.Keys.Authenticate(authz, auth.ScopeGateway); err != nil {
			return x.reject(authFailure(err))
		}
	}

	id, ok := headerLookup(hm, s.opts.ClientIDHeader)
	if !ok || id == "" {
		if s.opts.DefaultClientID == "" {
			return x.reject(openAIError(400, "missing_client_id", "missing_client_id", s.opts.ClientIDHeader,
				"Missing "+s.opts.ClientIDHeader+" header: every request must name its client."))
		}
		id = s.opts.DefaultClientID
	}
	if err := budget.ValidClientID(id); err != nil {
		return x.reject(openAIError(400, "invalid_client_id", "invalid_client_id", s.opts.ClientIDHeader,
			"Invalid "+s.opts.ClientIDHeader+" header: "+err.Error()))
	}
	x.clientID = id
	x.log = x.log.With("client_id", id)

	mutation := &extprocv3.HeaderMutation{RemoveHeaders: []string{"accept-encoding"}}
	if s.opts.UpstreamKey != "" {
		mutation.SetHeaders = append(mutation.SetHeaders, setHeader("authorization", "Bearer "+s.opts.UpstreamKey))
	}
	if !s.opts.KeepClientID {
		mutation.RemoveHeaders = append(mutation.RemoveHeaders, s.opts.ClientIDHeader)
	}

	if !x.metered {
		s.opts.Metrics.Request(x.endpoint.String(), "unmetered")
		return &extprocv3.ProcessingResponse{
			Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
				Response: &extprocv3.CommonResponse{HeaderMutation: mutation},
			}},
			ModeOverride: releaseAfterHeaders,
		}
	}
	if r, blocked := s.blocked.get(id, s.opts.Now()); blocked {
		return x.reject(x.refuse(r, s.opts.Now()))
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{HeaderMutation: mutation}},
	}}
}

func (x *exchange) reject(resp *extprocv3.ProcessingResponse) *extprocv3.ProcessingResponse {
	x.ended = true
	return resp
}

func authFailure(err error) *extprocv3.ProcessingResponse {
	if errors.Is(err, auth.ErrMissingScope) {
		return openAIError(403, "invalid_request_error", "insufficient_scope", "",
			"This Proxide key may not send gateway traffic (it lacks the gateway scope).")
	}
	msg := "Incorrect API key provided. Use a Proxide key (prox-…) in the Authorization header."
	if errors.Is(err, auth.ErrMissingKey) {
		msg = "You didn't provide an API key. Send a Proxide key as 'Authorization: Bearer prox-…'."
	}
	return openAIError(401, "invalid_request_error", "invalid_api_key", "", msg)
}

func (x *exchange) onRequestBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	cont := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	if !x.metered || x.reserved {
		return cont
	}
	x.bodyChunks++
	if !b.GetEndOfStream() || x.bodyChunks > 1 {
		// Not the BUFFERED mode we asked for: collect the pieces and decide on the last.
		x.body = append(x.body, b.GetBody()...)
		if !b.GetEndOfStream() {
			return cont
		}
	} else {
		x.body = b.GetBody()
	}
	if resp := x.admit(ctx, x.bodyChunks == 1); resp != nil {
		return resp
	}
	x.forwarded = true
	if x.injected {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{
			Response: &extprocv3.CommonResponse{
				// A rewritten BUFFERED body needs a matching content-length or Envoy answers 500.
				HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("content-length", strconv.Itoa(len(x.body)))}},
				BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: x.body}},
			},
		}}}
	}
	return cont
}
