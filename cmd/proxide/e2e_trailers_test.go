package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/envoy"
)

// A request body followed by trailers (chunked HTTP/1.1 with
// enable_trailers, or HTTP/2). With Envoy's default request trailer mode
// SKIP, the BUFFERED body reaches Proxide in one request_body message with
// end_of_stream=false (envoy/trailers.go, Filter::onTrailers), and no
// request_trailers message follows. That body is nevertheless the whole body:
// the request must be admitted, metered and charged exactly like the same
// request without trailers, and refused like it when over budget.

// chunkedBody hides the body's length from Go's client so that it is sent
// chunked, the encoding that carries HTTP/1.1 trailers.
type chunkedBody struct{ io.Reader }

// trailerRecorder is the upstream's view of the trailers: the fake OpenAI
// answers after it.
type trailerRecorder struct {
	mu  sync.Mutex
	got []string // X-Checksum trailer of each request, "" when none
}

func (tr *trailerRecorder) script(_ http.ResponseWriter, r *http.Request) bool {
	b, _ := io.ReadAll(r.Body) // r.Trailer is filled at EOF
	tr.mu.Lock()
	tr.got = append(tr.got, r.Trailer.Get("X-Checksum"))
	tr.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return false
}

func (tr *trailerRecorder) last() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.got) == 0 {
		return "<no request>"
	}
	return tr.got[len(tr.got)-1]
}

// postChunked POSTs body chunked, with an X-Checksum trailer when trailer != "".
func postChunked(t *testing.T, client *http.Client, url, clientID, body, trailer string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, chunkedBody{strings.NewReader(body)})
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer prox-e2e-app")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-proxide-client-id", clientID)
	if trailer != "" {
		req.Trailer = http.Header{"X-Checksum": {trailer}}
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestE2ERequestTrailersAreMeteredAndRefused(t *testing.T) {
	bodies := []struct {
		name           string
		body           string
		sse, rewritten bool
	}{
		{"chat", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Checksum me"}]}`, false, false},
		// Proxide rewrites this body (stream_options.include_usage) while
		// trailers follow it.
		{"chat stream", streamTrailerBody, true, true},
		{"responses", `{"model":"gpt-4o-mini","input":"Checksum me"}`, false, false},
	}
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		rec := &trailerRecorder{}
		s := startStackWith(t, yaml, rec.script, func(o *envoy.Options) {
			o.DownstreamHTTP1Trailers = true // Envoy's HTTP/1 codec drops request trailers without it
			o.UpstreamHTTP1Trailers = true   // so the upstream shows they were really sent
		})
		// HTTP/2 clients always carry trailers; a second front door speaks it.
		h2 := httptest.NewUnstartedServer(s.standin)
		h2.EnableHTTP2 = true
		h2.StartTLS()
		t.Cleanup(h2.Close)
		fronts := []struct {
			name   string
			url    string
			client *http.Client
		}{
			{"http1", s.front, testClient},
			{"http2", h2.URL, h2.Client()},
		}

		for _, f := range fronts {
			for _, b := range bodies {
				t.Run(f.name+" "+b.name, func(t *testing.T) {
					url := f.url + "/openai/v1/chat/completions"
					if b.name == "responses" {
						url = f.url + "/openai/v1/responses"
					}
					plainClient, trailerClient := "plain-"+f.name+"-"+b.name, "trailer-"+f.name+"-"+b.name
					plain := postChunked(t, f.client, url, plainClient, b.body, "")
					require.Equal(t, http.StatusOK, plain.status, "%s", plain.body)
					require.Empty(t, rec.last())

					r := postChunked(t, f.client, url, trailerClient, b.body, "abc123")
					require.Equal(t, http.StatusOK, r.status, "a body ending in trailers is admitted: %s", r.body)
					upstreamTrailer := rec.last()

					want := s.spend(t, plainClient).Day.SpentNano
					require.Positive(t, want)
					if !b.sse {
						p, c, o := usageOf(t, r.body)
						require.Equal(t, want, handCost(t, "gpt-4o-mini-2024-07-18", p, c, o))
					} else {
						require.NotContains(t, string(r.body), `"usage"`, "the injected usage chunk is stripped again")
					}
					sp := s.spend(t, trailerClient)
					require.Equal(t, want, sp.Day.SpentNano, "charged exactly as without trailers")
					require.Zero(t, sp.Day.ReservedNano)
					require.Zero(t, sp.Today.EstimatedNano, "from the reported usage, not an estimate")
					if !b.rewritten {
						// Untouched, the request goes on with its trailers (see
						// TestE2ERewrittenBodyKeepsItsTrailers for the rewritten one).
						require.Equal(t, "abc123", upstreamTrailer, "the trailers were sent and passed on")
					}
				})
			}
		}

		// Over budget: the body that ends in trailers is refused 402 at
		// admission (no refusal is cached yet: the ledger decides on the
		// body), and the upstream never sees it.
		for _, f := range fronts {
			t.Run(f.name+" over budget", func(t *testing.T) {
				client := "broke-" + f.name
				overspend(t, s, client)
				before := len(s.upstream.Requests())
				r := postChunked(t, f.client, f.url+"/openai/v1/chat/completions", client, bodies[0].body, "abc123")
				requireRefusal(t, r, http.StatusPaymentRequired, "budget_exceeded", "budget_exceeded")
				require.Len(t, s.upstream.Requests(), before, "the upstream was never called")
				require.Equal(t, int64(130_000_000), s.spend(t, client).Day.SpentNano)
			})
		}
	})
}

// streamTrailerBody is a chat stream without stream_options: Proxide injects
// include_usage, rewriting the body.
const streamTrailerBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Checksum me"}]}`

// When Proxide rewrites a body that arrived chunked with trailers (usage
// injection), the request must still go on unchanged but for that edit: the
// client's trailers reach the upstream. DESIGN.md allows the rewrite to come
// with a matching content-length OR its removal; with an HTTP/1.1 upstream
// (the shipped configs), only the removal keeps the chunked framing that
// carries trailers; a content-length makes Envoy's codec drop them.
func TestE2ERewrittenBodyKeepsItsTrailers(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		rec := &trailerRecorder{}
		s := startStackWith(t, yaml, rec.script, func(o *envoy.Options) {
			o.DownstreamHTTP1Trailers = true
			o.UpstreamHTTP1Trailers = true
		})
		r := postChunked(t, testClient, s.front+"/openai/v1/chat/completions", "rewritten", streamTrailerBody, "abc123")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		last := s.upstream.Last()
		require.Contains(t, string(last.Body), `"include_usage":true`, "the body was rewritten")
		t.Logf("upstream request headers: content-length=%q transfer-encoding=%q trailer=%q",
			last.Header.Get("Content-Length"), last.Header.Get("Transfer-Encoding"), last.Header.Get("Trailer"))
		require.Equal(t, "abc123", rec.last(), "the client's request trailers were dropped on the way upstream")
	})
}
