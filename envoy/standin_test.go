package envoy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// requireNormalEnd: the sidecar sees io.EOF or codes.Canceled when Envoy closes.
func requireNormalEnd(t *testing.T, err error) {
	t.Helper()
	require.True(t, errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled, "stream ended with %v", err)
}

func TestPostSSEMessageOrderAndPlacement(t *testing.T) {
	h := newHarness(t, continueAll(), nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer prox-test"})
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.True(t, strings.HasSuffix(res.body, "data: [DONE]\n\n"), res.body)
	require.Equal(t, "envoy", res.header.Get("Server"))

	ps := h.nextStream()
	reqs := ps.requests()
	kinds := ps.kinds()
	require.GreaterOrEqual(t, len(kinds), 4)
	require.Equal(t, []string{"request_headers", "request_body", "response_headers"}, kinds[:3])
	for _, k := range kinds[3:] {
		require.Equal(t, "response_body", k)
	}

	rh := reqs[0].GetRequestHeaders()
	require.False(t, rh.GetEndOfStream())
	for _, hv := range rh.GetHeaders().GetHeaders() {
		require.Empty(t, hv.GetValue(), "header %s must use raw_value only", hv.GetKey())
		require.Equal(t, strings.ToLower(hv.GetKey()), hv.GetKey())
	}
	for key, want := range map[string]string{
		":path": "/openai/v1/chat/completions", ":method": "POST", ":scheme": "http",
		":authority": strings.TrimPrefix(h.front.URL, "http://"), "authorization": "Bearer prox-test",
		"content-length": itoa(len(streamBody)), "x-forwarded-proto": "http", "x-forwarded-for": "127.0.0.1",
	} {
		got, ok := headerValue(rh.GetHeaders(), key)
		require.True(t, ok, "missing %s", key)
		require.Equal(t, want, got, key)
	}
	_, ok := headerValue(rh.GetHeaders(), "x-request-id")
	require.True(t, ok)

	rb := reqs[1].GetRequestBody()
	require.True(t, rb.GetEndOfStream())
	require.Equal(t, streamBody, string(rb.GetBody())) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body

	resph := reqs[2].GetResponseHeaders()
	require.False(t, resph.GetEndOfStream())
	st, _ := headerValue(resph.GetHeaders(), ":status")
	require.Equal(t, "200", st)
	_, ok = headerValue(resph.GetHeaders(), "x-envoy-upstream-service-time")
	require.True(t, ok)

	for i, r := range reqs {
		require.NotNil(t, r.GetMetadataContext(), "metadata_context on message %d", i)
		require.Equal(t, i == 0, r.GetProtocolConfig() != nil, "protocol_config only on the first message (%d)", i)
		require.Equal(t, i == 0 || i == 2, r.GetAttributes() != nil, "attributes on the first message of each direction (%d)", i)
		if kind(r) == "response_body" {
			require.Equal(t, i == len(reqs)-1, r.GetResponseBody().GetEndOfStream(), "eos only on the last chunk (%d)", i)
		}
	}
	pc := reqs[0].GetProtocolConfig()
	require.Equal(t, extprocfilterv3.ProcessingMode_BUFFERED, pc.GetRequestBodyMode())
	require.Equal(t, extprocfilterv3.ProcessingMode_STREAMED, pc.GetResponseBodyMode())
	reqAttrs := reqs[0].GetAttributes()[attributesKey].GetFields()
	require.Equal(t, "/openai/v1/chat/completions", reqAttrs["request.path"].GetStringValue())
	require.Equal(t, "POST", reqAttrs["request.method"].GetStringValue())
	require.InDelta(t, 200, reqs[2].GetAttributes()[attributesKey].GetFields()["response.code"].GetNumberValue(), 0)

	require.Equal(t, res.body, string(responseBodies(reqs)), "the client gets exactly the chunks the sidecar saw")
	requireNormalEnd(t, ps.endErr())

	up := h.fake.Last()
	require.Equal(t, "/v1/chat/completions", up.Path, "prefix rewrite after ext_proc")
	require.Equal(t, streamBody, string(up.Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.Equal(t, "Bearer prox-test", up.Header.Get("Authorization"))

	s := h.si.Stats()
	require.Equal(t, int64(1), s.StreamsStarted)
	require.Equal(t, int64(len(reqs)), s.MessagesSent)
	require.Equal(t, int64(len(reqs)), s.MessagesReceived)
	require.Zero(t, s.SpuriousMessages)
}

func TestGetHasNoBodyMessageAndStreamedResponseDropsContentLength(t *testing.T) {
	h := newHarness(t, continueAll(), nil, nil)
	res := h.do(http.MethodGet, "/openai/v1/models", "", nil)
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, res.body, `"object":"list"`)
	require.Empty(t, res.header.Get("Content-Length"), "STREAMED removes content-length downstream")

	ps := h.nextStream()
	reqs := ps.requests()
	require.Equal(t, "request_headers", kind(reqs[0]))
	require.True(t, reqs[0].GetRequestHeaders().GetEndOfStream())
	require.NotContains(t, ps.kinds(), "request_body", "no body message for a GET, even in BUFFERED mode")
	require.Equal(t, "response_headers", kind(reqs[1]))
	cl, ok := headerValue(reqs[1].GetResponseHeaders().GetHeaders(), "content-length")
	require.True(t, ok, "the sidecar still sees content-length")
	require.Equal(t, len(res.body), mustAtoi(t, cl))
	last := reqs[len(reqs)-1]
	require.Equal(t, "response_body", kind(last))
	require.True(t, last.GetResponseBody().GetEndOfStream())
	require.Equal(t, res.body, string(responseBodies(reqs)))
	require.Equal(t, "/v1/models", h.fake.Last().Path)
}

func TestOutsideRouteIs404WithoutExtProc(t *testing.T) {
	h := newHarness(t, continueAll(), nil, nil)
	res := h.do(http.MethodGet, "/v1/models", "", nil)
	require.Equal(t, http.StatusNotFound, res.status)
	require.Empty(t, h.fake.Requests())
	h.noStream()
	require.Equal(t, int64(1), h.si.Stats().DirectResponses)
	require.Zero(t, h.si.Stats().StreamsStarted)
}

func TestRequestBodyOverLimitIs413(t *testing.T) {
	h := newHarness(t, continueAll(), func(o *Options) { o.RequestBodyLimit = 1024 }, nil)
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", big, nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	require.Equal(t, "Payload Too Large", res.body)
	require.Empty(t, h.fake.Requests(), "no upstream call")

	// The local reply goes through the encoder path, so the sidecar sees it.
	ps := h.nextStream()
	require.NotContains(t, ps.kinds(), "request_body")
	var sawStatus bool
	for _, r := range ps.requests() {
		if kind(r) == "response_headers" {
			v, _ := headerValue(r.GetResponseHeaders().GetHeaders(), ":status")
			sawStatus = v == "413"
		}
	}
	require.True(t, sawStatus)
}

func TestUpstreamDownIs503SeenBySidecar(t *testing.T) {
	h := newHarness(t, continueAll(), func(o *Options) { o.Upstream = "http://127.0.0.1:1" }, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	require.Contains(t, res.body, "upstream connect error or disconnect/reset before headers")
	ps := h.nextStream()
	require.Equal(t, []string{"request_headers", "request_body", "response_headers", "response_body"}, ps.kinds())
	v, _ := headerValue(ps.requests()[2].GetResponseHeaders().GetHeaders(), ":status")
	require.Equal(t, "503", v)
	require.Equal(t, int64(1), h.si.Stats().UpstreamFailures)
}

func TestBufferedRequestBodyMutationAndContentLength(t *testing.T) {
	newBody := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	cases := []struct {
		name       string
		headers    *extprocv3.HeaderMutation
		wantStatus int
	}{
		{"content-length left stale", nil, http.StatusInternalServerError},
		{"content-length removed", &extprocv3.HeaderMutation{RemoveHeaders: []string{"content-length"}}, http.StatusOK},
		{"content-length set to the new length", &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
			setHeader("content-length", itoa(len(newBody)), nil)}}, http.StatusOK},
		{"content-length set wrong", &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
			setHeader("content-length", "3", nil)}}, http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
				if kind(r) != "request_body" {
					return nil
				}
				return requestBodyReply(&extprocv3.CommonResponse{HeaderMutation: tc.headers,
					BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte(newBody)}}})
			}), nil, nil)
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
			require.Equal(t, tc.wantStatus, res.status, res.body)
			if tc.wantStatus != http.StatusOK {
				require.Empty(t, h.fake.Requests())
				require.Empty(t, res.body)
				return
			}
			up := h.fake.Last()
			require.Equal(t, newBody, string(up.Body))
			require.Contains(t, res.body, "data: [DONE]", "the mutated request asked for a stream")
		})
	}
}

func TestContinueAndReplaceInHeadersResponse(t *testing.T) {
	replacement := `{"model":"gpt-4o","messages":[{"role":"user","content":"replaced"}]}`
	h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) != "request_headers" {
			return nil
		}
		return requestHeadersReply(&extprocv3.CommonResponse{
			Status:       extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
			BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte(replacement)}},
		})
	}), nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, res.body, "gpt-4o-2024-08-06")
	require.Equal(t, replacement, string(h.fake.Last().Body))
	ps := h.nextStream()
	require.NotContains(t, ps.kinds(), "request_body", "no body message after CONTINUE_AND_REPLACE")
}

func TestModeOverride(t *testing.T) {
	cases := []struct {
		name      string
		override  *extprocfilterv3.ProcessingMode
		disallow  bool
		wantKinds []string
	}{
		{
			// Body modes are literal: unset means NONE, so nothing follows.
			name:      "response headers skipped, body modes unset",
			override:  &extprocfilterv3.ProcessingMode{ResponseHeaderMode: extprocfilterv3.ProcessingMode_SKIP},
			wantKinds: []string{"request_headers"},
		},
		{
			name: "body modes filled",
			override: &extprocfilterv3.ProcessingMode{RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
				ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE},
			wantKinds: []string{"request_headers", "request_body", "response_headers"},
		},
		{
			name:      "override not allowed",
			override:  &extprocfilterv3.ProcessingMode{ResponseHeaderMode: extprocfilterv3.ProcessingMode_SKIP},
			disallow:  true,
			wantKinds: []string{"request_headers", "request_body", "response_headers", "response_body"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
				if kind(r) != "request_headers" {
					return nil
				}
				resp := continueFor(r)
				resp.ModeOverride = tc.override
				return resp
			}), func(o *Options) { o.DisallowModeOverride = tc.disallow }, nil)
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
			require.Equal(t, http.StatusOK, res.status)
			require.Contains(t, res.body, "chat.completion")
			require.Equal(t, chatBody, string(h.fake.Last().Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
			ps := h.nextStream()
			kinds := ps.kinds()
			if len(tc.wantKinds) == 4 {
				kinds = kinds[:4] // any number of response_body chunks
			}
			require.Equal(t, tc.wantKinds, kinds)
			requireNormalEnd(t, ps.endErr())
		})
	}
}

// TestBufferedResponseViaModeOverride: a response_headers reply switches the
// response body to BUFFERED; the body reply's header mutation still applies.
func TestBufferedResponseViaModeOverride(t *testing.T) {
	h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		switch kind(r) {
		case "response_headers":
			resp := continueFor(r)
			resp.ModeOverride = &extprocfilterv3.ProcessingMode{RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED,
				ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
			return resp
		case "response_body":
			return responseBodyReply(&extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders: []*corev3.HeaderValueOption{setHeader("x-after-body", "1", nil)}}})
		}
		return nil
	}), nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, map[string]string{"x-fake-delay-ms": "5"})
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "1", res.header.Get("x-after-body"))
	ps := h.nextStream()
	var bodies []*extprocv3.ProcessingRequest
	for _, r := range ps.requests() {
		if kind(r) == "response_body" {
			bodies = append(bodies, r)
		}
	}
	require.Len(t, bodies, 1, "BUFFERED: the whole body in one message")
	require.True(t, bodies[0].GetResponseBody().GetEndOfStream())
	require.Equal(t, res.body, string(bodyOf(bodies[0])))
}

func TestConcurrentRequestsEachGetAStream(t *testing.T) {
	h := newHarness(t, continueAll(), nil, nil)
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
			switch {
			case res.err != nil:
				errs <- res.err
			case res.status != http.StatusOK || !strings.HasSuffix(res.body, "data: [DONE]\n\n"):
				errs <- errors.New(res.body)
			default:
				errs <- nil
			}
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	require.Equal(t, int64(n), h.si.Stats().StreamsStarted)
	require.Len(t, h.fake.Requests(), n)
}

// BenchmarkStreamedChatCompletion measures one POST with an SSE answer
// through the stand-in and a CONTINUE-everything sidecar.
func BenchmarkStreamedChatCompletion(b *testing.B) {
	h := newHarness(b, continueAll(), nil, nil)
	for b.Loop() {
		res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
		if res.err != nil || res.status != http.StatusOK {
			b.Fatalf("status %d err %v", res.status, res.err)
		}
	}
}
