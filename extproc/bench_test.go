package extproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
)

// noopLedger admits everything without doing anything: the benchmarks measure
// the state machine, the ledgers have their own benchmarks in budget/.
type noopLedger struct{}

func (noopLedger) Refused(string, time.Time) (blockcache.Refusal, bool) {
	return blockcache.Refusal{}, false
}

func (noopLedger) Reserve(context.Context, budget.ReserveRequest) (budget.Admission, error) {
	return budget.Admission{Admitted: true}, nil
}

func (noopLedger) Settle(context.Context, budget.SettleRequest) (budget.SettleResult, error) {
	return budget.SettleResult{}, nil
}

func (noopLedger) Extend(context.Context, []budget.Lease) error                         { return nil }
func (noopLedger) Hold(context.Context, budget.HoldRequest) (bool, error)               { return true, nil }
func (noopLedger) Remember(context.Context, string, []budget.Remember, time.Time) error { return nil }
func (noopLedger) Contexts(_ context.Context, _ string, keys []string, _ time.Time) ([]int64, error) {
	return make([]int64, len(keys)), nil
}

// passthrough is the no-op baseline: an ext_proc server that answers every
// message with an empty reply of the right kind, like a do-nothing filter.
func passthrough(stream extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var resp *extprocv3.ProcessingResponse
		switch req.GetRequest().(type) {
		case *extprocv3.ProcessingRequest_RequestHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
		case *extprocv3.ProcessingRequest_RequestBody:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
		case *extprocv3.ProcessingRequest_ResponseHeaders:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		default:
			resp = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// replayStream replays a fixed script without recording, so the benchmark
// measures the processor, not the fake.
type replayStream struct {
	fakeStream
	script []*extprocv3.ProcessingRequest
	pos    int
}

func (r *replayStream) Recv() (*extprocv3.ProcessingRequest, error) {
	if r.pos == len(r.script) {
		return nil, io.EOF
	}
	r.pos++
	return r.script[r.pos-1], nil
}

func (r *replayStream) Send(*extprocv3.ProcessingResponse) error { return nil }

// streamingScript is one streamed chat completion of `events` content deltas.
func streamingScript(events int, clientUsage bool) []*extprocv3.ProcessingRequest {
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Explain ext_proc in one paragraph."}]}`
	usageNull := `,"usage":null`
	if clientUsage {
		body = strings.Replace(body, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
	}
	script := []*extprocv3.ProcessingRequest{chatHeaders(), reqBody(body),
		respHeaders(false, ":status", "200", "content-type", "text/event-stream")}
	for i := 0; i < events; i++ {
		script = append(script, respBody(fmt.Sprintf(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}]%s}`+"\n\n", i, usageNull), false))
	}
	script = append(script, respBody(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764300000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":200,"total_tokens":230}}`+"\n\ndata: [DONE]\n\n", false), respBody("", true))
	return script
}

// BenchmarkExchange is one whole metered request (headers, body, 200 SSE
// chunks, settlement) through Process, next to the do-nothing baseline.
func BenchmarkExchange(b *testing.B) {
	for _, tc := range []struct {
		name        string
		clientUsage bool
	}{{"client-asked-usage", true}, {"injected-usage", false}} {
		script := streamingScript(200, tc.clientUsage)
		b.Run("noop/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st := &replayStream{fakeStream: fakeStream{ctx: context.Background()}, script: script}
				_ = passthrough(st)
			}
		})
		b.Run("proxide/"+tc.name, func(b *testing.B) {
			f := newFixture(b, func(o *Options) { o.Ledger = noopLedger{} })
			b.ReportAllocs()
			for b.Loop() {
				st := &replayStream{fakeStream: fakeStream{ctx: context.Background()}, script: script}
				_ = f.srv.Process(st)
			}
		})
	}
}
