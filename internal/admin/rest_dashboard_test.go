package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/metrics"
)

// What the dashboard reads besides the rest of the API: sparklines with a
// page of clients, spend per day and model, refusals per day, and its session
// standing in for a key.

func TestClientsWithHistory(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var v api.ClientListView
	e.get(t, "/v1/clients?prefix=user-1&history=9", &v)
	require.Len(t, v.Clients, 1)
	require.Equal(t, []float64{2.35, 0, 0, 0, 0, 0, 0, 0, 0.85}, v.Clients[0].History, "2026-11-20 … 2026-11-28, oldest first")
	var plain api.ClientListView
	e.get(t, "/v1/clients?prefix=user-1", &plain)
	require.Nil(t, plain.Clients[0].History, "only when asked for")
	for _, bad := range []string{"0", "91", "x", "-1"} {
		r := e.do(t, http.MethodGet, "/v1/clients?history="+bad, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, bad)
		require.Contains(t, string(r.body), `"param": "history"`, bad)
	}
}

func TestSpendByDayAndModel(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var v api.SpendView
	e.get(t, "/v1/spend?client_id=user-1&from=2026-11-20&to=2026-11-28&group_by=day_model", &v)
	require.Equal(t, []api.SpendRowView{
		{Date: "2026-11-20", Model: "gpt-4o", Requests: 2, PromptTokens: 200, CompletionTokens: 40, CostUSD: 2.35},
		{Date: "2026-11-28", Model: "gpt-4o", Requests: 3, PromptTokens: 300, CompletionTokens: 60, CostUSD: 0.8},
		{Date: "2026-11-28", Model: "gpt-4o-mini", Requests: 2, Estimated: 1, PromptTokens: 100, CachedTokens: 10, CompletionTokens: 10, ReasoningTokens: 2, CostUSD: 0.05},
	}, v.Series, "days with traffic only, each day's models by cost")
	r := e.do(t, http.MethodGet, "/v1/spend?client_id=user-1&from=2026-11-28&to=2026-11-28&group_by=day_model&format=csv", "", adminKey)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "day,model,requests,failed,estimated,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,cost_usd,estimated_cost_usd\n"+
		"2026-11-28,gpt-4o,3,0,0,300,0,60,0,0.800000000,0.000000000\n"+
		"2026-11-28,gpt-4o-mini,2,0,1,100,10,10,2,0.050000000,0.000000000\n", string(r.body))
}

// fakeSessions accepts the cookie "ok"; a write also needs the header.
type fakeSessions struct{}

var _ Sessions = fakeSessions{}

func (fakeSessions) Check(r *http.Request) error {
	c, err := r.Cookie("s")
	if err != nil || c.Value != "ok" {
		return errors.New("no session")
	}
	if r.Method != http.MethodGet && r.Header.Get("X-Dash") != "1" {
		return errors.New("no csrf header")
	}
	return nil
}

func TestActivityAndSessions(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	m := metrics.New()
	daily := m.TrackDaily(func() time.Time { return now }, func(t time.Time) string { return t.Format("2006-01-02") })
	m.Blocked("daily")
	now = now.Add(24 * time.Hour)
	m.Blocked("monthly")
	m.Blocked("daily")
	m.Loop("exact", true)
	m.Loop("similar", false)
	srv := httptest.NewServer(New(Options{Service: e.svc, Keys: e.keys, Activity: daily, Sessions: fakeSessions{},
		Dashboard: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("dashboard")) })}))
	t.Cleanup(srv.Close)

	get := func(path string, cookie string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, http.NoBody)
		require.NoError(t, err)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "s", Value: cookie, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/v1/activity?from=2026-11-26&to=2026-11-28", "ok")
	require.Equal(t, http.StatusOK, code, body)
	var v api.ActivityView
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	require.Equal(t, "replica", v.Scope)
	require.Equal(t, []api.ActivityDayView{
		{Date: "2026-11-26"},
		{Date: "2026-11-27", Blocked: 1, BlockedDaily: 1},
		{Date: "2026-11-28", Blocked: 2, BlockedDaily: 1, BlockedMonthly: 1, Loops: 2, LoopsBlocked: 1},
	}, v.Series)

	code, _ = get("/v1/activity", "forged")
	require.Equal(t, http.StatusUnauthorized, code, "no key, no session")
	code, body = get("/", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "dashboard", body, "the dashboard has / and decides itself")

	// A write with the session but without the header is refused.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, srv.URL+"/v1/loops/user-1", http.NoBody)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "s", Value: "ok", HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req.Header.Set("X-Dash", "1")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
