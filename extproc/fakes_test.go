package extproc

import (
	"context"
	"io"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/rules"
)

// fakeStream replays Envoy's messages and records the sidecar's replies. After
// the script it ends with endErr (io.EOF: Envoy closed normally).
type fakeStream struct {
	grpc.ServerStream
	ctx    context.Context
	in     []*extprocv3.ProcessingRequest
	out    []*extprocv3.ProcessingResponse
	endErr error
}

var _ extprocv3.ExternalProcessor_ProcessServer = (*fakeStream)(nil)

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Recv() (*extprocv3.ProcessingRequest, error) {
	if len(f.in) == 0 {
		if f.endErr != nil {
			return nil, f.endErr
		}
		return nil, io.EOF
	}
	m := f.in[0]
	f.in = f.in[1:]
	return m, nil
}

// Send keeps a copy of r, as gRPC marshals it before Send returns: Process
// reuses a chunk's reply once it was sent.
func (f *fakeStream) Send(r *extprocv3.ProcessingResponse) error {
	f.out = append(f.out, proto.CloneOf(r))
	return nil
}

// fakeLedger admits by a scripted answer and records every call.
type fakeLedger struct {
	mu    sync.Mutex
	admit func(budget.ReserveRequest) (budget.Admission, error)
	// refusals are the clients certain to be refused (budget/blockcache's in production).
	refusals map[string]blockcache.Refusal
	reserves []budget.ReserveRequest
	settles  []budget.SettleRequest
	extends  [][]budget.Lease
	holds    []budget.HoldRequest
	contexts map[string]int64 // remembered context sizes by key
	holdErr  error
}

var _ Ledger = (*fakeLedger)(nil)

func (l *fakeLedger) Refused(clientID string, _ time.Time) (blockcache.Refusal, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.refusals[clientID]
	return r, ok
}

func (l *fakeLedger) Reserve(_ context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reserves = append(l.reserves, r)
	if l.admit != nil {
		return l.admit(r)
	}
	return budget.Admission{Admitted: true}, nil
}

func (l *fakeLedger) Settle(_ context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settles = append(l.settles, s)
	for _, r := range s.Remember {
		if l.contexts == nil {
			l.contexts = map[string]int64{}
		}
		l.contexts[r.Key] = r.Tokens
	}
	return budget.SettleResult{}, nil
}

func (l *fakeLedger) Extend(_ context.Context, leases []budget.Lease) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.extends = append(l.extends, leases)
	return nil
}

func (l *fakeLedger) Hold(_ context.Context, h budget.HoldRequest) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holds = append(l.holds, h)
	return l.holdErr == nil, l.holdErr
}

func (l *fakeLedger) Remember(_ context.Context, _ string, rs []budget.Remember, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range rs {
		if l.contexts == nil {
			l.contexts = map[string]int64{}
		}
		l.contexts[r.Key] = r.Tokens
	}
	return nil
}

func (l *fakeLedger) Contexts(_ context.Context, _ string, keys []string, _ time.Time) ([]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, len(keys))
	for i, k := range keys {
		out[i] = l.contexts[k]
	}
	return out, nil
}

type staticRules struct{ rule rules.Rule }

func (r staticRules) Resolve(string) rules.Rule { return r.rule }

// Envoy-side message builders, with values in raw_value as current Envoy sends them.

func hdrs(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

func reqHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: hdrs(kv...), EndOfStream: eos}}}
}

func reqBody(body string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}}
}

func respHeaders(eos bool, kv ...string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{
		ResponseHeaders: &extprocv3.HttpHeaders{Headers: hdrs(kv...), EndOfStream: eos}}}
}

func respBody(body string, eos bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}}}
}

var fixedNow = time.Date(2026, 11, 28, 15, 30, 0, 0, time.UTC)
