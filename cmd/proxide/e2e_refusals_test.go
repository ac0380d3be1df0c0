package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/envoy"
)

// Every refusal Proxide makes, through the Envoy stand-in: its status, an
// OpenAI-style error an SDK can read, x-should-retry: false so the SDKs do
// not retry it, and nothing sent upstream.

// refusalConfig: broke-* clients have $0.05 a day, which one pricey call
// ($0.13, see overspend) exhausts.
var refusalConfig = e2eYAML(`    - {match: "broke-*", daily_limit_usd: 0.05}
    - {match: "tuner-*", daily_limit_usd: 0.05, endpoints: {unmetered: allow}}
`, priceyPricing)

// overspend spends past a broke-* client's $0.05 with one admitted call: the
// prompt "spend" is 5 bytes → 5/4 + 7 = 8 tokens, plus 5 words, at a cent a
// token = $0.13. No 402 was answered yet, so no refusal is cached: the next
// request is decided by the ledger.
func overspend(t *testing.T, s *stack, client string) {
	t.Helper()
	r := s.do(t, priceyCall(client, 5))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, int64(130_000_000), s.spend(t, client).Day.SpentNano)
}

// openAIErr is an OpenAI error body; Code and Param are raw so that a
// missing key and a null are told apart.
type openAIErr struct {
	Error struct {
		Type    string          `json:"type"`
		Message string          `json:"message"`
		Code    json.RawMessage `json:"code"`
		Param   json.RawMessage `json:"param"`
	} `json:"error"`
}

// requireRefusal checks a refusal: status, JSON, x-should-retry: false, an
// error with message, type, code (as given) and a param key.
func requireRefusal(t *testing.T, r reply, status int, errType, code string) openAIErr {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "false", r.header.Get("X-Should-Retry"), "the SDKs must not retry a %d", status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var e openAIErr
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	require.Equal(t, errType, e.Error.Type, "body: %s", r.body)
	require.NotEmpty(t, e.Error.Message)
	require.Equal(t, `"`+code+`"`, string(e.Error.Code), "body: %s", r.body)
	require.NotNil(t, e.Error.Param, "every OpenAI error carries a param key (null when none): %s", r.body)
	return e
}

// sendRaw sends a request whose path goes on the wire exactly as written
// (escapes, dot segments, doubled slashes), as a hostile or sloppy client would.
func sendRaw(t *testing.T, s *stack, method, rawPath string, c call) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.front, strings.NewReader(c.body))
	require.NoError(t, err)
	req.URL.Opaque = rawPath
	req.Header.Set("Authorization", "Bearer prox-e2e-app")
	req.Header.Set("Content-Type", "application/json")
	if c.client != "" {
		req.Header.Set("x-proxide-client-id", c.client)
	}
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

const chatHello = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`

// One of each refusal on one stack: 401, 403 scope, 400 (client id, path),
// 402, 403 endpoint_not_metered, 429 loop.
func TestE2EEveryRefusalIsFinal(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: true}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, func(o *envoy.Options) { o.KeepRawPath = true })
		overspend(t, s, "broke-1")
		// A loop: five identical requests pass, the sixth is refused.
		for i := range 5 {
			r := s.do(t, call{path: "/openai/v1/chat/completions", client: "looper", body: chatHello})
			require.Equal(t, http.StatusOK, r.status, "request %d: %s", i+1, r.body)
		}
		tests := []struct {
			name    string
			send    func() reply
			status  int
			errType string
			code    string
		}{
			{"401 unknown key", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", client: "a", body: chatHello,
					headers: map[string]string{"Authorization": "Bearer prox-wrong"}})
			}, 401, "invalid_request_error", "invalid_api_key"},
			{"401 no key", func() reply {
				return send(t, s.front+"/openai/v1/chat/completions", call{method: http.MethodPost, client: "a", body: chatHello}, "")
			}, 401, "invalid_request_error", "invalid_api_key"},
			{"403 key without the gateway scope", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", client: "a", body: chatHello,
					headers: map[string]string{"Authorization": "Bearer prox-e2e-ops"}})
			}, 403, "invalid_request_error", "insufficient_scope"},
			{"400 invalid client id", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", client: "bad\tid", body: chatHello})
			}, 400, "invalid_client_id", "invalid_client_id"},
			{"400 missing client id", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", body: chatHello})
			}, 400, "missing_client_id", "missing_client_id"},
			{"400 ambiguous path", func() reply {
				return sendRaw(t, s, http.MethodPost, "/openai/v1/chat%2Fcompletions", call{client: "a", body: chatHello})
			}, 400, "invalid_request_error", "invalid_path"},
			{"402 over budget", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", client: "broke-1", body: chatHello})
			}, 402, "budget_exceeded", "budget_exceeded"},
			{"403 endpoint not metered", func() reply {
				return s.do(t, call{path: "/openai/v1/fine_tuning/jobs", client: "a",
					body: `{"model":"gpt-4o-mini-2024-07-18","training_file":"file-abc"}`})
			}, 403, "invalid_request_error", "endpoint_not_metered"},
			{"429 loop", func() reply {
				return s.do(t, call{path: "/openai/v1/chat/completions", client: "looper", body: chatHello})
			}, 429, "loop_detected", "loop_detected"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := len(s.upstream.Requests())
				requireRefusal(t, tc.send(), tc.status, tc.errType, tc.code)
				require.Len(t, s.upstream.Requests(), before, "a refusal never reaches the upstream")
			})
		}
	})
}

// With Redis gone and failure_mode closed (the default), a metered request
// is refused 503 budget_unavailable, final like every other refusal.
func TestE2ELedgerDownIsA503(t *testing.T) {
	rs := redistest.StartServer(t, redistest.Options{})
	s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("store: {redis_url: \"redis://%s/0\", failure_mode: closed}\n", rs.Addr), nil)
	require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "c", body: chatHello}).status)
	require.NoError(t, rs.Stop())
	before := len(s.upstream.Requests())
	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "c", body: chatHello})
	requireRefusal(t, r, http.StatusServiceUnavailable, "budget_unavailable", "budget_unavailable")
	require.Len(t, s.upstream.Requests(), before)

	// Redis back: requests pass again (and the app shuts down without
	// waiting on a dead server).
	require.NoError(t, rs.Start())
	require.Eventually(t, func() bool {
		return s.do(t, call{path: "/openai/v1/chat/completions", client: "c", body: chatHello}).status == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond)
}

// tcpGate forwards TCP to a target until hang: from then on every
// connection stays open and nothing is answered, as a Redis that is hung
// (paused, swapping, a network partition without resets) behaves.
type tcpGate struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hung   bool
	conns  []net.Conn
}

func startGate(t *testing.T, target string) *tcpGate {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &tcpGate{ln: ln, target: target}
	go g.serve()
	t.Cleanup(func() { require.NoError(t, ln.Close()); g.closeAll() })
	return g
}

func (g *tcpGate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.conns = append(g.conns, c)
		hung := g.hung
		g.mu.Unlock()
		if hung {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		// The gate lives until its listener closes; no request bounds a dial.
		up, err := new(net.Dialer).DialContext(context.Background(), "tcp", g.target)
		if err != nil {
			_ = c.Close() // the client sees its connection drop; the error adds nothing
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, up)
		g.mu.Unlock()
		// When hang closes up, the client side stays open and unanswered.
		go func() { _, _ = io.Copy(up, c); _, _ = io.Copy(io.Discard, c) }()
		go func() { _, _ = io.Copy(c, up) }()
	}
}

// hang stops answering: the Redis side of every connection is dropped, the
// client side kept open.
func (g *tcpGate) hang() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hung = true
	for _, c := range g.conns {
		if c.RemoteAddr().String() == g.target {
			_ = c.Close() // dropping it is the point; one already closed is as good
		}
	}
}

// resume closes every connection, so clients reconnect, and forwards again.
func (g *tcpGate) resume() {
	g.closeAll()
	g.mu.Lock()
	g.hung = false
	g.mu.Unlock()
}

func (g *tcpGate) closeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		_ = c.Close() // hang closed some already
	}
	g.conns = nil
}

// A hung Redis must give the same answer as a stopped one: DESIGN.md, "Redis
// down or hung: every ledger call has a deadline inside Envoy's ext_proc
// message timeout; then store.failure_mode applies (closed: 503
// budget_unavailable)". Past that timeout Envoy itself answers (500 with
// failure_mode_allow false, which the SDKs retry; the request passes
// UNMETERED with failure_mode_allow true).
func TestE2EHungLedgerIsA503(t *testing.T) {
	rs := redistest.StartServer(t, redistest.Options{})
	gate := startGate(t, rs.Addr)
	s := startStack(t, refusalConfig+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("store: {redis_url: \"redis://%s/0\", failure_mode: closed, timeout: 500ms}\n", gate.ln.Addr()), nil)
	require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "c", body: chatHello}).status)
	gate.hang()
	defer gate.resume() // so the app's shutdown does not wait on the hung ledger

	before := len(s.upstream.Requests())
	start := time.Now()
	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "c", body: chatHello})
	t.Logf("answered %d after %s: %s", r.status, time.Since(start), r.body)
	requireRefusal(t, r, http.StatusServiceUnavailable, "budget_unavailable", "budget_unavailable")
	require.Less(t, time.Since(start), envoy.DefaultMessageTimeout, "answered by Proxide, inside Envoy's message timeout")
	require.Len(t, s.upstream.Requests(), before)
}

// Proxide's own 413: with request_body_mode BUFFERED_PARTIAL, a body larger
// than Envoy's buffer reaches Proxide cut, and the rest would go upstream
// unseen; it is refused, final like every refusal.
func TestE2EPartialBodyIsA413(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, func(o *envoy.Options) {
			o.ProcessingMode = &extprocfilterv3.ProcessingMode{
				RequestHeaderMode: extprocfilterv3.ProcessingMode_SEND, RequestBodyMode: extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL,
				RequestTrailerMode: extprocfilterv3.ProcessingMode_SKIP, ResponseHeaderMode: extprocfilterv3.ProcessingMode_SEND,
				ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED, ResponseTrailerMode: extprocfilterv3.ProcessingMode_SKIP,
			}
			o.RequestBodyLimit = 1024
		})
		long := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 400) + `"}]}`
		r := s.do(t, call{path: "/openai/v1/chat/completions", client: "big", body: long})
		requireRefusal(t, r, http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large")
		require.Empty(t, s.upstream.Requests())
		require.Zero(t, s.spend(t, "big").Day.ReservedNano)
	})
}

// DESIGN.md: "A key may be bound to the client ids it speaks for:
// keys[].client_ids (exact ids and prefix* patterns). Another id with that
// key → 403 OpenAI-style error."
func TestE2EKeyBoundToItsClientIDs(t *testing.T) {
	yaml := strings.Replace(refusalConfig, "  - {name: ops,",
		"  - {name: tenant-a, key: prox-e2e-tenant-a, scopes: [gateway], client_ids: [\"tenant-a-*\", \"shared\"]}\n  - {name: ops,", 1) +
		"loop_detection: {enabled: false}\n"
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for _, client := range []string{"tenant-a-1", "shared"} {
			r := send(t, s.front+"/openai/v1/chat/completions", call{client: client, body: chatHello}, "prox-e2e-tenant-a")
			require.Equal(t, http.StatusOK, r.status, "%s may use the key: %s", client, r.body)
		}
		before := len(s.upstream.Requests())
		r := send(t, s.front+"/openai/v1/chat/completions", call{client: "tenant-b-1", body: chatHello}, "prox-e2e-tenant-a")
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		require.Equal(t, "false", r.header.Get("X-Should-Retry"))
		require.Contains(t, string(r.body), `"code":`)
		require.Len(t, s.upstream.Requests(), before)
	})
}

// An agent alternating between two (or three) different requests loops as
// surely as one repeating itself; all are refused at the 6th request
// (max_repeats 5).
func TestE2ELoopCycleRefusedAtTheSixth(t *testing.T) {
	a := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Check the deployment status of service alpha."}]}`
	b := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Summarise yesterday's error budget report for the on-call team."}]}`
	c := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Open a ticket for the flaky integration test in the payments repo."}]}`
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: true, max_repeats: 5, window: 60s}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for _, tc := range []struct {
			name   string
			bodies []string
		}{
			{"identical", []string{a, a, a, a, a, a}},
			{"A/B cycle", []string{a, b, a, b, a, b}},
			{"A/B/C cycle", []string{a, b, c, a, b, c}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				client := "agent-" + strings.ReplaceAll(tc.name, "/", "")
				for i, body := range tc.bodies[:5] {
					r := s.do(t, call{path: "/openai/v1/chat/completions", client: client, body: body})
					require.Equal(t, http.StatusOK, r.status, "request %d is not a loop yet: %s", i+1, r.body)
				}
				before := len(s.upstream.Requests())
				r := s.do(t, call{path: "/openai/v1/chat/completions", client: client, body: tc.bodies[5]})
				requireRefusal(t, r, http.StatusTooManyRequests, "loop_detected", "loop_detected")
				require.NotEmpty(t, r.header.Get("Retry-After"))
				require.Len(t, s.upstream.Requests(), before)
				// Refused requests are not charged: five were.
				require.Equal(t, int64(5), s.spend(t, client).Today.Requests)
			})
		}
	})
}

// lenientUpstream resolves paths as a forgiving web server would before the
// fake OpenAI routes them: "/OpenAI/V1//./chat/completions/" is
// "/v1/chat/completions" there. (Go's server has already decoded %63 to c.)
// It is the worst case for a gateway: every disguise Proxide fails to see
// through reaches a paid handler.
func lenientUpstream(_ http.ResponseWriter, r *http.Request) bool {
	p := path.Clean(r.URL.Path)
	if len(p) >= len("/openai/v1") && strings.EqualFold(p[:len("/openai/v1")], "/openai/v1") {
		p = "/v1" + p[len("/openai/v1"):]
	}
	if len(p) >= 3 && strings.EqualFold(p[:3], "/v1") {
		p = "/v1" + p[3:]
	}
	r.URL.Path, r.URL.RawPath = p, ""
	return false // the fake answers the resolved path
}

// Disguised paths with Envoy's own normalisation off (KeepRawPath) and a
// catch-all route ("/", no rewrite: the case-changed prefix reaches Proxide
// too): Proxide canonicalises them itself and meters them as chat
// completions, or refuses them (escaped slashes); an over-budget client is
// refused on every one of them, and a refused one never reaches the upstream.
func TestE2EDisguisedPathsAreMetered(t *testing.T) {
	metered := []string{
		"/openai/v1//chat/completions",
		"/openai/v1/%63hat/completions",
		"/OpenAI/V1/chat/completions/",
		"/openai/v1/./chat/completions",
	}
	ambiguous := []string{
		"/openai/v1/chat%2Fcompletions",
		"/openai/v1/chat%5Ccompletions",
	}
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStackWith(t, yaml, lenientUpstream, func(o *envoy.Options) {
			o.KeepRawPath = true
			o.RoutePrefix, o.PrefixRewrite = "/", "/"
		})
		// The plain path's charge, the reference for the disguised ones.
		ref := s.do(t, call{path: "/openai/v1/chat/completions", client: "plain", body: chatHello})
		require.Equal(t, http.StatusOK, ref.status, "%s", ref.body)
		want := s.spend(t, "plain").Day.SpentNano
		require.Positive(t, want)

		overspend(t, s, "broke-paths")
		for i, p := range metered {
			t.Run(p, func(t *testing.T) {
				client := fmt.Sprintf("disguised-%d", i)
				r := sendRaw(t, s, http.MethodPost, p, call{client: client, body: chatHello})
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				sp := s.spend(t, client)
				require.Equal(t, want, sp.Day.SpentNano, "charged like the plain path")
				require.Equal(t, int64(1), sp.Today.Requests)
				require.Zero(t, sp.Day.ReservedNano)

				before := len(s.upstream.Requests())
				r = sendRaw(t, s, http.MethodPost, p, call{client: "broke-paths", body: chatHello})
				requireRefusal(t, r, http.StatusPaymentRequired, "budget_exceeded", "budget_exceeded")
				require.Len(t, s.upstream.Requests(), before)
			})
		}
		for _, p := range ambiguous {
			t.Run(p, func(t *testing.T) {
				before := len(s.upstream.Requests())
				for _, client := range []string{"ambiguous", "broke-paths"} {
					r := sendRaw(t, s, http.MethodPost, p, call{client: client, body: chatHello})
					requireRefusal(t, r, http.StatusBadRequest, "invalid_request_error", "invalid_path")
				}
				require.Len(t, s.upstream.Requests(), before, "an ambiguous path is never passed on")
				require.Zero(t, s.spend(t, "ambiguous").Today.Requests)
			})
		}
	})
}

// unmeteredCalls are paid endpoints an ext_proc sidecar cannot price.
var unmeteredCalls = []struct{ name, path, body, op string }{
	{"realtime client secret", "/openai/v1/realtime/client_secrets", `{"session":{"type":"realtime","model":"gpt-realtime"}}`, "realtime.client_secrets.create"},
	{"realtime session (beta)", "/openai/v1/realtime/sessions", `{"model":"gpt-4o-realtime-preview"}`, "realtime.sessions.create"},
	{"fine-tuning job", "/openai/v1/fine_tuning/jobs", `{"model":"gpt-4o-mini-2024-07-18","training_file":"file-abc"}`, "fine_tuning.jobs.create"},
	{"vector store", "/openai/v1/vector_stores", `{"name":"docs"}`, "vector_stores.create"},
}

// clientModels reads models_today of GET /v1/clients/{id}.
func clientModels(t *testing.T, s *stack, client string) map[string]int64 {
	t.Helper()
	var view struct {
		Models []struct {
			Model    string `json:"model"`
			Requests int64  `json:"requests"`
		} `json:"models_today"`
	}
	require.Equal(t, http.StatusOK, s.adminGet(t, "/v1/clients/"+client, "prox-e2e-ops", &view))
	out := map[string]int64{}
	for _, m := range view.Models {
		out[m.Model] = m.Requests
	}
	return out
}

// By default the unmeterable endpoints are refused 403 before the upstream.
func TestE2EUnmeteredEndpointsRefusedByDefault(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for _, u := range unmeteredCalls {
			t.Run(u.name, func(t *testing.T) {
				r := s.do(t, call{path: u.path, client: "refused", body: u.body})
				e := requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "endpoint_not_metered")
				require.Contains(t, e.Error.Message, "endpoints.unmetered: allow", "the message says how to allow it")
				require.Empty(t, s.upstream.Requests(), "upstream never called")
			})
		}
	})
}

// requireAllowedAndCounted sends every unmetered call for client, expects it
// to reach the upstream, and to be counted in the client's stats at no cost.
func requireAllowedAndCounted(t *testing.T, s *stack, client string) {
	t.Helper()
	for _, u := range unmeteredCalls {
		before := len(s.upstream.Requests())
		r := s.do(t, call{path: u.path, client: client, body: u.body})
		require.Equal(t, http.StatusOK, r.status, "%s: %s", u.name, r.body)
		require.Len(t, s.upstream.Requests(), before+1, "%s reached the upstream", u.name)
	}
	models := clientModels(t, s, client)
	for _, u := range unmeteredCalls {
		require.Equal(t, int64(1), models["unmetered:"+u.op], "%s counted once in %v", u.op, models)
	}
	sp := s.spend(t, client)
	require.Equal(t, int64(len(unmeteredCalls)), sp.Today.Requests)
	require.Zero(t, sp.Day.ReservedNano)
}

// endpoints: {unmetered: allow} globally: allowed, counted, but not for a
// client over its budget.
func TestE2EUnmeteredAllowedByConfig(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\nendpoints: {unmetered: allow}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		requireAllowedAndCounted(t, s, "builder")

		overspend(t, s, "broke-tuner")
		for _, u := range unmeteredCalls {
			before := len(s.upstream.Requests())
			r := s.do(t, call{path: u.path, client: "broke-tuner", body: u.body})
			requireRefusal(t, r, http.StatusPaymentRequired, "budget_exceeded", "budget_exceeded")
			require.Len(t, s.upstream.Requests(), before, "%s: an over-budget client pays for nothing more", u.name)
		}
	})
}

// A rule may allow what the global policy refuses: from the config file and
// from the admin API. Other clients stay refused.
func TestE2EUnmeteredAllowedByRule(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		// The file rule tuner-* allows them.
		requireAllowedAndCounted(t, s, "tuner-1")

		// The admin API rule allows them for its client.
		r := s.do(t, call{path: "/openai/v1/fine_tuning/jobs", client: "api-tuner", body: unmeteredCalls[1].body})
		requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "endpoint_not_metered")
		code, body := s.adminPost(t, "/v1/budgets", `{"client_id":"api-tuner","daily_limit_usd":0.05,"endpoints":{"unmetered":"allow"}}`, "prox-e2e-ops")
		require.Equal(t, http.StatusCreated, code, body)
		requireAllowedAndCounted(t, s, "api-tuner")

		// Somebody else is still refused.
		r = s.do(t, call{path: "/openai/v1/fine_tuning/jobs", client: "someone", body: unmeteredCalls[1].body})
		requireRefusal(t, r, http.StatusForbidden, "invalid_request_error", "endpoint_not_metered")

		// Both rules' clients are refused 402 once over their $0.05.
		for _, client := range []string{"tuner-1", "api-tuner"} {
			r := s.do(t, priceyCall(client, 5))
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			before := len(s.upstream.Requests())
			r = s.do(t, call{path: "/openai/v1/fine_tuning/jobs", client: client, body: unmeteredCalls[1].body})
			requireRefusal(t, r, http.StatusPaymentRequired, "budget_exceeded", "budget_exceeded")
			require.Len(t, s.upstream.Requests(), before)
		}
	})
}

// Free endpoints cost nothing, so a client over its budget may still use
// them, and they touch no reservation or counter.
func TestE2EFreeEndpointsPassOverBudget(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		overspend(t, s, "broke-reader")
		// Make sure the client is really refused a paid call now.
		r := s.do(t, call{path: "/openai/v1/chat/completions", client: "broke-reader", body: chatHello})
		requireRefusal(t, r, http.StatusPaymentRequired, "budget_exceeded", "budget_exceeded")
		spent := s.spend(t, "broke-reader")

		for _, c := range []call{
			{method: http.MethodGet, path: "/openai/v1/models"},
			{method: http.MethodGet, path: "/openai/v1/files"},
			{method: http.MethodPost, path: "/openai/v1/moderations", body: `{"input":"is this fine?"}`},
		} {
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				c.client = "broke-reader"
				before := len(s.upstream.Requests())
				r := s.do(t, c)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				require.Len(t, s.upstream.Requests(), before+1)
				sp := s.spend(t, "broke-reader")
				require.Equal(t, spent.Day, sp.Day, "no reservation, no charge")
				require.Equal(t, spent.Today.Requests, sp.Today.Requests, "not counted")
			})
		}
	})
}
