package envoy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/stretchr/testify/require"
)

// immediate is the sidecar's local reply (a 402 or 429 from Proxide).
func immediate(code typev3.StatusCode, body string) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: code},
			Body:   []byte(body),
			Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
				setHeader("content-type", "application/json", nil),
				setHeader("x-should-retry", "false", nil),
			}},
		},
	}}
}

// dialCounter counts the TCP connections a client opened.
type dialCounter struct {
	d net.Dialer
	n atomic.Int64
}

func (c *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

// TestLocalRepliesKeepTheConnection: a keep-alive client that gets many
// local replies in a row (Proxide's 402 at the request headers, its 429 at
// the request body) keeps its one connection, as with Envoy, whose codec has
// read the whole small body before the sidecar answers. Before the fix the
// stand-in interrupted the request body's read with a past deadline after
// net/http had started its background read, which cancelled the
// connection's context: a later request on it was taken for a client gone
// and dropped, and the SDKs sent it again.
func TestLocalRepliesKeepTheConnection(t *testing.T) {
	const n = 150
	tests := []struct {
		name  string
		reply func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse
		code  int
	}{
		{"402 at request headers", func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
			if req.GetRequestHeaders() != nil {
				return immediate(typev3.StatusCode_PaymentRequired, `{"error":{"type":"budget_exceeded"}}`)
			}
			return nil
		}, http.StatusPaymentRequired},
		{"429 at request body", func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
			if req.GetRequestBody() != nil {
				return immediate(typev3.StatusCode_TooManyRequests, `{"error":{"type":"loop_detected"}}`)
			}
			return nil
		}, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/go client", func(t *testing.T) {
			h := newHarness(t, replyWith(tc.reply), nil, nil)
			var conns dialCounter
			client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DialContext: conns.dial}}
			t.Cleanup(client.CloseIdleConnections)
			for i := range n {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.front.URL+"/openai/v1/chat/completions", strings.NewReader(chatBody))
				require.NoError(t, err)
				resp, err := client.Do(req)
				require.NoError(t, err, "request %d", i)
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, tc.code, resp.StatusCode, "request %d: %s", i, b)
				require.Empty(t, resp.Header.Get("Connection"), "request %d", i)
			}
			require.Equal(t, int64(1), conns.n.Load(), "connections opened for %d requests", n)
			require.Equal(t, int64(n), h.si.Stats().Requests)
		})
		t.Run(tc.name+"/body in its own write", func(t *testing.T) {
			// Node's http client writes the headers and the body separately.
			h := newHarness(t, replyWith(tc.reply), nil, nil)
			var d net.Dialer
			conn, err := d.DialContext(t.Context(), "tcp", strings.TrimPrefix(h.front.URL, "http://"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.Close() })
			br := bufio.NewReader(conn)
			for i := range n {
				_, err := fmt.Fprintf(conn, "POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(chatBody))
				require.NoError(t, err)
				_, err = io.WriteString(conn, chatBody)
				require.NoError(t, err)
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "/", http.NoBody)
				require.NoError(t, err)
				resp, err := http.ReadResponse(br, req)
				require.NoError(t, err, "request %d", i)
				_, err = io.Copy(io.Discard, resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, tc.code, resp.StatusCode, "request %d", i)
				require.False(t, resp.Close, "request %d: the stand-in closes the connection", i)
			}
			require.Equal(t, int64(n), h.si.Stats().Requests)
		})
	}
}
