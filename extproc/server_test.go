package extproc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

const (
	gatewayKey = "prox-test-gateway"
	adminKey   = "prox-test-admin"
	chatPath   = "/openai/v1/chat/completions"
)

type fixture struct {
	srv    *Server
	ledger *fakeLedger
}

func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	keys, err := auth.NewKeys([]auth.KeySpec{
		{Name: "gw", SHA256: auth.Hash(gatewayKey), Scopes: []string{auth.ScopeGateway}},
		{Name: "adm", SHA256: auth.Hash(adminKey), Scopes: []string{auth.ScopeAdmin}},
	})
	require.NoError(t, err)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	l := &fakeLedger{}
	opts := Options{
		Ledger:      l,
		Pricer:      pricing.New(pricing.Options{}),
		Rules:       staticRules{rules.Rule{Daily: rules.LimitOf(500_000_000)}},
		Calendar:    cal,
		Keys:        keys,
		UpstreamKey: "sk-upstream",
		Now:         func() time.Time { return fixedNow },
	}
	if mod != nil {
		mod(&opts)
	}
	srv, err := New(opts)
	require.NoError(t, err)
	return &fixture{srv: srv, ledger: l}
}

// run plays the messages through Process and returns the replies.
func (f *fixture) run(t *testing.T, endErr error, msgs ...*extprocv3.ProcessingRequest) []*extprocv3.ProcessingResponse {
	t.Helper()
	st := &fakeStream{ctx: context.Background(), in: msgs, endErr: endErr}
	require.NoError(t, f.srv.Process(st))
	return st.out
}

func chatHeaders(extra ...string) *extprocv3.ProcessingRequest {
	kv := append([]string{":method", "POST", ":path", chatPath, ":authority", "gw.local", ":scheme", "http",
		"authorization", "Bearer " + gatewayKey, "x-proxide-client-id", "user-12345",
		"content-type", "application/json", "content-length", "100", "accept-encoding", "gzip, br"}, extra...)
	return reqHeaders(false, kv...)
}

// The header mutation every authenticated request gets.
func wantRequestMutation() *extprocv3.HeaderMutation {
	return &extprocv3.HeaderMutation{
		SetHeaders:    []*corev3.HeaderValueOption{setHeader("authorization", "Bearer sk-upstream")},
		RemoveHeaders: []string{"accept-encoding", "x-proxide-client-id"},
	}
}

func immediateOf(t *testing.T, r *extprocv3.ProcessingResponse) (int, map[string]string, map[string]any) {
	t.Helper()
	ir := r.GetImmediateResponse()
	require.NotNil(t, ir, "want an ImmediateResponse, got %v", r)
	h := map[string]string{}
	for _, o := range ir.GetHeaders().GetSetHeaders() {
		require.Empty(t, o.GetHeader().GetValue(), "header %s must use raw_value only", o.GetHeader().GetKey())
		h[o.GetHeader().GetKey()] = string(o.GetHeader().GetRawValue())
	}
	var body map[string]any
	require.NoError(t, json.Unmarshal(ir.GetBody(), &body))
	return int(ir.GetStatus().GetCode()), h, body
}

func TestUnmeteredPathIsReleasedAfterHeaders(t *testing.T) {
	f := newFixture(t, nil)
	out := f.run(t, nil, reqHeaders(true, ":method", "GET", ":path", "/openai/v1/models",
		"authorization", "Bearer "+gatewayKey, "x-proxide-client-id", "user-1", "accept-encoding", "gzip"))
	want := []*extprocv3.ProcessingResponse{{
		Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: wantRequestMutation()}}},
		ModeOverride: releaseAfterHeaders,
	}}
	require.Empty(t, cmpDiff(want, out))
	require.Empty(t, f.ledger.reserves, "an unmetered path must not touch the ledger")
}

func cmpDiff(want, got []*extprocv3.ProcessingResponse) string {
	if len(want) != len(got) {
		return "reply count differs"
	}
	for i := range want {
		if d := protocmpDiff(want[i], got[i]); d != "" {
			return d
		}
	}
	return ""
}

func TestRequestHeaderRejections(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		name       string
		mod        func(*Options)
		headers    []string
		wantStatus int
		wantType   string
		wantCode   string
	}{
		{"no key", nil, []string{"x-proxide-client-id", "a"}, 401, "invalid_request_error", "invalid_api_key"},
		{"unknown key", nil, []string{"authorization", "Bearer prox-nope", "x-proxide-client-id", "a"}, 401, "invalid_request_error", "invalid_api_key"},
		{"admin-only key", nil, []string{"authorization", "Bearer " + adminKey, "x-proxide-client-id", "a"}, 403, "invalid_request_error", "insufficient_scope"},
		{"missing client id", nil, []string{"authorization", "Bearer " + gatewayKey}, 400, "missing_client_id", "missing_client_id"},
		{"empty client id", nil, []string{"authorization", "Bearer " + gatewayKey, "x-proxide-client-id", ""}, 400, "missing_client_id", "missing_client_id"},
		{"client id too long", nil, []string{"authorization", "Bearer " + gatewayKey, "x-proxide-client-id", long}, 400, "invalid_client_id", "invalid_client_id"},
		{"client id with control char", nil, []string{"authorization", "Bearer " + gatewayKey, "x-proxide-client-id", "a\x01b"}, 400, "invalid_client_id", "invalid_client_id"},
		{"client id not utf-8", nil, []string{"authorization", "Bearer " + gatewayKey, "x-proxide-client-id", "a\xffb"}, 400, "invalid_client_id", "invalid_client_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.mod)
			kv := append([]string{":method", "POST", ":path", chatPath}, tc.headers...)
			out := f.run(t, nil, reqHeaders(false, kv...), reqBody(`{"model":"gpt-4o-mini","messages":[]}`))
			require.Len(t, out, 1, "the stream ends with the local reply")
			code, h, body := immediateOf(t, out[0])
			require.Equal(t, tc.wantStatus, code)
			require.Equal(t, "application/json", h["content-type"])
			e := body["error"].(map[string]any)
			require.Equal(t, tc.wantType, e["type"])
			require.Equal(t, tc.wantCode, e["code"])
			require.NotEmpty(t, e["message"])
			require.Empty(t, f.ledger.reserves)
		})
	}
}

func TestDefaultClientIDAndRawValueFallback(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.DefaultClientID = "anonymous"; o.Keys = nil; o.UpstreamKey = "" })
	// An older Envoy that sends value instead of raw_value.
	h := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":method", Value: "POST"}, {Key: ":path", Value: "/v1/chat/completions"}}}}}}
	out := f.run(t, nil, h, reqBody(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	require.Len(t, out, 2)
	require.NotNil(t, out[0].GetRequestHeaders())
	require.Nil(t, out[0].GetModeOverride(), "a metered path keeps the full processing mode")
	require.Len(t, f.ledger.reserves, 1)
	require.Equal(t, "anonymous", f.ledger.reserves[0].ClientID)
}

const chatJSON = `{"id":"chatcmpl-1","object":"chat.completion","created":1764300000,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`

func TestChatCompletionReservesAndSettlesExactCost(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"Say hello"}]}`
	out := f.run(t, nil,
		chatHeaders(), reqBody(body),
		respHeaders(false, ":status", "200", "content-type", "application/json"),
		respBody(chatJSON[:40], false), respBody(chatJSON[40:], false), respBody("", true))
	require.Len(t, out, 6)
	require.Empty(t, protocmpDiff(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{HeaderMutation: wantRequestMutation()}}}}, out[0]))
	require.Nil(t, out[1].GetRequestBody().GetResponse(), "a non-streaming body passes unchanged")
	for _, r := range out[3:] {
		require.NotNil(t, r.GetResponseBody())
		require.Nil(t, r.GetResponseBody().GetResponse(), "response chunks pass unchanged")
	}

	require.Len(t, f.ledger.reserves, 1)
	res := f.ledger.reserves[0]
	req, err := usage.ParseRequest(usage.ChatCompletions, []byte(body), usage.Options{})
	require.NoError(t, err)
	// gpt-4o-mini: $0.15 / $0.60 per Mtok → 150 and 600 nano-dollars per token.
	wantEstimate := req.PromptTokens*150 + 100*600
	require.Equal(t, wantEstimate, res.EstimateNano)
	require.Equal(t, "user-12345", res.ClientID)
	require.Equal(t, "2026-11-28", res.Periods.Day.Key)

	require.Len(t, f.ledger.settles, 1)
	s := f.ledger.settles[0]
	require.Equal(t, res.ID, s.ID)
	// 20 prompt × $0.15/M + 10 completion × $0.60/M = $0.000009.
	require.Equal(t, int64(9000), s.ActualNano)
	require.Equal(t, "gpt-4o-mini-2024-07-18", s.Model)
	require.Equal(t, budget.Tokens{Prompt: 20, Completion: 10}, s.Tokens)
	require.False(t, s.Estimated)
	require.False(t, s.Failed)
}

func TestStreamingChatInjectsAndStripsUsage(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	chunk := func(content string) string {
		return `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"` + content + `"},"finish_reason":null}],"usage":null}` + "\n\n"
	}
	usageChunk := `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":2,"total_tokens":10}}` + "\n\n"
	chunks := []string{chunk("Hel"), chunk("lo"), usageChunk + "data: [DONE]\n\n", ""}
	msgs := []*extprocv3.ProcessingRequest{chatHeaders(), reqBody(body), respHeaders(false, ":status", "200", "content-type", "text/event-stream")}
	for i, c := range chunks {
		msgs = append(msgs, respBody(c, i == len(chunks)-1))
	}
	out := f.run(t, nil, msgs...)

	// The request body gained stream_options.include_usage and a matching content-length.
	br := out[1].GetRequestBody().GetResponse()
	require.NotNil(t, br)
	newBody := br.GetBodyMutation().GetBody()
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(newBody, &decoded))
	require.Equal(t, map[string]any{"include_usage": true}, decoded["stream_options"])
	require.Equal(t, []*corev3.HeaderValueOption{setHeader("content-length", strconv.Itoa(len(newBody)))}, br.GetHeaderMutation().GetSetHeaders())

	// The client receives the stream as if it had never asked for usage.
	client := applyBodyReplies(t, chunks, out[3:])
	plain := strings.ReplaceAll(chunk("Hel")+chunk("lo"), `,"usage":null`, "") + "data: [DONE]\n\n"
	require.Equal(t, plain, client)

	require.Len(t, f.ledger.settles, 1)
	// 8 × $0.15/M + 2 × $0.60/M = $0.0000024.
	require.Equal(t, int64(2400), f.ledger.settles[0].ActualNano)
	require.False(t, f.ledger.settles[0].Estimated)
}

// applyBodyReplies does what Envoy does with STREAMED body replies: each
// reply replaces, clears or keeps its chunk; the client gets the concatenation.
func applyBodyReplies(t *testing.T, chunks []string, replies []*extprocv3.ProcessingResponse) string {
	t.Helper()
	require.Len(t, replies, len(chunks))
	var b strings.Builder
	for i, r := range replies {
		rb := r.GetResponseBody()
		require.NotNil(t, rb, "reply %d is not a response_body reply: %v", i, r)
		m := rb.GetResponse().GetBodyMutation()
		switch {
		case m == nil:
			b.WriteString(chunks[i])
		case m.GetClearBody():
		default:
			b.Write(m.GetBody())
		}
	}
	return b.String()
}

func protocmpDiff(want, got *extprocv3.ProcessingResponse) string {
	return cmp.Diff(want, got, protocmp.Transform())
}

func TestUpstreamErrorChargesNothing(t *testing.T) {
	for _, code := range []string{"400", "429", "500", "503"} {
		t.Run(code, func(t *testing.T) {
			f := newFixture(t, nil)
			f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`),
				respHeaders(false, ":status", code, "content-type", "application/json"),
				respBody(`{"error":{"message":"boom","type":"server_error"}}`, true))
			require.Len(t, f.ledger.settles, 1)
			s := f.ledger.settles[0]
			require.True(t, s.Failed)
			require.Zero(t, s.ActualNano)
			require.Equal(t, f.ledger.reserves[0].ID, s.ID)
		})
	}
}

func TestOverBudgetAnswersExact402(t *testing.T) {
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	periods := cal.Periods(fixedNow)
	f := newFixture(t, nil)
	f.ledger.admit = func(budget.ReserveRequest) (budget.Admission, error) {
		return budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, LimitNano: 500_000_000,
			SpentNano: 520_000_000, Period: periods.Day, SettledOnly: true}}, nil
	}
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}`
	out := f.run(t, nil, chatHeaders(), reqBody(body))
	require.Len(t, out, 2)
	ir := out[1].GetImmediateResponse()
	require.NotNil(t, ir)
	require.Equal(t, 402, int(ir.GetStatus().GetCode()))
	require.JSONEq(t, `{"error":{"type":"budget_exceeded","message":"Daily budget limit of $0.50 exceeded for client user-12345",
		"client_id":"user-12345","limit_type":"daily","limit_usd":0.50,"spent_usd":0.52,"code":"budget_exceeded","param":null}}`, string(ir.GetBody()))
	// The exact bytes too: the wire body's key order and number format are pinned.
	require.Equal(t, `{"error":{"type":"budget_exceeded","message":"Daily budget limit of $0.50 exceeded for client user-12345","client_id":"user-12345","limit_type":"daily","limit_usd":0.5,"spent_usd":0.52,"code":"budget_exceeded","param":null}}`, string(ir.GetBody())) //nolint:testifylint // encoded-compare: JSONEq above checks the meaning, this pins the bytes
	_, h, _ := immediateOf(t, out[1])
	// 15:30 UTC → 8.5 hours to midnight.
	require.Equal(t, "30600", h["retry-after"])
	require.Equal(t, "false", h["x-should-retry"], "the SDKs must not retry a refusal")
	require.Equal(t, "application/json", h["content-type"])
	require.Empty(t, f.ledger.settles, "a refused request holds no reservation")

	// A client the ledger knows to be refused (settled spend alone is over the
	// limit) is refused at the headers, without a ledger round trip.
	f.ledger.refusals = map[string]blockcache.Refusal{"user-12345": {Exceeded: &budget.Exceeded{Kind: budget.Daily,
		LimitNano: 500_000_000, SpentNano: 520_000_000, Period: periods.Day, SettledOnly: true}}}
	out = f.run(t, nil, chatHeaders(), reqBody(body))
	require.Len(t, out, 1)
	code, _, got := immediateOf(t, out[0])
	require.Equal(t, 402, code)
	require.Equal(t, "budget_exceeded", got["error"].(map[string]any)["type"])
	require.Len(t, f.ledger.reserves, 1)
}

func TestMonthlyLimitMessage(t *testing.T) {
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	p := cal.Periods(fixedNow)
	resp := budgetExceeded("team-a", budget.Exceeded{Kind: budget.Monthly, LimitNano: 5_000_000_000, SpentNano: 5_000_000_123, Period: p.Month}, fixedNow)
	require.JSONEq(t, `{"error":{"type":"budget_exceeded","message":"Monthly budget limit of $5.00 exceeded for client team-a","client_id":"team-a","limit_type":"monthly","limit_usd":5.00,"spent_usd":5.0,"code":"budget_exceeded","param":null}}`,
		string(resp.GetImmediateResponse().GetBody()))
	// Two days and 8.5 hours until December.
	_, h, _ := immediateOf(t, resp)
	require.Equal(t, "203400", h["retry-after"])
}

func TestLedgerDownRefusesWith503(t *testing.T) {
	f := newFixture(t, nil)
	f.ledger.admit = func(budget.ReserveRequest) (budget.Admission, error) {
		return budget.Admission{}, budget.ErrUnavailable
	}
	out := f.run(t, nil, chatHeaders(), reqBody(`{"model":"gpt-4o-mini","messages":[]}`))
	code, _, body := immediateOf(t, out[1])
	require.Equal(t, 503, code)
	require.Equal(t, "budget_unavailable", body["error"].(map[string]any)["code"])
	require.Equal(t, "budget_unavailable", body["error"].(map[string]any)["type"])
}

func TestBadBodiesAnswer400(t *testing.T) {
	tests := []struct{ name, body, code string }{
		{"not json", `{"model":`, "invalid_body"},
		{"array", `[1,2]`, "invalid_body"},
		{"no model", `{"messages":[]}`, "invalid_body"},
		{"unpriced model refused", `{"model":"my-private-llm","messages":[]}`, "model_not_priced"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil) // pricing.Options{} has no fallback: unknown models are refused
			out := f.run(t, nil, chatHeaders(), reqBody(tc.body))
			code, _, body := immediateOf(t, out[1])
			require.Equal(t, 400, code)
			require.Equal(t, tc.code, body["error"].(map[string]any)["code"])
			require.Empty(t, f.ledger.reserves)
		})
	}
}

func TestUnknownModelUsesFallbackPrice(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Pricer = pricing.New(pricing.Options{Fallback: &pricing.TierPrice{Input: 10_000_000_000, CachedInput: 10_000_000_000, Output: 30_000_000_000}})
	})
	f.run(t, nil, chatHeaders(), reqBody(`{"model":"my-private-llm","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`),
		respHeaders(false, ":status", "200", "content-type", "application/json"),
		respBody(`{"model":"my-private-llm","usage":{"prompt_tokens":100,"completion_tokens":10}}`, true))
	require.Len(t, f.ledger.settles, 1)
	// 100 × $10/M + 10 × $30/M = $0.0013.
	require.Equal(t, int64(1_300_000), f.ledger.settles[0].ActualNano)
}

func TestCutStreamChargesPromptAndStreamedTokens(t *testing.T) {
	for _, end := range []error{status.Error(codes.Canceled, "client gone"), io.EOF} {
		t.Run(fmt.Sprint(end), func(t *testing.T) {
			f := newFixture(t, nil)
			body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Tell me a story"}]}`
			ev := func(c string) string {
				return `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"` + c + `"},"finish_reason":null}]}` + "\n\n"
			}
			f.run(t, end, chatHeaders(), reqBody(body),
				respHeaders(false, ":status", "200", "content-type", "text/event-stream"),
				respBody(ev("Once upon")+ev(" a time"), false), respBody(ev(" there was"), false))
			require.Len(t, f.ledger.settles, 1, "a cut stream is still settled, once")
			s := f.ledger.settles[0]
			require.True(t, s.Estimated)
			require.False(t, s.Failed)
			req, err := usage.ParseRequest(usage.ChatCompletions, []byte(body), usage.Options{})
			require.NoError(t, err)
			require.Equal(t, req.PromptTokens, s.Tokens.Prompt)
			streamed := usage.CountTokens("gpt-4o-mini", "Once upon a time there was")
			require.InDelta(t, streamed, s.Tokens.Completion, 2)
			require.Positive(t, s.Tokens.Completion)
			want, err := pricing.CostOf(pricing.TierPrice{Input: 150_000_000, CachedInput: 75_000_000, Output: 600_000_000},
				pricing.Usage{PromptTokens: s.Tokens.Prompt, CompletionTokens: s.Tokens.Completion})
			require.NoError(t, err)
			require.Equal(t, want, s.ActualNano)
		})
	}
}

func TestClientGoneBeforeResponseChargesTheWorstCase(t *testing.T) {
	// The request went upstream and OpenAI may finish it: what it cost is
	// unknown, so the reservation is charged, marked estimated.
	f := newFixture(t, nil)
	f.run(t, status.Error(codes.Canceled, "gone"), chatHeaders(), reqBody(`{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`))
	require.Len(t, f.ledger.settles, 1)
	s := f.ledger.settles[0]
	require.True(t, s.Estimated)
	require.Equal(t, f.ledger.reserves[0].EstimateNano, s.ActualNano)
	require.Equal(t, int64(16384), s.Tokens.Completion, "gpt-4o's max_output_tokens")
}

func TestEndpointsAreMetered(t *testing.T) {
	tests := []struct {
		path, body, resp string
		want             int64
	}{
		// text-embedding-3-small: 1000 × $0.02/M.
		{"/openai/v1/embeddings", `{"model":"text-embedding-3-small","input":"hello"}`,
			`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1000,"total_tokens":1000}}`, 20_000},
		// gpt-4o Responses API: 100 in (40 cached) × …, 50 out: 60×2.5 + 40×1.25 + 50×10 = 700 nano per 1000… = $0.0007.
		{"/openai/v1/responses", `{"model":"gpt-4o","input":"hi"}`,
			`{"id":"resp_1","object":"response","model":"gpt-4o-2024-08-06","output":[],"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":150}}`, 700_000},
		// gpt-3.5-turbo-instruct: 10 × $1.5/M + 5 × $2/M.
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this"}`,
			`{"id":"cmpl-1","object":"text_completion","model":"gpt-3.5-turbo-instruct","choices":[{"text":"ok","index":0}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`, 25_000},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			f := newFixture(t, nil)
			f.run(t, nil, reqHeaders(false, ":method", "POST", ":path", tc.path, "authorization", "Bearer "+gatewayKey, "x-proxide-client-id", "c"),
				reqBody(tc.body), respHeaders(false, ":status", "200", "content-type", "application/json"), respBody(tc.resp, true))
			require.Len(t, f.ledger.settles, 1)
			require.Equal(t, tc.want, f.ledger.settles[0].ActualNano)
		})
	}
}

func TestBufferedBodyBeforeTrailersIsTheWholeBody(t *testing.T) {
	// An HTTP/2 client that sends request trailers: Envoy delivers the
	// BUFFERED body with end_of_stream false, and with trailer mode SKIP
	// nothing follows. The body is admitted at once: nothing goes upstream
	// without a reservation.
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	whole := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: false}}}
	f := newFixture(t, nil)
	out := f.run(t, nil, chatHeaders(), whole)
	require.Len(t, out, 2)
	require.NotNil(t, out[1].GetRequestBody().GetResponse().GetBodyMutation(), "the whole body can still be rewritten (usage injected)")
	require.Len(t, f.ledger.reserves, 1)
	require.Len(t, f.ledger.settles, 1, "the stream ended after the body went upstream: charged")

	// Trailer mode SEND: the trailers get their reply after the admission.
	f = newFixture(t, nil)
	trailers := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}}
	out = f.run(t, nil, chatHeaders(), whole, trailers)
	require.Len(t, out, 3)
	require.NotNil(t, out[2].GetRequestTrailers())
	require.Len(t, f.ledger.reserves, 1)

	// Over budget: refused at the body, never forwarded.
	f = newFixture(t, nil)
	f.ledger.admit = func(budget.ReserveRequest) (budget.Admission, error) {
		return budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, LimitNano: 1, SpentNano: 2}}, nil
	}
	out = f.run(t, nil, chatHeaders(), whole)
	code, _, _ := immediateOf(t, out[1])
	require.Equal(t, 402, code)
	require.Empty(t, f.ledger.settles)
}

func TestStreamedBodyIsHeldBackUntilAdmitted(t *testing.T) {
	// Envoy configured with a STREAMED request body: each piece is answered at
	// once, but its tail is held back, so OpenAI never has a whole body it
	// could process before the admission.
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("word ", 2000) + `"}]}`
	headers := chatHeaders()
	headers.ProtocolConfig = &extprocv3.ProtocolConfiguration{RequestBodyMode: filterv3.ProcessingMode_STREAMED}
	piece := func(b string, eos bool) *extprocv3.ProcessingRequest {
		return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
			RequestBody: &extprocv3.HttpBody{Body: []byte(b), EndOfStream: eos}}}
	}
	f := newFixture(t, nil)
	out := f.run(t, nil, headers, piece(body[:7000], false), piece(body[7000:9000], false), piece(body[9000:], true))
	require.Len(t, out, 4)
	var sent string
	for _, r := range out[1:] {
		sent += string(r.GetRequestBody().GetResponse().GetBodyMutation().GetBody())
	}
	require.Equal(t, body, sent, "every byte goes upstream once, in order")
	require.Equal(t, body[:7000-tailHold], string(out[1].GetRequestBody().GetResponse().GetBodyMutation().GetBody()))
	require.Len(t, f.ledger.reserves, 1)

	// Cut before the last piece: nothing whole went upstream, nothing reserved.
	f = newFixture(t, nil)
	f.run(t, nil, headers, piece(body[:7000], false))
	require.Empty(t, f.ledger.reserves)
	require.Empty(t, f.ledger.settles)

	// Refused at the last piece: the tail never goes.
	f = newFixture(t, nil)
	f.ledger.admit = func(budget.ReserveRequest) (budget.Admission, error) {
		return budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, LimitNano: 1, SpentNano: 2}}, nil
	}
	out = f.run(t, nil, headers, piece(body[:7000], false), piece(body[7000:], true))
	code, _, _ := immediateOf(t, out[2])
	require.Equal(t, 402, code)
}

func TestUnknownMessageClosesTheStreamOK(t *testing.T) {
	f := newFixture(t, nil)
	out := f.run(t, nil, &extprocv3.ProcessingRequest{})
	require.Empty(t, out, "no spurious reply: the stream is closed OK and Envoy continues unprocessed")
}
