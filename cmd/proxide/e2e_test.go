package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

// stack is a whole deployment on loopback: the fake OpenAI upstream, a real
// `proxide serve` app, and the Envoy stand-in in front of it.
type stack struct {
	app      *app
	upstream *fakeopenai.Server
	upURL    string
	front    string // base URL of the stand-in ("Envoy")
	admin    string // base URL of the admin server
	grpcAddr string
	logs     *syncBuffer
	standin  *envoy.StandIn
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2eBase is the end-to-end config without loop detection settings.
const e2eBase = `
keys:
  - {name: app, key: prox-e2e-app, scopes: [gateway]}
  - {name: ops, key: prox-e2e-ops, scopes: [admin]}
budgets:
  timezone: UTC
  default: {daily_limit_usd: 100, monthly_limit_usd: 1000}
  rules:
    - {client_id: user-12345, daily_limit_usd: 0.50, monthly_limit_usd: 5.00}
    - {client_id: monthly-capped, daily_limit_usd: 10, monthly_limit_usd: 0.50}
    - {match: "trial-*", daily_limit_usd: 0.05, action: alert}
pricing:
  custom:
    # One cent per token in and out: budgets run out in a few requests.
    pricey: {input_per_mtok: 10000, output_per_mtok: 10000}
log: {level: debug, format: text}
`

// e2eYAML is an end-to-end config: the app and ops keys, a $100/day default
// budget, the given rules (YAML list items indented four spaces, or ""), and
// any further top-level sections.
func e2eYAML(ruleItems, extra string) string {
	y := `
keys:
  - {name: app, key: prox-e2e-app, scopes: [gateway]}
  - {name: ops, key: prox-e2e-ops, scopes: [admin]}
budgets:
  timezone: UTC
  default: {daily_limit_usd: 100, monthly_limit_usd: 1000}
`
	if ruleItems != "" {
		y += "  rules:\n" + ruleItems
	}
	return y + extra + "log: {level: debug, format: text}\n"
}

// pricey costs a cent a token in and out: budgets run out in a few requests.
const priceyPricing = `pricing:
  custom:
    pricey: {input_per_mtok: 10000, output_per_mtok: 10000}
`

// e2eConfig turns loop detection off: the budget tests send the same request
// again and again on purpose (TestE2ELoopCorpus turns it on).
const e2eConfig = e2eBase + "loop_detection: {enabled: false}\n"

func startStack(t *testing.T, yaml string, envoyOpts func(*envoy.Options), options ...appOption) *stack {
	t.Helper()
	return startStackWith(t, yaml, nil, envoyOpts, options...)
}

// startStackWith is startStack with a scripted upstream in front of the fake
// OpenAI: script answers the requests it wants (returning true), the fake the
// rest. A nil script is the fake alone.
func startStackWith(t *testing.T, yaml string, script func(w http.ResponseWriter, r *http.Request) bool,
	envoyOpts func(*envoy.Options), options ...appOption) *stack {
	t.Helper()
	up := fakeopenai.New()
	var h http.Handler = up
	if script != nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !script(w, r) {
				up.ServeHTTP(w, r)
			}
		})
	}
	upSrv := httptest.NewServer(h)
	t.Cleanup(upSrv.Close)

	cfg, err := load(t, nil, "--config", writeConfig(t, yaml))
	require.NoError(t, err)
	if !strings.Contains(yaml, "timeout:") {
		// The production default (500ms) assumes the sidecar has its CPU;
		// under -race with every package's tests running at once on two
		// cores, a ledger call once took longer and a test saw a 503. Tests
		// of the timeout itself set store.timeout.
		cfg.Store.Timeout = 1500 * time.Millisecond
	}
	if cfg.Store.SpillDir == "" {
		// Not the default per-port directory under /tmp: every in-process app
		// here has the default listen.grpc.
		cfg.Store.SpillDir = t.TempDir()
	}
	logs := &syncBuffer{}
	a, err := newApp(cfg, logs, []string{"OPENAI_API_KEY=sk-upstream-secret"}, options...)
	require.NoError(t, err)
	grpcLis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	adminLis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, grpcLis, adminLis) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		if t.Failed() {
			t.Logf("proxide logs:\n%s", logs.String())
		}
	})

	opts := envoy.Options{ExtProcAddr: grpcLis.Addr().String(), Upstream: upSrv.URL,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("component", "envoy")}
	if envoyOpts != nil {
		envoyOpts(&opts)
	}
	si, err := envoy.New(opts)
	require.NoError(t, err)
	front := httptest.NewServer(si)
	t.Cleanup(func() { front.Close(); require.NoError(t, si.Close()) })
	return &stack{app: a, upstream: up, upURL: upSrv.URL, front: front.URL, admin: "http://" + adminLis.Addr().String(),
		grpcAddr: grpcLis.Addr().String(), logs: logs, standin: si}
}

// testClient reuses keep-alive connections, as the SDKs do: the stand-in
// keeps a connection open across local replies like Envoy
// (envoy/keepalive.go).
var testClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

type call struct {
	method, path, body, client string
	headers                    map[string]string
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *stack) do(t *testing.T, c call) reply {
	t.Helper()
	return send(t, s.front+c.path, c, "prox-e2e-app")
}

// direct sends the request straight to the fake upstream, bypassing Envoy
// and Proxide: the reference for byte-for-byte comparisons.
func (s *stack) direct(t *testing.T, upstreamURL string, c call) []byte {
	t.Helper()
	c.client = ""
	return send(t, upstreamURL+strings.Replace(c.path, "/openai/v1/", "/v1/", 1), c, "").body
}

// try is do for goroutines other than the test's, where require must not
// stop the test: it returns the error instead.
func (s *stack) try(ctx context.Context, c call) (reply, error) {
	return trySend(ctx, s.front+c.path, c, "prox-e2e-app")
}

func send(t *testing.T, url string, c call, key string) reply {
	t.Helper()
	r, err := trySend(t.Context(), url, c, key)
	require.NoError(t, err)
	return r
}

func trySend(ctx context.Context, url string, c call, key string) (reply, error) {
	if c.method == "" {
		c.method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, c.method, url, strings.NewReader(c.body))
	if err != nil {
		return reply{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.client != "" {
		req.Header.Set("x-proxide-client-id", c.client)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	b, err := io.ReadAll(resp.Body)
	if err := errors.Join(err, resp.Body.Close()); err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// spend reads a client's ledger state.
func (s *stack) spend(t *testing.T, client string) budget.ClientSpend {
	t.Helper()
	now := time.Now()
	cal, err := budget.NewCalendar(s.app.cfg.Budgets.Timezone)
	require.NoError(t, err)
	sp, err := s.app.store.Spend(context.Background(), client, rules.Rule{}, cal.Periods(now), now)
	require.NoError(t, err)
	return sp
}

func usageOf(t *testing.T, body []byte) (prompt, cached, completion int64) {
	t.Helper()
	var v struct {
		Usage struct {
			PromptTokens        int64 `json:"prompt_tokens"`
			CompletionTokens    int64 `json:"completion_tokens"`
			InputTokens         int64 `json:"input_tokens"`
			OutputTokens        int64 `json:"output_tokens"`
			PromptTokensDetails struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
			InputTokensDetails struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"input_tokens_details"`
		}
	}
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	u := v.Usage
	return u.PromptTokens + u.InputTokens, u.PromptTokensDetails.CachedTokens + u.InputTokensDetails.CachedTokens, u.CompletionTokens + u.OutputTokens
}

// sseUsage finds the usage in an SSE body (chat usage chunk or response.completed).
func sseUsage(t *testing.T, body []byte) (prompt, cached, completion int64) {
	t.Helper()
	for _, line := range strings.Split(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"usage":{`) {
			continue
		}
		var ev struct {
			Response json.RawMessage `json:"response"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		if len(ev.Response) > 0 {
			return usageOf(t, ev.Response)
		}
		return usageOf(t, []byte(data))
	}
	t.Fatalf("no usage in stream:\n%s", body)
	return
}

// Hand-written prices (nano-dollars per token) of the models the tests use,
// from the 2026-07-24 LiteLLM snapshot: input, cached input, output.
var handPrices = map[string][3]int64{
	"gpt-4o-mini-2024-07-18": {150, 75, 600},
	"gpt-4o-2024-08-06":      {2500, 1250, 10000},
	"text-embedding-3-small": {20, 20, 0},
	"gpt-3.5-turbo-instruct": {1500, 1500, 2000},
	"pricey":                 {10_000_000, 10_000_000, 10_000_000},
}

func handCost(t *testing.T, model string, prompt, cached, completion int64) int64 {
	t.Helper()
	p, ok := handPrices[model]
	require.True(t, ok, "no hand price for %s", model)
	return (prompt-cached)*p[0] + cached*p[1] + completion*p[2]
}

func TestE2EEndpointsAreChargedExactly(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	tests := []struct {
		name        string
		call        call
		model       string // the dated model the upstream reports
		sse         bool
		wantContent string
	}{
		{"chat", call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}]}`}, "gpt-4o-mini-2024-07-18", false, `"chat.completion"`},
		{"chat tools", call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"What is the weather in Paris?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`}, "gpt-4o-2024-08-06", false, `"tool_calls"`},
		{"chat json mode", call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o-mini","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"Give me JSON"}]}`}, "gpt-4o-mini-2024-07-18", false, `"content"`},
		{"chat cached prompt", call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"A long shared prefix"}]}`, headers: map[string]string{"x-fake-cached-tokens": "4"}}, "gpt-4o-2024-08-06", false, `"cached_tokens":4`},
		{"stream with client usage", call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Stream please"}]}`}, "gpt-4o-mini-2024-07-18", true, `"choices":[]`},
		{"responses", call{path: "/openai/v1/responses", body: `{"model":"gpt-4o","input":"Write a haiku"}`}, "gpt-4o-2024-08-06", false, `"object":"response"`},
		{"responses stream", call{path: "/openai/v1/responses", body: `{"model":"gpt-4o-mini","input":"Write a haiku","stream":true}`}, "gpt-4o-mini-2024-07-18", true, "response.completed"},
		{"embeddings", call{path: "/openai/v1/embeddings", body: `{"model":"text-embedding-3-small","input":["one","two","three"]}`}, "text-embedding-3-small", false, `"embedding"`},
		{"legacy completions", call{path: "/openai/v1/completions", body: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test"}`}, "gpt-3.5-turbo-instruct", false, `"text_completion"`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fmt.Sprintf("e2e-%d", i)
			tc.call.client = client
			r := s.do(t, tc.call)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			require.Contains(t, string(r.body), tc.wantContent)

			var prompt, cached, completion int64
			if tc.sse {
				prompt, cached, completion = sseUsage(t, r.body)
			} else {
				prompt, cached, completion = usageOf(t, r.body)
			}
			require.Positive(t, prompt)
			want := handCost(t, tc.model, prompt, cached, completion)
			sp := s.spend(t, client)
			require.Equal(t, want, sp.Day.SpentNano, "charged to the nano-dollar")
			require.Equal(t, want, sp.Month.SpentNano)
			require.Zero(t, sp.Day.ReservedNano, "the reservation is gone once settled")
			require.Equal(t, int64(1), sp.Today.Requests)
			require.Len(t, sp.Today.Models, 1)
			require.Equal(t, tc.model, sp.Today.Models[0].Model, "priced by the dated model the upstream used")

			// What the upstream received: the upstream key, no client id, no accept-encoding.
			last := s.upstream.Last()
			require.Equal(t, "Bearer sk-upstream-secret", last.Header.Get("Authorization"))
			require.Empty(t, last.Header.Get("x-proxide-client-id"))
			require.Empty(t, last.Header.Get("Accept-Encoding"))
			require.True(t, strings.HasPrefix(last.Path, "/v1/"), "Envoy rewrote %s", last.Path)
		})
	}
}

func TestE2EStreamWithoutClientUsageIsByteForByte(t *testing.T) {
	s := startStack(t, e2eConfig, func(o *envoy.Options) {
		// Envoy hands chunks over as the socket delivers them: split everywhere.
		o.ResponseChunkSplit = func(b []byte) [][]byte {
			var out [][]byte
			for len(b) > 7 {
				out = append(out, b[:7])
				b = b[7:]
			}
			return append(out, b)
		}
	})
	c := call{path: "/openai/v1/chat/completions", client: "streamer",
		body: `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me something"}]}`}
	r := s.do(t, c)
	require.Equal(t, http.StatusOK, r.status)

	// The upstream got include_usage (injected) …
	var sent map[string]any
	require.NoError(t, json.Unmarshal(s.upstream.Last().Body, &sent))
	require.Equal(t, map[string]any{"include_usage": true}, sent["stream_options"])
	// … but the client gets exactly what the upstream sends without it.
	// The fake numbers its completions; that counter is the only difference allowed.
	want := s.direct(t, s.upURL, c)
	ids := regexp.MustCompile(`chatcmpl-fake\d+`)
	require.Equal(t, ids.ReplaceAllString(string(want), "ID"), ids.ReplaceAllString(string(r.body), "ID"))
	require.NotContains(t, string(r.body), `"usage"`)

	// And the charge is exact: the usage the upstream reported with include_usage.
	withUsage := c
	withUsage.body = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tell me something"}]}`
	prompt, cached, completion := sseUsage(t, s.direct(t, s.upURL, withUsage))
	sp := s.spend(t, "streamer")
	require.Equal(t, handCost(t, "gpt-4o-mini-2024-07-18", prompt, cached, completion), sp.Day.SpentNano)
	require.Zero(t, sp.Today.Models[0].Estimated)
}
