package extproc

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/clientid"
	"github.com/proxide/proxide/internal/endpoints"
	"github.com/proxide/proxide/internal/usage"
)

// meteredEndpoints are the operations whose cost Proxide prices from a JSON
// body and a token usage, with the parser and meter that read them.
var meteredEndpoints = map[endpoints.Operation]usage.Endpoint{
	endpoints.ChatCompletionsCreate: usage.ChatCompletions,
	endpoints.CompletionsCreate:     usage.Completions,
	endpoints.EmbeddingsCreate:      usage.Embeddings,
	endpoints.ResponsesCreate:       usage.Responses,
	endpoints.ResponsesCompact:      usage.Responses,
}

// fetchOperations return a result whose charge is held: their response
// settles it.
var fetchOperations = map[endpoints.Operation]usage.Endpoint{
	endpoints.ResponsesRetrieve: usage.Responses,
	endpoints.ResponsesCancel:   usage.Responses,
}

// onRequestHeaders authenticates, names the client, canonicalises the path and
// decides what the request is: free (released now), metered (its body
// decides), unmetered (refused or allowed by policy) or a fetch of a held
// result.
func (x *exchange) onRequestHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, phase) {
	s := x.s
	hm := h.GetHeaders()
	x.access.start = time.Now()
	x.startTrace(hm)
	if rid, ok := headerLookup(hm, "x-request-id"); ok {
		x.access.requestID = rid
	}
	rawPath, _ := headerLookup(hm, ":path")
	x.method, _ = headerLookup(hm, ":method")
	x.contentType, _ = headerLookup(hm, "content-type")

	var key *auth.Key
	if s.opts.Keys != nil && s.opts.Keys.Enabled() {
		authz, _ := headerLookup(hm, "authorization")
		k, err := s.opts.Keys.Authenticate(authz, auth.ScopeGateway)
		if err != nil {
			return x.reject(authFailure(err))
		}
		key = &k
	}
	param, what := s.opts.ClientIDHeader, s.opts.ClientIDHeader+" header"
	id, ok := headerLookup(hm, s.opts.ClientIDHeader)
	if s.opts.ClientIDFromPeer { // peer.go
		param, what = "", "peer certificate URI SAN"
		if id, ok = x.peerURI, x.peerURI != ""; !ok {
			s.opts.Metrics.Request("other", "forbidden_client_id")
			return x.reject(peerIdentityRequired())
		}
	}
	if !ok || id == "" {
		if s.opts.DefaultClientID == "" {
			return x.reject(openAIError(400, "missing_client_id", "missing_client_id", param,
				"Missing "+what+": every request must name its client."))
		}
		id = s.opts.DefaultClientID
	}
	if err := rules.ValidClientID(id); err != nil {
		return x.reject(openAIError(400, "invalid_client_id", "invalid_client_id", param,
			"Invalid "+what+": "+err.Error()))
	}
	if s.opts.NormalizeClientIDs {
		n, err := clientid.Normalize(id)
		if err != nil {
			s.opts.Metrics.Request("other", "bad_request")
			return x.reject(openAIError(400, "invalid_client_id", "invalid_client_id", param,
				"Invalid "+what+": "+err.Error()+"."))
		}
		id = n
	}
	if key != nil && !key.Allows(id) {
		s.opts.Metrics.Request("other", "forbidden_client_id")
		x.logger().Warn("key may not speak for this client id", "key", key.Name, "client_id", id)
		// Quoted, so an invisible or look-alike character shows.
		return x.reject(openAIError(403, "invalid_request_error", "client_id_not_allowed", param,
			"This Proxide key may not speak for client "+strconv.QuoteToASCII(id)+"."))
	}
	x.clientID, x.lg = id, nil // the logger names the client from now on

	p, err := endpoints.Canonicalize(rawPath, s.opts.PathPrefixes)
	if err != nil {
		s.opts.Metrics.Request("other", "bad_request")
		return x.reject(openAIError(400, "invalid_request_error", "invalid_path", "",
			"Proxide refuses this request path: "+err.Error()+". Send the path without escaped slashes or dot segments."))
	}
	x.path = p
	x.route = endpoints.Classify(x.method, p, func(name string) (string, bool) { return headerLookup(hm, name) })
	mutation := x.headerMutation()

	switch x.route.Operation {
	case endpoints.FilesUpload:
		if strings.HasPrefix(strings.ToLower(x.contentType), "multipart/") && !h.GetEndOfStream() {
			return x.uploadHeaders(mutation)
		}
	case endpoints.BatchesRetrieve, endpoints.BatchesCancel:
		x.kind, x.endpoint, x.batch = kindFetch, usage.Responses, true
		return headersReply(mutation), x.afterHeaders(h)
	case endpoints.BatchesCreate:
		x.kind, x.endpoint, x.batch, x.batchCreate = kindMetered, usage.Responses, true, true
		if h.GetEndOfStream() {
			return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "", "A batch needs a JSON request body."))
		}
		if r, blocked := s.refused(id, s.opts.Now()); blocked {
			return x.reject(x.refuse(r, s.opts.Now()))
		}
		return headersReply(mutation), phaseRequestBody
	}
	switch x.route.Kind {
	case endpoints.Free:
		return x.release(mutation, "unmetered")
	case endpoints.Unmetered:
		return x.unmetered(ctx, mutation, "no Proxide meter exists for it")
	}
	if ep, ok := fetchOperations[x.route.Operation]; ok {
		x.kind, x.endpoint = kindFetch, ep
		return headersReply(mutation), x.afterHeaders(h)
	}
	if unitOperations[x.route.Operation] {
		return x.unitHeaders(h, mutation)
	}
	ep, ok := meteredEndpoints[x.route.Operation]
	if !ok {
		// A paid operation Proxide does not meter yet is treated like one it
		// cannot meter: refused unless allowed.
		return x.unmetered(ctx, mutation, "Proxide does not meter it")
	}
	x.kind, x.endpoint = kindMetered, ep
	if h.GetEndOfStream() {
		// A paid call without a body is malformed; refusing it costs nothing.
		s.opts.Metrics.Request(x.opName(), "bad_request")
		return x.reject(openAIError(400, "invalid_request_error", "invalid_body", "",
			"This endpoint needs a JSON request body."))
	}
	if r, blocked := s.refused(id, s.opts.Now()); blocked {
		return x.reject(x.refuse(r, s.opts.Now()))
	}
	return headersReply(mutation), phaseRequestBody
}

// afterHeaders is the phase after a headers reply for a request that is not
// metered: its body, if any, then the upstream.
func (x *exchange) afterHeaders(h *extprocv3.HttpHeaders) phase {
	if h.GetEndOfStream() {
		return phaseUpstream
	}
	return phaseRequestBody
}

// headerMutation swaps the client's key for the upstream key and removes what
// must not reach OpenAI: accept-encoding (the response must be metered
// uncompressed) and the client-id header.
func (x *exchange) headerMutation() *extprocv3.HeaderMutation {
	s := x.s
	mutation := &extprocv3.HeaderMutation{RemoveHeaders: []string{"accept-encoding"}}
	if s.opts.UpstreamKey != "" {
		mutation.SetHeaders = append(mutation.SetHeaders, setHeader("authorization", "Bearer "+s.opts.UpstreamKey))
	}
	if !s.opts.KeepClientID {
		mutation.RemoveHeaders = append(mutation.RemoveHeaders, s.opts.ClientIDHeader)
	}
	return mutation
}

// release lets a request through with nothing more to process.
func (x *exchange) release(mutation *extprocv3.HeaderMutation, decision string) (*extprocv3.ProcessingResponse, phase) {
	x.kind = kindFree
	x.s.opts.Metrics.Request(x.opName(), decision)
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: mutation},
		}},
		ModeOverride: releaseAfterHeaders,
	}, phaseUpstream
}

// unmetered applies the unmetered-endpoint policy of the client's rule (or
// the global one): refuse with 403 endpoint_not_metered, or allow — but not
// for a client over its budget, and every allowed call is counted.
func (x *exchange) unmetered(ctx context.Context, mutation *extprocv3.HeaderMutation, why string) (*extprocv3.ProcessingResponse, phase) {
	s := x.s
	x.rule = s.opts.Rules.Resolve(x.clientID)
	policy := x.rule.Unmetered
	if policy == rules.UnmeteredInherit {
		policy = s.opts.Unmetered
	}
	name := x.opName()
	if !x.route.Known {
		name = strings.ToUpper(x.method) + " " + x.path.Suffix
	}
	if policy != rules.UnmeteredAllow {
		s.opts.Metrics.Request(x.opName(), "endpoint_not_metered")
		return x.reject(endpointNotMetered(name, why))
	}
	if resp := x.admitUnmetered(ctx); resp != nil {
		return resp, phaseDone
	}
	x.kind = kindAllowed
	if s.opts.Alerts != nil {
		now := s.opts.Now()
		s.opts.Alerts.UnmeteredAllowed(x.clientID, x.rule.Key().String(), name, s.opts.Calendar.Periods(now).Day, now)
	}
	resp, next := x.release(mutation, "unmetered_allowed")
	return resp, next
}

// reject ends the exchange with a local reply.
func (x *exchange) reject(resp *extprocv3.ProcessingResponse) (*extprocv3.ProcessingResponse, phase) {
	return resp, phaseDone
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

func headersReply(m *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{HeaderMutation: m}},
	}}
}

func continueBody() *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
}

func trailersReply(request bool) *extprocv3.ProcessingResponse {
	if request {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
}
