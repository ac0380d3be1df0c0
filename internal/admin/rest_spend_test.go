package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/admin/api"
)

func TestSpendByDay(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var v api.SpendView
	e.get(t, "/v1/spend?client_id=user-1", &v)
	require.Equal(t, "user-1", v.ClientID)
	require.Equal(t, "2026-10-30", v.From, "default: the last 30 days")
	require.Equal(t, "2026-11-28", v.To)
	require.Equal(t, "day", v.GroupBy)
	require.Len(t, v.Series, 30, "every day, also without traffic")
	require.Equal(t, api.SpendRowView{Date: "2026-11-20", Requests: 2, PromptTokens: 200, CompletionTokens: 40, CostUSD: 2.35}, v.Series[21])
	require.Equal(t, api.SpendRowView{Date: "2026-11-28", Requests: 5, Estimated: 1, PromptTokens: 400, CachedTokens: 10,
		CompletionTokens: 70, ReasoningTokens: 2, CostUSD: 0.85}, v.Series[29])
	require.Equal(t, api.SpendRowView{Requests: 7, Estimated: 1, PromptTokens: 600, CachedTokens: 10,
		CompletionTokens: 110, ReasoningTokens: 2, CostUSD: 3.2}, v.Total)

	e.get(t, "/v1/spend?client_id=user-1&from=2026-11-28&to=2026-11-28", &v)
	require.Len(t, v.Series, 1)
	e.get(t, "/v1/spend?client_id=user-1&from=2025-11-28&to=2026-11-28", &v)
	require.Len(t, v.Series, 366, "366 days is the longest range")
}

func TestSpendByModelAllClients(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var v api.SpendView
	e.get(t, "/v1/spend?group_by=model&from=2026-11-01", &v)
	require.Empty(t, v.ClientID, "all clients")
	require.Equal(t, "model", v.GroupBy)
	require.Equal(t, []api.SpendRowView{
		{Model: "gpt-4o", Requests: 6, PromptTokens: 600, CompletionTokens: 120, CostUSD: 4.15},
		{Model: "gpt-4o-mini", Requests: 2, Estimated: 1, PromptTokens: 100, CachedTokens: 10, CompletionTokens: 10, ReasoningTokens: 2, CostUSD: 0.05},
	}, v.Series, "highest cost first, summed over days and clients")
	require.Equal(t, int64(8), v.Total.Requests)
	require.InDelta(t, 4.2, v.Total.CostUSD, 1e-9)
}

func TestSpendCSV(t *testing.T) {
	e := newEnv(t)
	e.seed()
	r := e.do(t, http.MethodGet, "/v1/spend?client_id=user-1&from=2026-11-27&to=2026-11-28&format=csv", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	require.Contains(t, r.header.Get("Content-Disposition"), `filename="proxide-spend-2026-11-27-2026-11-28.csv"`)
	require.Equal(t, "day,requests,failed,estimated,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,cost_usd,estimated_cost_usd\n"+
		"2026-11-27,0,0,0,0,0,0,0,0.000000000,0.000000000\n"+
		"2026-11-28,5,0,1,400,10,70,2,0.850000000,0.000000000\n", string(r.body))

	r = e.do(t, http.MethodGet, "/v1/spend?group_by=model&from=2026-11-01&format=csv", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "model,requests,failed,estimated,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,cost_usd,estimated_cost_usd\n"+
		"gpt-4o,6,0,0,600,0,120,0,4.150000000,0.000000000\n"+
		"gpt-4o-mini,2,0,1,100,10,10,2,0.050000000,0.000000000\n", string(r.body))
}

func TestSpendErrors(t *testing.T) {
	e := newEnv(t)
	e.seed()
	for _, q := range []struct{ query, param string }{
		{"from=2026-13-01", "from"},
		{"to=28.11.2026", "to"},
		{"from=2026-2-1", "from"},
		{"from=2026-11-28&to=2026-11-27", "from"},
		{"from=2025-11-27&to=2026-11-28", "from"},
		{"group_by=hour", "group_by"},
		{"format=xml", "format"},
		{"client_id=" + strings.Repeat("x", 257), "client_id"},
		{"client_id=a%00", "client_id"},
		{"client=user-1", "client"},
	} {
		r := e.do(t, http.MethodGet, "/v1/spend?"+q.query, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, q.query)
		_, param, msg := apiError(t, r)
		require.Equal(t, q.param, param, q.query)
		require.NotEmpty(t, msg)
	}
	e.ledger.Err = budget.ErrUnavailable
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v1/spend", "", adminKey).status)
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v1/spend?client_id=u", "", adminKey).status)
}

func TestAuthMatrix(t *testing.T) {
	e := newEnv(t)
	e.seed()
	endpoints := []struct{ method, path, body string }{
		{http.MethodPost, "/v1/budgets", `{"client_id":"x","daily_limit_usd":1}`},
		{http.MethodGet, "/v1/budgets", ""},
		{http.MethodGet, "/v1/budgets/vip", ""},
		{http.MethodDelete, "/v1/budgets/x", ""},
		{http.MethodGet, "/v1/clients", ""},
		{http.MethodGet, "/v1/clients/vip", ""},
		{http.MethodGet, "/v1/spend", ""},
		{http.MethodGet, "/v1/loops", ""},
		{http.MethodGet, "/v1/loops?client_id=vip&limit=5", ""},
		{http.MethodDelete, "/v1/loops/vip", ""},
		{http.MethodGet, "/v1/nothing", ""},
	}
	e.seedLoops()
	for _, ep := range endpoints {
		for _, k := range []struct {
			key       string
			want      int
			errorCode string
		}{
			{"", http.StatusUnauthorized, "invalid_api_key"},
			{"prox-unknown", http.StatusUnauthorized, "invalid_api_key"},
			{gatewayKey, http.StatusForbidden, "insufficient_scope"},
		} {
			r := e.do(t, ep.method, ep.path, ep.body, k.key)
			require.Equal(t, k.want, r.status, "%s %s with %q", ep.method, ep.path, k.key)
			require.Contains(t, string(r.body), k.errorCode)
		}
	}
	require.Empty(t, e.store.Writes(), "nothing stored without the admin scope")
	require.Empty(t, e.loops.Cleared(), "no cooldown cleared without the admin scope")
	for _, ep := range endpoints {
		r := e.do(t, ep.method, ep.path, ep.body, adminKey)
		require.Less(t, r.status, 500, "%s %s: %s", ep.method, ep.path, r.body)
		require.NotContains(t, []int{401, 403}, r.status, "%s %s", ep.method, ep.path)
	}
	require.Equal(t, []string{"vip"}, e.loops.Cleared())
}

func TestProbesAndRouting(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		r := e.do(t, http.MethodGet, p, "", "")
		require.Equal(t, http.StatusOK, r.status, p)
	}
	r := e.do(t, http.MethodPut, "/v1/budgets", `{}`, adminKey)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "GET, POST", r.header.Get("Allow"))
	r = e.do(t, http.MethodPost, "/v1/clients/x", `{}`, adminKey)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	r = e.do(t, http.MethodGet, "/v1/nothing", "", adminKey)
	require.Equal(t, http.StatusNotFound, r.status)
	typ, _, _ := apiError(t, r)
	require.Equal(t, "not_found", typ)
}
