package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/envoy"
)

// TestE2EHungRedisSIGSTOP: Redis is stopped with SIGSTOP (its connections stay open and
// nothing answers) while clients keep sending. Every request is answered by Proxide
// inside Envoy's message timeout with the failure mode's answer — never the stand-in's
// 504 — the breaker makes the hang cost one deadline, /readyz follows it when failing
// closed, and after SIGCONT the spend of every admitted request is in Redis, exactly.
func TestE2EHungRedisSIGSTOP(t *testing.T) {
	for _, mode := range []string{"closed", "open"} {
		t.Run(mode, func(t *testing.T) {
			rs := redistest.StartServer(t, redistest.Options{})
			s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\n"+
				fmt.Sprintf("store: {redis_url: \"redis://%s/0\", failure_mode: %s, timeout: 500ms}\n", rs.Addr, mode), nil)
			require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "hung", body: chatHello}).status)
			unit := s.spend(t, "hung").Day.SpentNano
			require.Positive(t, unit)

			require.NoError(t, rs.Pause())
			t.Cleanup(func() { _ = rs.Resume() })
			const n = 40
			statuses := map[int]int{}
			var mu sync.Mutex
			var slowest time.Duration
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					start := time.Now()
					r, err := s.try(t.Context(), call{path: "/openai/v1/chat/completions", client: "hung", body: chatHello})
					took := time.Since(start)
					mu.Lock()
					defer mu.Unlock()
					slowest = max(slowest, took)
					if err != nil {
						statuses[-1]++
						return
					}
					statuses[r.status]++
					if mode == "closed" {
						requireRefusal(t, r, http.StatusServiceUnavailable, "budget_unavailable", "budget_unavailable")
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d requests during the hang: statuses %v, slowest %s", mode, n, statuses, slowest)
			want := http.StatusServiceUnavailable
			if mode == "open" {
				want = http.StatusOK
			}
			require.Equal(t, map[int]int{want: n}, statuses, "no 504 from Envoy's message timeout: Proxide answered every one")
			require.True(t, s.app.ledger.Open(), "the breaker is open")
			ready := getStatus(t, s.admin+"/readyz")
			if mode == "closed" {
				require.Equal(t, http.StatusServiceUnavailable, ready)
			} else {
				require.Equal(t, http.StatusOK, ready, "failing open stays ready")
			}
			require.Contains(t, scrape(t, s.admin), "proxide_ledger_circuit_open 1")

			resumed := time.Now()
			require.NoError(t, rs.Resume())
			require.Eventually(t, func() bool { return !s.app.ledger.Open() && s.app.ledger.Buffered() == 0 },
				30*time.Second, 10*time.Millisecond)
			t.Logf("%s: breaker closed and buffer replayed %s after SIGCONT", mode, time.Since(resumed))
			require.Equal(t, http.StatusOK, getStatus(t, s.admin+"/readyz"))
			require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "hung", body: chatHello}).status)
			admitted := int64(1 + 1) // before and after the hang
			if mode == "open" {
				admitted += n
			}
			sp := s.spend(t, "hung")
			require.Equal(t, admitted*unit, sp.Day.SpentNano, "every admitted request charged once, none lost")
			require.Zero(t, sp.Day.ReservedNano, "no reservation left behind")
		})
	}
}

// TestE2EStreamedBodyCapped: a request body Envoy streams in pieces (request_body_mode
// STREAMED) is collected up to listen.max_request_body_bytes and refused with an
// OpenAI-style 413 past it; nothing is reserved and the upstream never gets a request.
func TestE2EStreamedBodyCapped(t *testing.T) {
	s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\nlisten: {max_request_body_bytes: 262144}\n", func(o *envoy.Options) {
		o.ProcessingMode = &extprocfilterv3.ProcessingMode{
			RequestHeaderMode: extprocfilterv3.ProcessingMode_SEND, RequestBodyMode: extprocfilterv3.ProcessingMode_STREAMED,
			RequestTrailerMode: extprocfilterv3.ProcessingMode_SKIP, ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND,
			ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED, ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
		}
	})
	small := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a ", 1000) + `"}]}`
	require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "big", body: small}).status)
	before := len(s.upstream.Requests())
	huge := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 200_000) + `"}]}` // 2.4 MB
	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "big", body: huge})
	e := requireRefusal(t, r, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large")
	require.Contains(t, e.Error.Message, "262144")
	// In STREAMED mode Envoy opens the upstream request as the first pieces pass, so
	// the upstream may see the start of the body; never the whole of it (the tail is
	// held back until admission), so nothing can be processed.
	for _, got := range s.upstream.Requests()[before:] {
		require.Less(t, len(got.Body), len(huge), "the upstream never got the whole body")
		require.False(t, json.Valid(got.Body))
	}
	require.Zero(t, s.spend(t, "big").Day.ReservedNano)
}

// TestE2EIdleStreamsClosed: a caller on the ext_proc port that opens streams and stops
// sending — before anything, after a metered request went upstream — has them closed
// after listen.stream_idle_timeout; the forwarded one is settled (its worst case,
// estimated: OpenAI may have done the work), the other holds nothing. A second
// request_headers on one stream is refused as a protocol error, not a new request.
func TestE2EIdleStreamsClosed(t *testing.T) {
	s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\nlisten: {stream_idle_timeout: 1s}\n", nil)
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := extprocv3.NewExternalProcessorClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a hang guard, not a measurement
	defer cancel()

	silent, err := client.Process(ctx)
	require.NoError(t, err)

	forwarded, err := client.Process(ctx)
	require.NoError(t, err)
	require.NoError(t, forwarded.Send(rawHeaders("idle-client", false)))
	_, err = forwarded.Recv()
	require.NoError(t, err)
	require.NoError(t, forwarded.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(chatHello), EndOfStream: true}}}))
	resp, err := forwarded.Recv()
	require.NoError(t, err)
	require.NotNil(t, resp.GetRequestBody(), "admitted: %v", resp)
	require.Positive(t, s.spend(t, "idle-client").Day.ReservedNano, "reserved while the request is upstream")

	twice, err := client.Process(ctx)
	require.NoError(t, err)
	require.NoError(t, twice.Send(rawHeaders("twice", false)))
	_, err = twice.Recv()
	require.NoError(t, err)
	require.NoError(t, twice.Send(rawHeaders("twice", false)))
	resp, err = twice.Recv()
	require.NoError(t, err)
	require.Equal(t, int32(500), int32(resp.GetImmediateResponse().GetStatus().GetCode()), "%v", resp)
	require.Contains(t, string(resp.GetImmediateResponse().GetBody()), "proxide_protocol_error")

	start := time.Now()
	for name, st := range map[string]extprocv3.ExternalProcessor_ProcessClient{"silent": silent, "forwarded": forwarded} {
		_, err := st.Recv()
		require.Error(t, err, "%s: the server ended the stream", name)
		if !errors.Is(err, io.EOF) {
			require.Equal(t, codes.Canceled, status.Code(err), "%s: %v", name, err)
		}
	}
	t.Logf("idle streams closed %s after the last message (timeout 1s)", time.Since(start))
	require.Eventually(t, func() bool {
		sp := s.spend(t, "idle-client")
		return sp.Day.ReservedNano == 0 && sp.Day.SpentNano > 0
	}, 30*time.Second, 10*time.Millisecond, "the idle stream's reservation was settled")
	sp := s.spend(t, "idle-client")
	require.Equal(t, sp.Day.SpentNano, sp.Today.EstimatedNano, "charged its worst case, marked estimated")
	require.Contains(t, scrape(t, s.admin), `outcome="stream_idle"`)
}

func rawHeaders(client string, eos bool) *extprocv3.ProcessingRequest {
	kv := []string{":method", "POST", ":path", "/openai/v1/chat/completions", ":authority", "gw.local", ":scheme", "http",
		"authorization", "Bearer prox-e2e-app", "x-proxide-client-id", client, "content-type", "application/json"}
	hm := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
		RequestHeaders: &extprocv3.HttpHeaders{Headers: hm, EndOfStream: eos}}}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close() // fully read
	return resp.StatusCode
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, admin+"/metrics", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer prox-e2e-ops")
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }() // read below
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
