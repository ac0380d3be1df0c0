package envoy

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// halves splits every upstream read in two, so one read makes two messages.
func halves(b []byte) [][]byte {
	if len(b) < 2 {
		return [][]byte{b}
	}
	return [][]byte{b[:len(b)/2], b[len(b)/2:]}
}

// TestResponseChunksArePipelined: the sidecar receives chunk 2 before it
// answers chunk 1; a non-pipelining proxy would deadlock here (and fail on
// the message timeout).
func TestResponseChunksArePipelined(t *testing.T) {
	gate := make(chan struct{})
	var sawSecondFirst atomic.Bool
	h := newHarness(t, func(ps *procStream) error {
		for {
			req, err := ps.recv()
			if err != nil {
				return err
			}
			if kind(req) != "response_body" || sawSecondFirst.Load() {
				if err := ps.send(continueFor(req)); err != nil {
					return err
				}
				continue
			}
			close(gate)              // let the upstream send the rest
			second, err := ps.recv() // and wait for it before answering chunk 1
			if err != nil {
				return err
			}
			sawSecondFirst.Store(kind(second) == "response_body")
			if err := ps.send(continueFor(req)); err != nil {
				return err
			}
			if err := ps.send(continueFor(second)); err != nil {
				return err
			}
		}
	}, nil, gatedSSE(gate))
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
	require.NoError(t, res.err)
	require.True(t, sawSecondFirst.Load())
	require.Equal(t, "data: 1\n\ndata: 2\n\ndata: [DONE]\n\n", res.body)
	require.Zero(t, h.si.Stats().MessageTimeouts)
}

// gatedSSE writes one event, waits for gate, then writes the rest in
// separate flushes: the first chunk cannot carry end_of_stream.
func gatedSSE(gate <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_, _ = w.Write([]byte("data: 1\n\n"))
		_ = rc.Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		for _, ev := range []string{"data: 2\n\n", "data: [DONE]\n\n"} {
			_, _ = w.Write([]byte(ev))
			_ = rc.Flush()
		}
	})
}

func TestStreamedChunkMutations(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) != "response_body" {
			return nil
		}
		common := &extprocv3.CommonResponse{
			// Ignored in STREAMED mode: the headers are already gone.
			HeaderMutation: mut(setHeader("x-late", "1", nil)),
			BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: bytes.ToUpper(bodyOf(r))}},
		}
		if n.Add(1) == 1 && !r.GetResponseBody().GetEndOfStream() {
			common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}
		}
		return responseBodyReply(common)
	}), func(o *Options) { o.ResponseChunkSplit = halves }, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, map[string]string{"x-fake-delay-ms": "2"})
	require.NoError(t, res.err)
	require.Empty(t, res.header.Get("x-late"))
	ps := h.nextStream()
	var want bytes.Buffer
	first := true
	for _, r := range ps.requests() {
		if kind(r) != "response_body" {
			continue
		}
		if !first || r.GetResponseBody().GetEndOfStream() {
			want.Write(bytes.ToUpper(bodyOf(r)))
		}
		first = false
	}
	require.Equal(t, want.String(), res.body)
	require.Contains(t, res.body, "DATA: [DONE]")
}

// TestRandomChunkSplitsKeepTheBody re-cuts upstream reads at random offsets.
func TestRandomChunkSplitsKeepTheBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pieces atomic.Int32
	split := func(b []byte) [][]byte {
		var out [][]byte
		defer func() { pieces.Add(int32(len(out))) }()
		for len(b) > 0 {
			k := 1 + rng.IntN(min(len(b), 40))
			out = append(out, b[:k])
			b = b[k:]
		}
		return out
	}
	h := newHarness(t, continueAll(), func(o *Options) { o.ResponseChunkSplit = split }, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, map[string]string{"x-fake-split": "7", "x-fake-delay-ms": "1"})
	require.NoError(t, res.err)
	reqs := h.nextStream().requests()
	require.Equal(t, res.body, string(responseBodies(reqs)))
	require.Greater(t, pieces.Load(), int32(20), "reads were re-cut")
	require.True(t, reqs[len(reqs)-1].GetResponseBody().GetEndOfStream())
	require.Equal(t, strings.Count(res.body, "data: ")-1, strings.Count(res.body, `"chat.completion.chunk"`))
}

func TestClientDisconnectCancelsTheStream(t *testing.T) {
	h := newHarness(t, continueAll(), nil, blockingSSE())
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.front.URL+"/openai/v1/chat/completions", strings.NewReader(streamBody))
	require.NoError(t, err)
	resp, err := h.front.Client().Do(req)
	require.NoError(t, err)
	buf := make([]byte, 8)
	_, err = io.ReadFull(resp.Body, buf) // the first event arrived live
	require.NoError(t, err)
	cancel()
	_ = resp.Body.Close()
	ps := h.nextStream()
	require.Equal(t, codes.Canceled, status.Code(ps.endErr()))
	require.Eventually(t, func() bool { return h.si.Stats().ClientDisconnects == 1 }, waitFor, 5*time.Millisecond)
}

func TestUpstreamResetMidBodyResetsClientAndCancelsStream(t *testing.T) {
	h := newHarness(t, continueAll(), nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody,
		map[string]string{"x-fake-cut-after": "3", "x-fake-delay-ms": "2"})
	require.Error(t, res.err, "the client's response is aborted")
	require.Equal(t, codes.Canceled, status.Code(h.nextStream().endErr()))
	s := h.si.Stats()
	require.Equal(t, int64(1), s.DownstreamResets)
	require.Equal(t, int64(1), s.UpstreamFailures)
}

// stallAfterFirstChunk answers everything up to the first response chunk,
// opens gate, then answers nothing more.
func stallAfterFirstChunk(gate chan struct{}) func(*procStream) error {
	return func(ps *procStream) error {
		chunks := 0
		for {
			req, err := ps.recv()
			if err != nil {
				return err
			}
			if kind(req) == "response_body" {
				chunks++
				if chunks > 1 {
					continue
				}
			}
			if err := ps.send(continueFor(req)); err != nil {
				return err
			}
			if chunks == 1 {
				close(gate)
				chunks++
			}
		}
	}
}

// gatedSlowSSE writes one event, waits for gate, then ten more events a few
// milliseconds apart: sends keep re-arming the timer after the stall began
// (with nothing left to send, Envoy's timer stays off and the stream hangs).
func gatedSlowSSE(gate <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		_, _ = w.Write([]byte("data: 0\n\n"))
		_ = rc.Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		for i := 1; i <= 10; i++ {
			time.Sleep(5 * time.Millisecond) // spacing only, nothing is timed
			_, _ = w.Write([]byte("data: " + itoa(i) + "\n\n"))
			if rc.Flush() != nil {
				return
			}
		}
		_, _ = w.Write([]byte("data: [DONE]\n\n"))
	})
}

func TestTimeoutMidStream(t *testing.T) {
	for _, failOpen := range []bool{false, true} {
		gate := make(chan struct{})
		h := newHarness(t, stallAfterFirstChunk(gate), func(o *Options) {
			o.MessageTimeout = 100 * time.Millisecond
			o.FailureModeAllow = failOpen
		}, gatedSlowSSE(gate))
		res := h.do(http.MethodPost, "/openai/v1/chat/completions", streamBody, nil)
		require.Equal(t, http.StatusOK, res.status)
		if failOpen {
			// Queued chunks are re-injected unmodified, the rest passes.
			require.NoError(t, res.err)
			require.True(t, strings.HasPrefix(res.body, "data: 0\n\ndata: 1\n\n"), res.body)
			require.True(t, strings.HasSuffix(res.body, "data: 10\n\ndata: [DONE]\n\n"), res.body)
		} else {
			require.Error(t, res.err, "headers are out: fail-closed can only reset")
		}
		require.Equal(t, int64(1), h.si.Stats().MessageTimeouts)
	}
}
