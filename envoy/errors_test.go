package envoy

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const budgetBody = `{"error":{"type":"budget_exceeded"}}`

func immediate402() *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_PaymentRequired},
			Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
				setHeader("content-type", "application/json", nil), setHeader("retry-after", "60", nil),
			}},
			Body:    []byte(budgetBody),
			Details: "budget exceeded",
		}}}
}

func TestImmediateResponseBeforeResponseHeadersIsALocalReply(t *testing.T) {
	for _, phase := range []string{"request_headers", "request_body", "response_headers"} {
		t.Run(phase, func(t *testing.T) {
			h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
				if kind(r) == phase {
					return immediate402()
				}
				return nil
			}), nil, nil)
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
			require.NoError(t, res.err)
			require.Equal(t, http.StatusPaymentRequired, res.status)
			require.Equal(t, budgetBody, res.body) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
			require.Equal(t, "application/json", res.header.Get("Content-Type"), "kept because the body is not empty")
			require.Equal(t, "60", res.header.Get("Retry-After"))
			ps := h.nextStream()
			kinds := ps.kinds()
			require.Equal(t, phase, kinds[len(kinds)-1], "nothing is sent after an immediate response")
			requireNormalEnd(t, ps.endErr())
			if phase == "response_headers" {
				require.Len(t, h.fake.Requests(), 1)
			} else {
				require.Empty(t, h.fake.Requests())
			}
			require.Equal(t, int64(1), h.si.Stats().ImmediateResponses)
		})
	}
}

func TestImmediateResponseDefaults(t *testing.T) {
	h := newHarness(t, replyWith(func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
			ImmediateResponse: &extprocv3.ImmediateResponse{Headers: &extprocv3.HeaderMutation{
				SetHeaders: []*corev3.HeaderValueOption{setHeader("content-type", "application/json", nil)}}},
		}}
	}), nil, nil)
	res := h.do(http.MethodGet, "/openai/v1/models", "", nil)
	require.Equal(t, http.StatusOK, res.status, "a missing status becomes 200")
	require.Empty(t, res.body)
	require.Empty(t, res.header.Get("Content-Type"), "an empty body drops content-type")
}

// blockingSSE writes the headers and one event, then holds the stream open
// until the request goes away: response headers are out, the body is not done.
func blockingSSE() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("data: {\"first\":true}\n\n"))
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
}

func TestImmediateResponseAfterResponseHeadersResetsTheStream(t *testing.T) {
	h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) == "response_body" {
			return immediate402()
		}
		return nil
	}), nil, blockingSSE())
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
	require.Equal(t, http.StatusOK, res.status, "the headers were already downstream")
	require.Error(t, res.err, "the client sees the stream reset")
	require.Equal(t, int64(1), h.si.Stats().DownstreamResets)
}

func TestSpuriousReplies(t *testing.T) {
	wrongKind := func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) == "request_headers" {
			return responseBodyReply(nil)
		}
		return nil
	}
	empty := func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) == "request_body" {
			return &extprocv3.ProcessingResponse{}
		}
		return nil
	}
	cases := []struct {
		name     string
		reply    func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse
		failOpen bool
		want     int
	}{
		{"wrong oneof, fail closed", wrongKind, false, http.StatusInternalServerError},
		{"wrong oneof, fail open", wrongKind, true, http.StatusOK},
		{"empty response, fail closed", empty, false, http.StatusInternalServerError},
		{"empty response, fail open", empty, true, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, replyWith(tc.reply), func(o *Options) { o.FailureModeAllow = tc.failOpen }, nil)
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
			require.Equal(t, tc.want, res.status)
			require.Equal(t, int64(1), h.si.Stats().SpuriousMessages)
			if tc.failOpen {
				require.Equal(t, chatBody, string(h.fake.Last().Body), "continues unprocessed") //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
				require.Contains(t, res.body, "chat.completion")
			} else {
				require.Empty(t, h.fake.Requests())
			}
		})
	}
}

func TestGRPCErrorFailClosedAndOpen(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		h := newHarness(t, func(ps *procStream) error {
			if _, err := ps.recv(); err != nil {
				return err
			}
			return status.Error(codes.Internal, "boom")
		}, func(o *Options) { o.FailureModeAllow = failOpen }, nil)
		res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
		if failOpen {
			require.Equal(t, http.StatusOK, res.status)
			require.Equal(t, chatBody, string(h.fake.Last().Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
			require.Equal(t, int64(1), h.si.Stats().FailureModeAllowed)
		} else {
			require.Equal(t, http.StatusInternalServerError, res.status)
			require.Empty(t, h.fake.Requests())
		}
		require.Equal(t, int64(1), h.si.Stats().StreamsFailed)
	}
}

func TestSidecarUnreachable(t *testing.T) {
	lis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := lis.Addr().String()
	require.NoError(t, lis.Close())
	for _, failOpen := range []bool{false, true} {
		h := newHarness(t, continueAll(), func(o *Options) {
			o.ExtProcAddr = dead
			o.FailureModeAllow = failOpen
		}, nil)
		res := h.do(http.MethodGet, "/openai/v1/models", "", nil)
		if failOpen {
			require.Equal(t, http.StatusOK, res.status)
		} else {
			require.Equal(t, http.StatusInternalServerError, res.status)
		}
	}
}

// TestSidecarOKCloseContinuesUnprocessed: returning OK ends ext_proc for the request.
func TestSidecarOKCloseContinuesUnprocessed(t *testing.T) {
	h := newHarness(t, func(ps *procStream) error {
		_, _ = ps.recv()
		return nil
	}, nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, res.body, "data: [DONE]")
	require.Equal(t, streamBody, string(h.fake.Last().Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.Equal(t, []string{"request_headers"}, h.nextStream().kinds())
	require.Equal(t, int64(1), h.si.Stats().StreamsStarted)
}

// silent never answers: it records messages until the stream ends.
func silent(ps *procStream) error {
	ps.drain()
	return nil
}

func TestMessageTimeout(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		h := newHarness(t, silent, func(o *Options) {
			o.MessageTimeout = 50 * time.Millisecond
			o.FailureModeAllow = failOpen
		}, nil)
		res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
		if failOpen {
			require.Equal(t, http.StatusOK, res.status)
			require.Equal(t, chatBody, string(h.fake.Last().Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
		} else {
			require.Equal(t, http.StatusGatewayTimeout, res.status, "504 whatever status_on_error says")
			require.Empty(t, h.fake.Requests())
		}
		require.Equal(t, int64(1), h.si.Stats().MessageTimeouts)
		requireNormalEnd(t, h.nextStream().endErr())
	}
}

func TestOverrideMessageTimeout(t *testing.T) {
	cases := []struct {
		name     string
		override time.Duration
		want     int
		received int64
	}{
		{"within max_message_timeout", 2 * time.Second, http.StatusOK, 1},
		{"above max_message_timeout", time.Minute, http.StatusGatewayTimeout, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(ps *procStream) error {
				for {
					req, err := ps.recv()
					if err != nil {
						return err
					}
					if kind(req) == "request_headers" {
						_ = ps.send(&extprocv3.ProcessingResponse{OverrideMessageTimeout: durationpb.New(tc.override)})
						// Outlive the original timer; the fake sleeps, no assertion is timed.
						select {
						case <-time.After(300 * time.Millisecond):
						case <-ps.srv.Context().Done():
							return nil
						}
					}
					_ = ps.send(continueFor(req))
				}
			}, func(o *Options) {
				o.MessageTimeout = 100 * time.Millisecond
				o.MaxMessageTimeout = 10 * time.Second
			}, nil)
			res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
			require.Equal(t, tc.want, res.status)
			require.Equal(t, tc.received, h.si.Stats().OverrideTimeoutsReceived)
		})
	}
}

func TestNewValidatesOptions(t *testing.T) {
	_, err := New(Options{})
	require.Error(t, err)
	_, err = New(Options{ExtProcAddr: "127.0.0.1:1", Upstream: "not a url"})
	require.Error(t, err)
	_, err = New(Options{ExtProcAddr: "127.0.0.1:1", Upstream: "http://127.0.0.1:2", StatusOnError: 42})
	require.Error(t, err)
	_, err = New(Options{ExtProcAddr: "127.0.0.1:1", Upstream: "http://127.0.0.1:2",
		ProcessingMode: &extprocfilterv3.ProcessingMode{ResponseBodyMode: 4}})
	require.ErrorIs(t, err, errUnsupportedMode)
	si, err := New(Options{ExtProcAddr: "127.0.0.1:1", Upstream: "http://127.0.0.1:2"})
	require.NoError(t, err)
	require.NoError(t, si.Close())
}
