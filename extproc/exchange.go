package extproc

import (
	"context"
	"log/slog"
	"strings"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.opentelemetry.io/otel/trace"

	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/endpoints"
	"github.com/proxide/proxide/internal/media"
	"github.com/proxide/proxide/internal/usage"
)

// phase is where one exchange stands. It only moves forward, and only once the
// reply that moves it was sent to Envoy.
type phase uint8

const (
	// phaseRequestHeaders: nothing answered yet; the request headers come first.
	phaseRequestHeaders phase = iota
	// phaseRequestBody: the headers were answered; a metered request waits for
	// its body, which decides admission. Nothing went upstream yet.
	phaseRequestBody
	// phaseUpstream: the request went on towards OpenAI (admitted and
	// reserved when metered); the response headers come next.
	phaseUpstream
	// phaseResponse: the response headers were answered; body chunks follow.
	phaseResponse
	// phaseDone: a local reply ended the exchange, or Envoy was told to stop
	// consulting us.
	phaseDone
)

// kind says how Proxide treats the request.
type kind uint8

const (
	kindFree    kind = iota // costs nothing: released after the request headers
	kindMetered             // priced, reserved before it goes upstream, settled from the response
	kindAllowed             // paid but unmeterable, allowed by policy: counted, released
	kindFetch               // fetches a result whose charge is held (a background response, a batch)
	kindUpload              // a file upload: free, read to bound the batch it may feed
)

// exchange is the state of one HTTP request as Envoy walks it through the
// phases. Envoy sends at most one message at a time per direction and waits
// for (or pipelines, for response chunks) our answers in order, so the state
// needs no locking.
type exchange struct {
	s *Server
	// lg is logger's logger, built at first use; setting the client id drops it.
	lg     *slog.Logger
	phase  phase
	access accessEntry
	// span is the request's trace span (nil without Options.Tracer), traceCtx its context.
	span     trace.Span
	traceCtx context.Context

	clientID string
	peerURI  string // the peer certificate's URI SAN Envoy sent (peer.go)
	route    endpoints.Route
	endpoint usage.Endpoint // the request parser and meter of a metered route
	kind     kind
	method   string
	path     endpoints.Path

	// The request body, by Envoy's request body mode: BUFFERED sends it in one
	// message (end_of_stream false when trailers follow); STREAMED in chunks,
	// of which we hold the tail back until the request is admitted.
	bodyMode filterv3.ProcessingMode_BodySendMode
	body     []byte
	held     int // bytes of body withheld from Envoy (STREAMED)
	// trailersFollow: the BUFFERED body came with end_of_stream false
	trailersFollow bool

	req        usage.Request
	est        estimate
	rule       rules.Rule
	resID      string
	reserved   bool // a reservation is outstanding (not settled, not held)
	forwarded  bool // the admitted request went upstream (its reply was sent)
	injected   bool // we added stream_options.include_usage
	status     int  // upstream status, 0 until the response headers
	compressed bool // the response is encoded: it cannot be metered
	// sniffed: the first chunk of a body labelled JSON was checked;
	// mislabelled: it was an event stream (untrusted.go).
	sniffed, mislabelled bool
	meter                *usage.Meter
	// lent is the pooled reply to the chunk being answered (response.go).
	lent *chunkReply
	// heldID is the id of a background response's held charge, once held.
	heldID string
	// unit is set for operations billed in images, characters, seconds or
	// sessions (units.go); pending holds a multipart body's withheld tail.
	unit           *unit
	pending        []byte
	forwardedPiece bool // a STREAMED piece of the body was already answered
	contentType    string
	respBuf        []byte // a small JSON response kept whole (a video's length)
	// Batches (batches.go): batch prices apply; batchCreate is POST /batches;
	// upload reads a batch input file as it passes.
	batch       bool
	batchCreate bool
	upload      *batchLines
	uploadForm  *media.Form
}

func (s *Server) newExchange() *exchange {
	return &exchange{s: s, bodyMode: filterv3.ProcessingMode_BUFFERED}
}

// logger is the server's logger with the request's id and client id, built
// when the exchange first logs: most requests log nothing, and slog's With
// costs a handler copy (kept for the stream's life) each time.
func (x *exchange) logger() *slog.Logger {
	if x.lg == nil {
		l := x.s.opts.Logger
		if x.access.requestID != "" {
			l = l.With("request_id", x.access.requestID)
		}
		if x.clientID != "" {
			l = l.With("client_id", x.clientID)
		}
		x.lg = l
	}
	return x.lg
}

// debugOn reports whether debug lines are logged. A call site tests it before
// x.logger().Debug: the line's arguments, boxed for slog, are then built
// only when they are logged (the settlement's line was the one use of the
// logger on most requests, two allocations each).
func (x *exchange) debugOn() bool {
	return x.s.opts.Logger.Enabled(context.Background(), slog.LevelDebug)
}

// advance enters the phase a sent reply leads to.
func (x *exchange) advance(next phase) {
	if next == phaseUpstream || next == phaseResponse {
		x.forwarded = true
	}
	if next > x.phase {
		x.phase = next
	}
	if next == phaseUpstream && x.reserved {
		x.s.holdLease(x) // renewed while the request runs
	}
	if next >= phaseUpstream {
		// The request went on: its body and the texts parsed from it are
		// not needed again, and a long answer keeps the exchange alive for
		// minutes (about 4 KB less per open stream of a 2 KB prompt).
		x.body, x.pending, x.req.Tail = nil, nil, nil
	}
}

// handle answers one message from Envoy with the reply that message expects
// (or an ImmediateResponse), never an error: a failure inside Proxide must not
// become a gRPC error, which Envoy maps to a bare 500 or, failing open, lets
// the request through unmetered. It also returns the phase the exchange enters
// once the reply is sent. A nil reply closes the stream OK (Envoy carries on
// unprocessed); that is only ever done for requests that cost nothing.
func (x *exchange) handle(ctx context.Context, req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, phase) {
	if pc := req.GetProtocolConfig(); pc != nil {
		x.bodyMode = pc.GetRequestBodyMode()
	}
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		if x.phase != phaseRequestHeaders {
			return x.protocolError("a second request_headers message on one stream")
		}
		x.peerURI = peerURI(req)
		return x.onRequestHeaders(ctx, r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		switch {
		case x.phase == phaseRequestBody && x.kind == kindMetered:
			return x.onRequestBody(ctx, r.RequestBody)
		case x.phase == phaseRequestBody && x.kind == kindUpload:
			return x.onUploadBody(r.RequestBody)
		case x.phase == phaseRequestBody || x.phase == phaseUpstream:
			// A free request whose release Envoy did not apply (mode_override
			// not allowed): it only passes.
			return continueBody(), x.phase
		}
		return x.protocolError("request_body out of order")
	case *extprocv3.ProcessingRequest_RequestTrailers:
		switch {
		case x.phase == phaseRequestBody && x.kind == kindMetered:
			// Trailers (mode SEND) follow a body that was never marked complete:
			// what arrived is the whole body.
			return x.onRequestTrailers()
		case x.phase == phaseRequestBody || x.phase == phaseUpstream:
			return trailersReply(true), x.phase
		}
		return x.protocolError("request_trailers out of order")
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		if x.phase == phaseRequestBody && x.kind == kindMetered {
			// By construction a metered request reaches the response only after
			// its body was admitted; Envoy skipped the body (body mode NONE, a
			// mode_override elsewhere). It must not pass free.
			return x.unseenBody()
		}
		if x.phase != phaseUpstream && (x.phase != phaseRequestBody || x.kind == kindMetered) {
			return x.protocolError("response_headers out of order")
		}
		return x.onResponseHeaders(ctx, r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		if x.phase != phaseResponse {
			return x.protocolError("response_body before response_headers")
		}
		return x.onResponseBody(ctx, r.ResponseBody), phaseResponse
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		if x.phase != phaseResponse {
			return x.protocolError("response_trailers out of order")
		}
		// The body ended without an end_of_stream chunk because trailers
		// followed: the response is complete.
		x.settleResponse(ctx)
		return trailersReply(false), phaseResponse
	default:
		// A message this server does not know (a newer Envoy's oneof). Any
		// reply would be spurious. A free request may carry on unprocessed; a
		// metered one is refused rather than let through unmetered.
		if x.kind == kindMetered && x.phase < phaseUpstream {
			return x.protocolError("an unknown ext_proc message")
		}
		return nil, phaseDone
	}
}

// protocolError ends an exchange whose messages Envoy would never send in
// this order (a misconfigured filter or a hostile caller on the ext_proc
// port). Whatever went upstream is charged by finish.
func (x *exchange) protocolError(what string) (*extprocv3.ProcessingResponse, phase) {
	x.logger().Error("ext_proc protocol error; refusing the request", "problem", what, "phase", x.phase)
	x.s.opts.Metrics.Request(x.opName(), "protocol_error")
	return openAIError(500, "proxide_protocol_error", "proxide_protocol_error", "",
		"Proxide received ext_proc messages out of order ("+what+"); the request was refused."), phaseDone
}

// unseenBody refuses a metered request whose body Proxide never saw: it may
// already have been processed upstream, so it is refused at the response
// headers (the client gets no result to use) and logged loudly.
func (x *exchange) unseenBody() (*extprocv3.ProcessingResponse, phase) {
	x.logger().Error("metered request reached the response without its body; refusing (check the Envoy request body mode)",
		"path", x.path.Suffix)
	x.s.opts.Metrics.Request(x.opName(), "protocol_error")
	return openAIError(500, "proxide_protocol_error", "request_body_not_seen", "",
		"Proxide never saw this request's body, so it could not be metered; the response was withheld. "+
			"Envoy must send metered request bodies (request_body_mode BUFFERED)."), phaseDone
}

// opName labels the request in metrics: the operation, or "other".
func (x *exchange) opName() string {
	if x.route.Operation != "" {
		return string(x.route.Operation)
	}
	return "other"
}

func lower(s string) string { return strings.ToLower(s) }
