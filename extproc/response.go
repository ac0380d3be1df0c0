package extproc

import (
	"context"
	"strconv"
	"strings"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/internal/usage"
)

// onResponseHeaders reads the upstream status. A metered request that failed
// upstream is released (OpenAI bills nothing for it); a successful one gets a
// meter for its body. A fetch of a held result is metered the same way.
func (x *exchange) onResponseHeaders(ctx context.Context, h *extprocv3.HttpHeaders) (*extprocv3.ProcessingResponse, phase) {
	cont := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	if x.kind != kindMetered && x.kind != kindFetch && x.kind != kindUpload {
		return cont, phaseResponse
	}
	hm := h.GetHeaders()
	st, _ := headerLookup(hm, ":status")
	x.status, _ = strconv.Atoi(st)
	if x.status < 200 || x.status > 299 {
		if x.reserved {
			x.settle(ctx, charge{failed: true})
			x.s.opts.Metrics.Request(x.opName(), "upstream_error")
		}
		return cont, phaseResponse
	}
	if enc, ok := headerLookup(hm, "content-encoding"); ok && enc != "" && !strings.EqualFold(enc, "identity") {
		// accept-encoding was removed, so this upstream ignored it. The usage
		// cannot be read; the reservation (the worst case) is charged instead.
		x.compressed = true
		if x.debugOn() {
			x.logger().Debug("response is compressed; charging the reservation", "content_encoding", enc)
		}
	}
	ct, _ := headerLookup(hm, "content-type")
	if x.unit != nil {
		x.unitMeter(ct)
		if h.GetEndOfStream() {
			x.settleResponse(ctx)
		}
		return cont, phaseResponse
	}
	endpoint := x.endpoint
	if x.kind == kindUpload {
		endpoint = usage.Responses // a file object: its id
	}
	sse := strings.Contains(strings.ToLower(ct), "text/event-stream")
	x.sniffed = sse // only a body labelled JSON is checked for an event stream
	x.meter = usage.NewMeter(usage.MeterOptions{
		Endpoint:           endpoint,
		RequestModel:       x.req.Model,
		SSE:                sse,
		StripInjectedUsage: x.injected,
		// A replaced chunk is sent before the next Write (Process), so the
		// meter may reuse one buffer for every chunk it rewrites.
		ReuseOutput: true,
	})
	if h.GetEndOfStream() {
		x.settleResponse(ctx)
	}
	return cont, phaseResponse
}

// onResponseBody meters one chunk and, at the end of the body, settles before
// releasing the last chunk: when the client sees the end of the answer, its
// next request already sees the real spend.
func (x *exchange) onResponseBody(ctx context.Context, b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	reply := x.lendChunkReply()
	if x.unit != nil && !x.compressed {
		x.unitChunk(b.GetBody())
	} else if x.meter != nil && !x.compressed {
		if !x.sniffed {
			x.sniffBody(b.GetBody())
		}
		if out, replaced := x.meter.Write(b.GetBody(), b.GetEndOfStream()); replaced {
			reply.replace(out)
		}
	}
	if b.GetEndOfStream() {
		x.s.deep.run(func() { x.settleResponse(ctx) })
	}
	return &reply.resp
}

// chunkReply is the reply to a response chunk, as the messages it is made of,
// allocated together and lent from chunkReplies: every chunk of a streamed
// answer gets one, and a stripped SSE chunk needs six of these messages (a
// replacement or a clear). gRPC marshals a reply before Send returns, so
// Process hands it back (returnChunkReply) once it was sent and read; nothing
// keeps it after that — as long as the server has no stats handler, which
// gRPC allows to read a sent message later (serve sets none).
type chunkReply struct {
	resp     extprocv3.ProcessingResponse
	oneof    extprocv3.ProcessingResponse_ResponseBody
	body     extprocv3.BodyResponse
	common   extprocv3.CommonResponse
	mutation extprocv3.BodyMutation
	replaceB extprocv3.BodyMutation_Body
	clear    extprocv3.BodyMutation_ClearBody
}

var chunkReplies = sync.Pool{New: func() any { return new(chunkReply) }}

// lendChunkReply returns a reply that lets the chunk through unchanged; the
// exchange holds it until returnChunkReply.
func (x *exchange) lendChunkReply() *chunkReply {
	r := chunkReplies.Get().(*chunkReply) // zero: new, or zeroed by returnChunkReply
	r.oneof.ResponseBody = &r.body
	r.resp.Response = &r.oneof
	x.lent = r
	return r
}

// replace makes r replace the chunk with out (cleared when out is empty).
func (r *chunkReply) replace(out []byte) {
	if len(out) == 0 {
		r.clear.ClearBody = true
		r.mutation.Mutation = &r.clear
	} else {
		r.replaceB.Body = out
		r.mutation.Mutation = &r.replaceB
	}
	r.common.BodyMutation = &r.mutation
	r.body.Response = &r.common
}

// returnChunkReply gives back the reply lent for the message just answered.
func (x *exchange) returnChunkReply() {
	r := x.lent
	if r == nil {
		return
	}
	x.lent = nil
	*r = chunkReply{} // drops the chunk's bytes
	chunkReplies.Put(r)
}
