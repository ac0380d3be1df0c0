package extproc

import (
	"context"
	"strconv"
	"strings"

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
		x.log.Debug("response is compressed; charging the reservation", "content_encoding", enc)
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
	var reply *extprocv3.ProcessingResponse
	if x.unit != nil && !x.compressed {
		x.unitChunk(b.GetBody())
	} else if x.meter != nil && !x.compressed {
		if !x.sniffed {
			x.sniffBody(b.GetBody())
		}
		if out, replaced := x.meter.Write(b.GetBody(), b.GetEndOfStream()); replaced {
			reply = newChunkReply(out)
		}
	}
	if b.GetEndOfStream() {
		x.s.deep.run(func() { x.settleResponse(ctx) })
	}
	if reply == nil {
		reply = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	}
	return reply
}

// chunkReply is the reply to a response chunk that replaces its bytes, as the
// messages it is made of, allocated together: a stripped SSE chunk needs all
// six, and one allocation instead of six per chunk is a third of the
// allocations of a streamed answer. The messages are never changed after
// they are built (gRPC may read them after Send returns).
type chunkReply struct {
	resp     extprocv3.ProcessingResponse
	oneof    extprocv3.ProcessingResponse_ResponseBody
	body     extprocv3.BodyResponse
	common   extprocv3.CommonResponse
	mutation extprocv3.BodyMutation
	replace  extprocv3.BodyMutation_Body
	clear    extprocv3.BodyMutation_ClearBody
}

// newChunkReply replaces a chunk with out (cleared when out is empty).
func newChunkReply(out []byte) *extprocv3.ProcessingResponse {
	r := &chunkReply{}
	if len(out) == 0 {
		r.clear.ClearBody = true
		r.mutation.Mutation = &r.clear
	} else {
		r.replace.Body = out
		r.mutation.Mutation = &r.replace
	}
	r.common.BodyMutation = &r.mutation
	r.body.Response = &r.common
	r.oneof.ResponseBody = &r.body
	r.resp.Response = &r.oneof
	return &r.resp
}
