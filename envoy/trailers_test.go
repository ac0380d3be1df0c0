package envoy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

// trailerUpstream records what it received and answers with a chunked body
// and, when respTrailers is set, trailers.
type trailerUpstream struct {
	respChunks   []string
	respTrailers map[string]string

	mu       sync.Mutex
	body     string
	trailers http.Header
	header   http.Header
	calls    int
}

func (u *trailerUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body) // r.Trailer is filled at EOF
	u.mu.Lock()
	u.body, u.trailers, u.header = string(b), r.Trailer.Clone(), r.Header.Clone()
	u.calls++
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for _, c := range u.respChunks {
		_, _ = io.WriteString(w, c)
		_ = http.NewResponseController(w).Flush() // a failed flush shows in what the client reads
	}
	for k, v := range u.respTrailers {
		w.Header().Set(http.TrailerPrefix+k, v)
	}
}

func (u *trailerUpstream) got() (string, http.Header, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.body, u.trailers, u.calls
}

// noLength hides a body's length from Go's client: chunked encoding, which
// is what carries HTTP/1.1 trailers.
type noLength struct{ io.Reader }

// readResponse is a response whose body was read to the end and closed, so
// its trailers are filled in.
type readResponse struct {
	ProtoMajor int
	StatusCode int
	Trailer    http.Header
}

// postWithTrailers sends body chunked with the given trailers and returns
// the response with its body read.
func postWithTrailers(t *testing.T, client *http.Client, url, body string, trailers map[string]string) (readResponse, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/openai/v1/chat/completions", noLength{strings.NewReader(body)})
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("content-type", "application/json")
	req.Trailer = http.Header{}
	for k, v := range trailers {
		req.Trailer.Set(k, v)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return readResponse{ProtoMajor: resp.ProtoMajor, StatusCode: resp.StatusCode, Trailer: resp.Trailer}, string(b)
}

func withTrailers(mode *extprocfilterv3.ProcessingMode) func(*Options) {
	return func(o *Options) {
		o.DownstreamHTTP1Trailers = true
		o.UpstreamHTTP1Trailers = true
		o.ProcessingMode = mode
	}
}

func modeWith(reqBody, respBody extprocfilterv3.ProcessingMode_BodySendMode, reqTrailers, respTrailers extprocfilterv3.ProcessingMode_HeaderSendMode) *extprocfilterv3.ProcessingMode {
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode: extprocfilterv3.ProcessingMode_SEND, RequestBodyMode: reqBody, RequestTrailerMode: reqTrailers,
		ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND, ResponseBodyMode: respBody, ResponseTrailerMode: respTrailers,
	}
}

func trailerValue(r *extprocv3.ProcessingRequest, key string) (string, bool) {
	if rt := r.GetRequestTrailers(); rt != nil {
		return headerValue(rt.GetTrailers(), key)
	}
	return headerValue(r.GetResponseTrailers().GetTrailers(), key)
}

func ofKind(reqs []*extprocv3.ProcessingRequest, k string) []*extprocv3.ProcessingRequest {
	var out []*extprocv3.ProcessingRequest
	for _, r := range reqs {
		if kind(r) == k {
			out = append(out, r)
		}
	}
	return out
}

// TestTrailersBufferedRequestSkip: a BUFFERED request body followed by
// trailers reaches the processor as ONE request_body with
// end_of_stream=false, no request_trailers follows under SKIP, and the
// upstream gets body and trailers.
func TestTrailersBufferedRequestSkip(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n"}}
	h := newHarness(t, continueAll(), withTrailers(nil), up)
	resp, _ := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, map[string]string{"X-Checksum": "abc"})
	require.Equal(t, http.StatusOK, resp.StatusCode)

	reqs := h.nextStream().requests()
	require.Equal(t, "request_headers", kind(reqs[0]))
	declared, _ := headerValue(reqs[0].GetRequestHeaders().GetHeaders(), "trailer")
	require.Equal(t, "x-checksum", declared, "ext_proc sees the trailer declaration")
	bodies := ofKind(reqs, "request_body")
	require.Len(t, bodies, 1, "one BUFFERED message")
	require.Equal(t, chatBody, string(bodyOf(bodies[0]))) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.False(t, bodies[0].GetRequestBody().GetEndOfStream(), "trailers follow: end_of_stream=false even in BUFFERED mode")
	require.Empty(t, ofKind(reqs, "request_trailers"), "trailer mode SKIP")

	body, tr, _ := up.got()
	require.Equal(t, chatBody, body) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.Equal(t, "abc", tr.Get("X-Checksum"), "the upstream receives the trailers")
}

// TestTrailersBufferedRequestSend: under SEND the trailers follow the body
// as request_trailers, and the reply's header_mutation reaches the upstream.
func TestTrailersBufferedRequestSend(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n"}}
	script := replyWith(func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(req) != "request_trailers" {
			return nil
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{
			HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders:    []*corev3.HeaderValueOption{setHeader("x-checksum", "def", nil), setHeader("x-added", "1", nil)},
				RemoveHeaders: []string{"x-secret"},
			}}}}
	})
	mode := modeWith(extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_SKIP)
	h := newHarness(t, script, withTrailers(mode), up)
	resp, _ := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, map[string]string{"X-Checksum": "abc", "X-Secret": "s"})
	require.Equal(t, http.StatusOK, resp.StatusCode)

	reqs := h.nextStream().requests()
	kinds := h.kindsOf(reqs)
	require.Equal(t, []string{"request_headers", "request_body", "request_trailers", "response_headers"}, kinds[:4])
	require.False(t, reqs[1].GetRequestBody().GetEndOfStream())
	v, ok := trailerValue(reqs[2], "x-checksum")
	require.True(t, ok)
	require.Equal(t, "abc", v)
	require.Nil(t, reqs[2].GetProtocolConfig(), "protocol_config only on the first message")
	require.Empty(t, ofKind(reqs, "response_trailers"))

	_, tr, _ := up.got()
	require.Equal(t, "def", tr.Get("X-Checksum"), "the TrailersResponse mutation applies")
	require.Equal(t, "1", tr.Get("X-Added"))
	require.Empty(t, tr.Get("X-Secret"))
}

// TestTrailersRequestEveryBodyMode: whatever the body mode, no body message
// claims end_of_stream when trailers follow; under SEND request_trailers is
// the last request-direction message; the upstream gets body and trailers.
func TestTrailersRequestEveryBodyMode(t *testing.T) {
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("z", 100<<10) + `"}]}`
	for _, bm := range []extprocfilterv3.ProcessingMode_BodySendMode{
		extprocfilterv3.ProcessingMode_NONE, extprocfilterv3.ProcessingMode_STREAMED,
		extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL,
	} {
		for _, tm := range []extprocfilterv3.ProcessingMode_HeaderSendMode{extprocfilterv3.ProcessingMode_SKIP, extprocfilterv3.ProcessingMode_SEND} {
			t.Run(bm.String()+"/"+tm.String(), func(t *testing.T) {
				up := &trailerUpstream{respChunks: []string{"ok"}}
				h := newHarness(t, continueAll(), func(o *Options) {
					withTrailers(modeWith(bm, extprocfilterv3.ProcessingMode_NONE, tm, extprocfilterv3.ProcessingMode_SKIP))(o)
					o.RequestBodyLimit = 16 << 10 // BUFFERED_PARTIAL sends early; BUFFERED needs more
					if bm == extprocfilterv3.ProcessingMode_BUFFERED {
						o.RequestBodyLimit = 1 << 20
					}
				}, up)
				resp, _ := postWithTrailers(t, h.front.Client(), h.front.URL, big, map[string]string{"X-Checksum": "abc"})
				require.Equal(t, http.StatusOK, resp.StatusCode)
				body, tr, _ := up.got()
				require.Equal(t, big, body)
				require.Equal(t, "abc", tr.Get("X-Checksum"))

				var reqDir []string
				for _, r := range h.nextStream().requests() {
					require.False(t, r.GetRequestBody().GetEndOfStream(), "no request_body has end_of_stream")
					if k := kind(r); strings.HasPrefix(k, "request_") {
						reqDir = append(reqDir, k)
					}
				}
				if tm == extprocfilterv3.ProcessingMode_SEND {
					require.Equal(t, "request_trailers", reqDir[len(reqDir)-1])
				} else {
					require.NotContains(t, reqDir, "request_trailers")
				}
				if bm == extprocfilterv3.ProcessingMode_BUFFERED {
					require.Len(t, reqDir, 2+map[bool]int{true: 1}[tm == extprocfilterv3.ProcessingMode_SEND], "%v", reqDir)
				}
			})
		}
	}
}

// TestTrailersStreamedResponseSkip: response trailers under STREAMED: the
// last response_body has end_of_stream=false, nothing follows under SKIP,
// and the client gets the trailers.
func TestTrailersStreamedResponseSkip(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n", "data: 2\n\n"}, respTrailers: map[string]string{"X-Usage": "42"}}
	h := newHarness(t, continueAll(), withTrailers(nil), up)
	resp, body := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "data: 1\n\ndata: 2\n\n", body)
	require.Equal(t, "42", resp.Trailer.Get("X-Usage"), "trailers reach the client")

	reqs := h.nextStream().requests()
	bodies := ofKind(reqs, "response_body")
	require.NotEmpty(t, bodies)
	for _, b := range bodies {
		require.False(t, b.GetResponseBody().GetEndOfStream(), "trailers follow: no chunk has end_of_stream")
	}
	require.Equal(t, "response_body", kind(reqs[len(reqs)-1]), "nothing follows the last chunk under SKIP")
	require.Equal(t, "data: 1\n\ndata: 2\n\n", string(responseBodies(reqs)))
}

// TestTrailersStreamedResponseSend: under SEND response_trailers follows the
// last chunk, its reply mutates what the client gets, and it is the
// stream's last message (close optimisation).
func TestTrailersStreamedResponseSend(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n", "data: 2\n\n"}, respTrailers: map[string]string{"X-Usage": "42"}}
	script := replyWith(func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(req) != "response_trailers" {
			return nil
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{
			HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("x-usage", "43", nil), setHeader("x-cost", "0.01", nil)}}}}}
	})
	mode := modeWith(extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_SKIP, extprocfilterv3.ProcessingMode_SEND)
	h := newHarness(t, script, withTrailers(mode), up)
	resp, body := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "data: 1\n\ndata: 2\n\n", body)
	require.Equal(t, "43", resp.Trailer.Get("X-Usage"))
	require.Equal(t, "0.01", resp.Trailer.Get("X-Cost"))

	ps := h.nextStream()
	reqs := ps.requests()
	last := reqs[len(reqs)-1]
	require.Equal(t, "response_trailers", kind(last))
	v, _ := trailerValue(last, "x-usage")
	require.Equal(t, "42", v)
	for _, b := range ofKind(reqs, "response_body") {
		require.False(t, b.GetResponseBody().GetEndOfStream())
	}
	require.Error(t, ps.endErr(), "the stand-in closed the stream after the trailers reply")
	require.EqualValues(t, 1, h.si.Stats().StreamsClosed)
}

// TestTrailersDroppedByHTTP1Codec: without enable_trailers Envoy's HTTP/1
// codec drops trailers both ways: ext_proc sees plain end_of_stream bodies
// and neither the upstream nor the client gets trailers.
func TestTrailersDroppedByHTTP1Codec(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n"}, respTrailers: map[string]string{"X-Usage": "42"}}
	mode := modeWith(extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_SEND)
	h := newHarness(t, continueAll(), func(o *Options) { o.ProcessingMode = mode }, up)
	resp, body := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, map[string]string{"X-Checksum": "abc"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "data: 1\n\n", body)
	require.Empty(t, resp.Trailer.Get("X-Usage"))
	_, tr, _ := up.got()
	require.Empty(t, tr.Get("X-Checksum"))

	reqs := h.nextStream().requests()
	require.Empty(t, ofKind(reqs, "request_trailers"))
	require.Empty(t, ofKind(reqs, "response_trailers"))
	require.True(t, ofKind(reqs, "request_body")[0].GetRequestBody().GetEndOfStream())
	rb := ofKind(reqs, "response_body")
	require.True(t, rb[len(rb)-1].GetResponseBody().GetEndOfStream())
}

// TestTrailersHTTP2Client: an HTTP/2 client's trailers reach ext_proc with
// no HTTP/1 setting (Envoy's HTTP/2 codec always passes them), and the
// response trailers come back over HTTP/2.
func TestTrailersHTTP2Client(t *testing.T) {
	up := &trailerUpstream{respChunks: []string{"data: 1\n\n"}, respTrailers: map[string]string{"X-Usage": "42"}}
	h := newHarness(t, continueAll(), func(o *Options) { o.UpstreamHTTP1Trailers = true }, up)
	front := httptest.NewUnstartedServer(h.si)
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)
	client := front.Client()
	client.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"h2"}
	resp, _ := postWithTrailers(t, client, front.URL, chatBody, map[string]string{"X-Checksum": "abc"})
	require.Equal(t, 2, resp.ProtoMajor)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "42", resp.Trailer.Get("X-Usage"))

	_, tr, _ := up.got()
	require.Equal(t, "abc", tr.Get("X-Checksum"))
	reqs := h.nextStream().requests()
	bodies := ofKind(reqs, "request_body")
	require.Len(t, bodies, 1)
	require.False(t, bodies[0].GetRequestBody().GetEndOfStream())
}

// TestTrailersSpuriousResponse: a TrailersResponse nobody asked for is
// spurious: 500 when failing closed.
func TestTrailersSpuriousResponse(t *testing.T) {
	up := &trailerUpstream{}
	script := replyWith(func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	})
	h := newHarness(t, script, withTrailers(nil), up)
	resp, _ := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, map[string]string{"X-Checksum": "abc"})
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.EqualValues(t, 1, h.si.Stats().SpuriousMessages)
	_, _, calls := up.got()
	require.Zero(t, calls)
}

// TestTrailersMessageTimeout: the trailers message is timed like any other:
// no reply gives 504 and nothing goes upstream.
func TestTrailersMessageTimeout(t *testing.T) {
	up := &trailerUpstream{}
	script := func(ps *procStream) error {
		for {
			req, err := ps.recv()
			if err != nil {
				return err
			}
			if kind(req) == "request_trailers" {
				continue // never answered
			}
			if err := ps.send(continueFor(req)); err != nil {
				return err
			}
		}
	}
	mode := modeWith(extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_SEND, extprocfilterv3.ProcessingMode_SKIP)
	h := newHarness(t, script, func(o *Options) {
		withTrailers(mode)(o)
		o.MessageTimeout = 100 * time.Millisecond
	}, up)
	resp, _ := postWithTrailers(t, h.front.Client(), h.front.URL, chatBody, map[string]string{"X-Checksum": "abc"})
	require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
	require.EqualValues(t, 1, h.si.Stats().MessageTimeouts)
	_, _, calls := up.got()
	require.Zero(t, calls)
}

func (h *harness) kindsOf(reqs []*extprocv3.ProcessingRequest) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, kind(r))
	}
	return out
}

// TestTrailersBufferedRequestArrivalOrder pins both of Envoy's paths for a
// BUFFERED body followed by trailers: the trailers arrive while the header
// reply is pending (handleHeadersResponse sends the body), or after it
// (onTrailers sends it). Either way: one request_body, end_of_stream=false,
// then request_trailers under SEND only.
func TestTrailersBufferedRequestArrivalOrder(t *testing.T) {
	const settle = 100 * time.Millisecond
	for _, before := range []bool{true, false} {
		for _, tm := range []extprocfilterv3.ProcessingMode_HeaderSendMode{extprocfilterv3.ProcessingMode_SKIP, extprocfilterv3.ProcessingMode_SEND} {
			name := "after the header reply/" + tm.String()
			if before {
				name = "before the header reply/" + tm.String()
			}
			t.Run(name, func(t *testing.T) {
				gate := make(chan struct{})
				script := func(ps *procStream) error {
					for {
						req, err := ps.recv()
						if err != nil {
							return err
						}
						if kind(req) == "request_headers" && before {
							time.Sleep(settle) // the whole body and its trailers arrive meanwhile
						}
						if err := ps.send(continueFor(req)); err != nil {
							return err
						}
						if kind(req) == "request_headers" && !before {
							time.AfterFunc(settle, func() { close(gate) }) // the rest comes after the reply
						}
					}
				}
				if before {
					close(gate)
				}
				up := &trailerUpstream{respChunks: []string{"ok"}}
				h := newHarness(t, script, withTrailers(modeWith(extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_NONE, tm, extprocfilterv3.ProcessingMode_SKIP)), up)

				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				head, tail := chatBody[:10], chatBody[10:]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.front.URL+"/openai/v1/chat/completions",
					&gatedBody{head: []byte(head), tail: []byte(tail), gate: gate})
				require.NoError(t, err)
				req.ContentLength = -1
				req.Trailer = http.Header{"X-Checksum": {"abc"}}
				resp, err := h.front.Client().Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)

				reqs := h.nextStream().requests()
				bodies := ofKind(reqs, "request_body")
				require.Len(t, bodies, 1)
				require.Equal(t, chatBody, string(bodyOf(bodies[0]))) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
				require.False(t, bodies[0].GetRequestBody().GetEndOfStream())
				require.Len(t, ofKind(reqs, "request_trailers"), map[bool]int{true: 1}[tm == extprocfilterv3.ProcessingMode_SEND])
				body, tr, _ := up.got()
				require.Equal(t, chatBody, body) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
				require.Equal(t, "abc", tr.Get("X-Checksum"))
			})
		}
	}
}
