package envoy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

// gatedBody yields head, then waits for gate before yielding tail, so part of
// the body arrives only after the sidecar answered the request headers.
type gatedBody struct {
	head, tail []byte
	gate       <-chan struct{}
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if len(g.head) > 0 {
		n := copy(p, g.head)
		g.head = g.head[n:]
		return n, nil
	}
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-timeoutC():
			return 0, io.ErrUnexpectedEOF
		}
		g.gate = nil
	}
	if len(g.tail) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.tail)
	g.tail = g.tail[n:]
	return n, nil
}

// openOnFirstRequestBody answers everything and closes gate when the first
// request_body message arrives: the proxy then has sent part of the body
// without end_of_stream and is waiting for the rest.
func openOnFirstRequestBody(gate chan struct{}) func(*procStream) error {
	return func(ps *procStream) error {
		opened := false
		for {
			req, err := ps.recv()
			if err != nil {
				return err
			}
			if kind(req) == "request_body" && !opened {
				opened = true
				close(gate)
			}
			if err := ps.send(continueFor(req)); err != nil {
				return err
			}
		}
	}
}

func postGated(t *testing.T, h *harness, head, tail string, gate chan struct{}, contentLength bool) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	body := &gatedBody{head: []byte(head), tail: []byte(tail), gate: gate}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.front.URL+"/openai/v1/chat/completions", body)
	require.NoError(t, err)
	if contentLength {
		req.ContentLength = int64(len(head) + len(tail))
	}
	resp, err := h.front.Client().Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	err = errors.Join(err, resp.Body.Close())
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func chatBodyOfSize(n int) (head, tail string) {
	full := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("y", n) + `"}]}`
	return full[:len(full)/3], full[len(full)/3:]
}

// TestStreamedRequestBody streams the upload to the upstream chunk by chunk
// (content-length removed, so the upstream sees chunked encoding).
func TestStreamedRequestBody(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, openOnFirstRequestBody(gate), func(o *Options) {
		o.ProcessingMode = &extprocfilterv3.ProcessingMode{RequestBodyMode: extprocfilterv3.ProcessingMode_STREAMED,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED}
	}, nil)
	head, tail := chatBodyOfSize(100 << 10)
	res := postGated(t, h, head, tail, gate, true)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, res.body)
	up := h.fake.Last()
	require.Equal(t, head+tail, string(up.Body))
	require.Empty(t, up.Header.Get("Content-Length"), "STREAMED strips content-length")

	var got bytes.Buffer
	var bodies []*extprocv3.ProcessingRequest
	for _, r := range h.nextStream().requests() {
		if kind(r) == "request_body" {
			got.Write(bodyOf(r))
			bodies = append(bodies, r)
		}
	}
	require.Equal(t, head+tail, got.String())
	require.Greater(t, len(bodies), 1, "several request chunks")
	require.True(t, bodies[len(bodies)-1].GetRequestBody().GetEndOfStream())
}

// TestBufferedPartialRequestBody sends the first limit's worth of body, then
// lets the rest through unprocessed.
func TestBufferedPartialRequestBody(t *testing.T) {
	gate := make(chan struct{})
	h := newHarness(t, openOnFirstRequestBody(gate), func(o *Options) {
		o.RequestBodyLimit = 16 << 10
		o.ProcessingMode = &extprocfilterv3.ProcessingMode{RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE}
	}, nil)
	head, tail := chatBodyOfSize(200 << 10)
	res := postGated(t, h, head, tail, gate, false)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status, res.body)
	require.Equal(t, head+tail, string(h.fake.Last().Body))
	var bodies []*extprocv3.ProcessingRequest
	for _, r := range h.nextStream().requests() {
		if kind(r) == "request_body" {
			bodies = append(bodies, r)
		}
	}
	require.Len(t, bodies, 1, "one partial message")
	require.False(t, bodies[0].GetRequestBody().GetEndOfStream())
	require.Greater(t, len(bodyOf(bodies[0])), 16<<10)
	require.True(t, strings.HasPrefix(head+tail, string(bodyOf(bodies[0]))))
}

func TestBufferedResponseOverLimitIs500(t *testing.T) {
	h := newHarness(t, continueAll(), func(o *Options) {
		o.ResponseBodyLimit = 200
		o.ProcessingMode = &extprocfilterv3.ProcessingMode{RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
	}, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
	require.Equal(t, http.StatusInternalServerError, res.status)
	require.Equal(t, "Internal Server Error", res.body)
}
