package extproc

import (
	"context"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/usage"
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
		x.log.Warn("response is compressed; charging the reservation", "content_encoding", enc)
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
	x.meter = usage.NewMeter(usage.MeterOptions{
		Endpoint:           endpoint,
		RequestModel:       x.req.Model,
		SSE:                strings.Contains(strings.ToLower(ct), "text/event-stream"),
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
	reply := &extprocv3.BodyResponse{}
	if x.unit != nil && !x.compressed {
		x.unitChunk(b.GetBody())
	} else if x.meter != nil && !x.compressed {
		if out, replaced := x.meter.Write(b.GetBody(), b.GetEndOfStream()); replaced {
			mutation := &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}
			if len(out) == 0 {
				mutation.Mutation = &extprocv3.BodyMutation_ClearBody{ClearBody: true}
			}
			reply.Response = &extprocv3.CommonResponse{BodyMutation: mutation}
		}
	}
	if b.GetEndOfStream() {
		x.settleResponse(ctx)
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: reply}}
}
