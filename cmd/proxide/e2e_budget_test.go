package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// priceyCall costs a known amount: one cent per token, prompt and output.
func priceyCall(client string, words int) call {
	return call{path: "/openai/v1/chat/completions", client: client,
		body:    fmt.Sprintf(`{"model":"pricey","max_tokens":%d,"messages":[{"role":"user","content":"spend"}]}`, words),
		headers: map[string]string{"x-fake-words": strconv.Itoa(words)}}
}

func TestE2EDailyBudgetBlocksWithExact402(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	var spent int64
	for i := 0; ; i++ {
		require.Less(t, i, 20, "user-12345 was never blocked")
		r := s.do(t, priceyCall("user-12345", 5))
		if r.status == http.StatusPaymentRequired {
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			retry, err := strconv.Atoi(r.header.Get("Retry-After"))
			require.NoError(t, err)
			require.InDelta(t, time.Until(nextMidnightUTC()).Seconds(), retry, 5)
			require.Equal(t, "false", r.header.Get("X-Should-Retry"))
			want := fmt.Sprintf(`{"error":{"type":"budget_exceeded","message":"Daily budget limit of $0.50 exceeded for client user-12345","client_id":"user-12345","limit_type":"daily","limit_usd":0.5,"spent_usd":%s,"code":"budget_exceeded","param":null}}`,
				strconv.FormatFloat(float64(spent)/1e9, 'f', -1, 64))
			require.Equal(t, want, strings.TrimSpace(string(r.body)))
			break
		}
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		p, c, o := usageOf(t, r.body)
		spent += handCost(t, "pricey", p, c, o)
	}
	require.GreaterOrEqual(t, spent, int64(500_000_000))
	require.Equal(t, spent, s.spend(t, "user-12345").Day.SpentNano)

	// Blocked again (now from the local cache at the request headers); nothing reaches the upstream.
	before := len(s.upstream.Requests())
	r := s.do(t, priceyCall("user-12345", 5))
	require.Equal(t, http.StatusPaymentRequired, r.status)
	require.Len(t, s.upstream.Requests(), before)

	// Another client is not affected.
	r = s.do(t, priceyCall("user-67890", 5))
	require.Equal(t, http.StatusOK, r.status)

	// The admin API shows the state.
	var view map[string]any
	require.Equal(t, http.StatusOK, s.adminGet(t, "/v1/clients/user-12345", "prox-e2e-ops", &view))
	require.Equal(t, "blocked", view["state"])
	require.InDelta(t, 0.5, view["today"].(map[string]any)["limit_usd"], 1e-9)
}

func nextMidnightUTC() time.Time {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
}

func TestE2EMonthlyLimitReportsMonthly(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	var last reply
	for i := 0; i < 20; i++ {
		last = s.do(t, priceyCall("monthly-capped", 5))
		if last.status != http.StatusOK {
			break
		}
	}
	require.Equal(t, http.StatusPaymentRequired, last.status)
	var body struct{ Error map[string]any }
	require.NoError(t, json.Unmarshal(last.body, &body))
	require.Equal(t, "monthly", body.Error["limit_type"])
	require.Contains(t, body.Error["message"], "Monthly budget limit of $0.50 exceeded for client monthly-capped")
}

func TestE2EAlertRuleNeverBlocks(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	for i := 0; i < 5; i++ {
		r := s.do(t, priceyCall("trial-abc", 5))
		require.Equal(t, http.StatusOK, r.status, "request %d: %s", i, r.body)
	}
	sp := s.spend(t, "trial-abc")
	require.Greater(t, sp.Day.SpentNano, int64(50_000_000), "well past the $0.05 alert limit")
	require.Contains(t, s.logs.String(), "budget alert threshold crossed")
	require.Equal(t, 2, strings.Count(s.logs.String(), "budget alert threshold crossed"), "0.8 and 1.0, once each")
}

func TestE2ECutStreamIsCharged(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	c := call{path: "/openai/v1/chat/completions", client: "cutter",
		body:    `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Tell me a long story"}]}`,
		headers: map[string]string{"x-fake-cut-after": "6", "x-fake-words": "50", "x-fake-delay-ms": "10"}}
	cutRequest(t, s, c)
	require.Eventually(t, func() bool { return s.spend(t, "cutter").Today.Requests == 1 }, 5*time.Second, 10*time.Millisecond)
	sp := s.spend(t, "cutter")
	require.Zero(t, sp.Day.ReservedNano)
	m := sp.Today.Models[0]
	require.Equal(t, int64(1), m.Estimated, "no usage arrived: the charge is a tiktoken count")
	require.Positive(t, m.Tokens.Prompt)
	require.Positive(t, m.Tokens.Completion, "the streamed words are charged")
	require.Less(t, m.Tokens.Completion, int64(50), "but not the words never sent")
	require.Equal(t, handCost(t, "gpt-4o-mini-2024-07-18", m.Tokens.Prompt, 0, m.Tokens.Completion), sp.Day.SpentNano)
}

func TestE2EUpstreamErrorsChargeNothing(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	for _, code := range []int{400, 429, 500} {
		c := priceyCall("erratic", 5)
		c.headers["x-fake-status"] = strconv.Itoa(code)
		r := s.do(t, c)
		require.Equal(t, code, r.status)
	}
	sp := s.spend(t, "erratic")
	require.Zero(t, sp.Day.SpentNano)
	require.Zero(t, sp.Day.ReservedNano)
	require.Equal(t, int64(3), sp.Today.Failed)
}

func TestE2EUnmeteredPathAndAuth(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	r := s.do(t, call{method: http.MethodGet, path: "/openai/v1/models", client: "lister"})
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `"object":"list"`)
	require.Equal(t, "Bearer sk-upstream-secret", s.upstream.Last().Header.Get("Authorization"))
	require.Zero(t, s.spend(t, "lister").Today.Requests, "listing models costs nothing")

	r = s.do(t, call{path: "/openai/v1/chat/completions", client: "x", body: `{"model":"gpt-4o-mini","messages":[]}`,
		headers: map[string]string{"Authorization": "Bearer prox-wrong"}})
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Contains(t, string(r.body), `"code":"invalid_api_key"`)

	r = s.do(t, call{path: "/openai/v1/chat/completions", body: `{"model":"gpt-4o-mini","messages":[]}`})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), `"type":"missing_client_id"`)
}

func (s *stack) adminGet(t *testing.T, path, key string, into any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.admin+path, http.NoBody)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if into != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, into), "body: %s", b)
	}
	return resp.StatusCode
}

func TestE2EAdminPortAndHealth(t *testing.T) {
	s := startStack(t, e2eConfig, nil)
	require.Equal(t, http.StatusOK, s.adminGet(t, "/healthz", "", nil))
	require.Equal(t, http.StatusOK, s.adminGet(t, "/readyz", "", nil))
	require.Equal(t, http.StatusOK, s.adminGet(t, "/metrics", "", nil))
	require.Equal(t, http.StatusUnauthorized, s.adminGet(t, "/v1/clients/a", "", nil))
	require.Equal(t, http.StatusForbidden, s.adminGet(t, "/v1/clients/a", "prox-e2e-app", nil))
	require.Equal(t, http.StatusBadRequest, s.adminGet(t, "/v1/clients/a%01b", "prox-e2e-ops", nil))

	r := s.do(t, call{path: "/openai/v1/chat/completions", client: "viewer", body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`})
	require.Equal(t, http.StatusOK, r.status)
	var view struct {
		ClientID string `json:"client_id"`
		State    string `json:"state"`
		Today    struct {
			SpentUSD float64  `json:"spent_usd"`
			LimitUSD *float64 `json:"limit_usd"`
		} `json:"today"`
		Models []struct {
			Model            string `json:"model"`
			Requests         int64  `json:"requests"`
			CompletionTokens int64  `json:"completion_tokens"`
		} `json:"models_today"`
	}
	require.Equal(t, http.StatusOK, s.adminGet(t, "/v1/clients/viewer", "prox-e2e-ops", &view))
	require.Equal(t, "viewer", view.ClientID)
	require.Equal(t, "ok", view.State)
	require.Positive(t, view.Today.SpentUSD)
	require.InDelta(t, 100.0, *view.Today.LimitUSD, 1e-9, "the default rule applies")
	require.Len(t, view.Models, 1)
	require.Equal(t, "gpt-4o-mini-2024-07-18", view.Models[0].Model)

	var metrics string
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.admin+"/metrics", http.NoBody)
	require.NoError(t, err)
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	metrics = string(b)
	require.Contains(t, metrics, `proxide_requests_total{endpoint="chat.completions.create",outcome="ok"} 1`)
	require.Contains(t, metrics, `proxide_spend_usd_total{model="gpt-4o-mini-2024-07-18"}`)

	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close()) }()
	hr, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "envoy.service.ext_proc.v3.ExternalProcessor"})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, hr.GetStatus())
}
