package envoy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/proxide/proxide/envoy/fakeopenai"
)

// waitFor bounds every wait in the tests.
const waitFor = 5 * time.Second

// procServer is a scripted ext_proc server: every Process stream runs script.
type procServer struct {
	extprocv3.UnimplementedExternalProcessorServer
	script  func(ps *procStream) error
	streams chan *procStream
}

// procStream records one Process stream as the sidecar saw it.
type procStream struct {
	srv  extprocv3.ExternalProcessor_ProcessServer
	mu   sync.Mutex
	reqs []*extprocv3.ProcessingRequest
	end  error // what Recv returned last: io.EOF or a status error
	done chan struct{}
}

func (p *procServer) Process(srv extprocv3.ExternalProcessor_ProcessServer) error {
	ps := &procStream{srv: srv, done: make(chan struct{})}
	select {
	case p.streams <- ps: // tests read the first ones; benchmarks none
	default:
	}
	defer close(ps.done)
	err := p.script(ps)
	if err != nil && errors.Is(err, ps.endErr()) {
		// The stand-in ended the stream (EOF, cancel): for a scripted server
		// that is the normal end of the exchange, not a failure to report.
		return nil
	}
	return err
}

func (ps *procStream) recv() (*extprocv3.ProcessingRequest, error) {
	req, err := ps.srv.Recv()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err != nil {
		ps.end = err
		return nil, err
	}
	ps.reqs = append(ps.reqs, req)
	return req, nil
}

// send records a failed Send as the stream's end (the stand-in went away).
func (ps *procStream) send(resp *extprocv3.ProcessingResponse) error {
	err := ps.srv.Send(resp)
	if err != nil {
		ps.mu.Lock()
		if ps.end == nil {
			ps.end = err
		}
		ps.mu.Unlock()
	}
	return err
}

// drain records messages until the stream ends.
func (ps *procStream) drain() {
	for {
		if _, err := ps.recv(); err != nil {
			return
		}
	}
}

func (ps *procStream) requests() []*extprocv3.ProcessingRequest {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]*extprocv3.ProcessingRequest(nil), ps.reqs...)
}

func (ps *procStream) kinds() []string {
	var out []string
	for _, r := range ps.requests() {
		out = append(out, kind(r))
	}
	return out
}

func (ps *procStream) endErr() error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.end
}

func kind(r *extprocv3.ProcessingRequest) string {
	switch r.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return "request_headers"
	case *extprocv3.ProcessingRequest_RequestBody:
		return "request_body"
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return "response_headers"
	case *extprocv3.ProcessingRequest_ResponseBody:
		return "response_body"
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return "request_trailers"
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return "response_trailers"
	}
	return "other"
}

// continueFor is the empty reply matching a request (CONTINUE, no changes).
func continueFor(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	switch r.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
	case *extprocv3.ProcessingRequest_RequestBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	}
	return &extprocv3.ProcessingResponse{}
}

// replyWith answers every message with reply(req) (nil = continueFor).
func replyWith(reply func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse) func(*procStream) error {
	return func(ps *procStream) error {
		for {
			req, err := ps.recv()
			if err != nil {
				return err
			}
			resp := reply(req)
			if resp == nil {
				resp = continueFor(req)
			}
			if err := ps.send(resp); err != nil {
				return err
			}
		}
	}
}

func continueAll() func(*procStream) error {
	return replyWith(func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse { return nil })
}

type harness struct {
	t     testing.TB
	proc  *procServer
	fake  *fakeopenai.Server
	si    *StandIn
	front *httptest.Server
}

// newHarness starts the scripted ext_proc server, the upstream (fakeopenai
// unless given), the stand-in and a front HTTP server.
func newHarness(t testing.TB, script func(*procStream) error, opt func(*Options), upstream http.Handler) *harness {
	t.Helper()
	lis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &harness{t: t, proc: &procServer{script: script, streams: make(chan *procStream, 64)}}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, h.proc)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	if upstream == nil {
		h.fake = fakeopenai.New()
		upstream = h.fake
	}
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	opts := Options{ExtProcAddr: lis.Addr().String(), Upstream: up.URL}
	if opt != nil {
		opt(&opts)
	}
	h.si, err = New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.si.Close() })
	h.front = httptest.NewServer(h.si)
	t.Cleanup(h.front.Close)
	return h
}

// nextStream returns the next Process stream once the sidecar side ended.
func (h *harness) nextStream() *procStream {
	h.t.Helper()
	select {
	case ps := <-h.proc.streams:
		select {
		case <-ps.done:
		case <-time.After(waitFor):
			h.t.Fatal("ext_proc stream did not end")
		}
		return ps
	case <-time.After(waitFor):
		h.t.Fatal("no ext_proc stream was opened")
	}
	return nil
}

// noStream checks that no Process stream was opened.
func (h *harness) noStream() {
	h.t.Helper()
	select {
	case <-h.proc.streams:
		h.t.Fatal("an ext_proc stream was opened")
	default:
	}
}

type result struct {
	status int
	header http.Header
	body   string
	err    error // reading the body failed (a reset)
}

func (h *harness) do(method, path, body string, hdr map[string]string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.front.URL+path, rd)
	require.NoError(h.t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.front.Client().Do(req)
	if err != nil {
		return result{err: err}
	}
	b, err := io.ReadAll(resp.Body)
	err = errors.Join(err, resp.Body.Close())
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`

const streamBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`

func headerValue(hm *corev3.HeaderMap, key string) (string, bool) {
	for _, hv := range hm.GetHeaders() {
		if hv.GetKey() == key {
			return string(hv.GetRawValue()), true
		}
	}
	return "", false
}

// setHeader is a raw_value set mutation; appendValue nil leaves append unset.
func setHeader(key, value string, appendValue *bool) *corev3.HeaderValueOption {
	o := &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: key, RawValue: []byte(value)}}
	if appendValue != nil {
		o.Append = wrapperspb.Bool(*appendValue) //nolint:staticcheck // SA1019: the field Envoy reads (see mutation.go), so the tests set it
	}
	return o
}

func requestHeadersReply(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: common}}}
}

func requestBodyReply(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: common}}}
}

func responseBodyReply(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: common}}}
}

func bodyOf(r *extprocv3.ProcessingRequest) []byte {
	switch v := r.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestBody:
		return v.RequestBody.GetBody()
	case *extprocv3.ProcessingRequest_ResponseBody:
		return v.ResponseBody.GetBody()
	}
	return nil
}

// responseBodies concatenates the response_body chunks the sidecar saw.
func responseBodies(reqs []*extprocv3.ProcessingRequest) []byte {
	var b bytes.Buffer
	for _, r := range reqs {
		if kind(r) == "response_body" {
			b.Write(bodyOf(r))
		}
	}
	return b.Bytes()
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func timeoutC() <-chan time.Time { return time.After(waitFor) }
