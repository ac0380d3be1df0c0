package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/auth"
	"github.com/proxide/proxide/budget"
)

type stubLedger struct{ err error }

func (s stubLedger) Spend(_ context.Context, id string, rule budget.Rule, p budget.Periods, _ time.Time) (budget.ClientSpend, error) {
	return budget.ClientSpend{ClientID: id, Day: budget.PeriodSpend{SpentNano: 123_456_789, Limit: rule.Daily},
		Today: budget.DayStats{Day: p.Day.Key, Requests: 3, CostNano: 123_456_789,
			Models: []budget.ModelStats{{Model: "gpt-4o", Requests: 3, CostNano: 123_456_789, Tokens: budget.Tokens{Prompt: 10, Completion: 5}}}}}, s.err
}

type oneRule struct{}

func (oneRule) Resolve(string) budget.Rule { return budget.Rule{Daily: budget.LimitOf(500_000_000)} }

// TestLegacyGetClient covers the read-only wiring of before the budget API.
func TestLegacyGetClient(t *testing.T) {
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "ops", Key: "prox-ops", Scopes: []string{auth.ScopeAdmin}}})
	require.NoError(t, err)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := New(Options{Ledger: stubLedger{}, Rules: oneRule{}, Calendar: cal, Keys: keys, Now: func() time.Time { return now }})

	req := httptest.NewRequest(http.MethodGet, "/v1/clients/user%2F1", nil)
	req.Header.Set("Authorization", "Bearer prox-ops")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var v ClientView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	require.Equal(t, "user/1", v.ClientID, "escaped slashes stay inside the id")
	require.Equal(t, 0.123456789, v.Today.SpentUSD)
	require.Equal(t, 0.376543211, *v.Today.RemainingUSD)
	require.Equal(t, "2026-11-29T00:00:00Z", v.Today.ResetsAt)
	require.Nil(t, v.Month.LimitUSD)
	require.Equal(t, []ModelView{{Model: "gpt-4o", Requests: 3, PromptTokens: 10, CompletionTokens: 5, CostUSD: 0.123456789}}, v.Models)

	for _, tc := range []struct {
		path, key string
		ledger    stubLedger
		want      int
	}{
		{"/v1/clients/a", "", stubLedger{}, http.StatusUnauthorized},
		{"/v1/clients/a", "prox-nope", stubLedger{}, http.StatusUnauthorized},
		{"/v1/clients/a", "prox-ops", stubLedger{err: budget.ErrUnavailable}, http.StatusServiceUnavailable},
		{"/v1/nothing", "prox-ops", stubLedger{}, http.StatusNotFound},
	} {
		h := New(Options{Ledger: tc.ledger, Rules: oneRule{}, Calendar: cal, Keys: keys})
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tc.want, rec.Code, "%s with %q", tc.path, tc.key)
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	}
}
