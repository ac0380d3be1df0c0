package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
)

// The real storage fits the consumer interfaces.
var (
	_ RuleSet     = (*budget.DynamicRules)(nil)
	_ RuleStore   = (*budget.Memory)(nil)
	_ ClientIndex = (*budget.Memory)(nil)
	_ Ledger      = (*budget.Memory)(nil)
	_ RuleStore   = (*budget.Resilient)(nil)
	_ ClientIndex = (*budget.Resilient)(nil)
	_ Ledger      = (*budget.Resilient)(nil)
)

// TestWithMemoryLedger runs the REST API over the real in-memory ledger and
// budget.DynamicRules: a rule set through the API applies to the very next
// Resolve, listed clients come from the real index.
func TestWithMemoryLedger(t *testing.T) {
	ctx := context.Background()
	mem := budget.NewMemory(budget.MemoryOptions{})
	file, err := budget.NewRules(budget.Rule{Daily: budget.LimitOf(usdNano(1))}, []budget.Rule{{Match: "trial-*", Daily: budget.LimitOf(usdNano(0.05))}})
	require.NoError(t, err)
	dyn, err := budget.NewDynamicRules(ctx, budget.DynamicRulesOptions{File: file, Store: mem, Refresh: time.Hour})
	require.NoError(t, err)
	t.Cleanup(dyn.Close)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	svc, err := NewService(ServiceOptions{Store: mem, Rules: dyn, Ledger: mem, Index: mem, Calendar: cal, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	srv := httptest.NewServer(New(Options{Service: svc}))
	t.Cleanup(srv.Close)
	e := &testEnv{srv: srv}

	periods := cal.Periods(testNow)
	for i, id := range []string{"user-1", "user-2", "trial-3"} {
		_, err := mem.Settle(ctx, budget.SettleRequest{ID: fmt.Sprintf("req-%d", i), ClientID: id, Rule: dyn.Resolve(id), Periods: periods,
			ActualNano: usdNano(0.01 * float64(i+1)), Model: "gpt-4o", Tokens: budget.Tokens{Prompt: 10}, Now: testNow})
		require.NoError(t, err)
	}

	r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"user-1","daily_limit_usd":0.25}`, "")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, usdNano(0.25), dyn.Resolve("user-1").Daily.Nano, "applies to the very next request")

	var page ClientListView
	e.get(t, "/v1/clients", &page)
	require.Equal(t, int64(3), page.Total)
	require.Equal(t, "trial-3", page.Clients[0].ClientID, "highest spend today first")
	require.Equal(t, "match:trial-*", page.Clients[0].Rule.Key)
	require.Equal(t, StateOK, page.Clients[0].State, "0.03 of 0.05")
	require.Equal(t, "user-1", page.Clients[2].ClientID)
	require.Equal(t, "client:user-1", page.Clients[2].Rule.Key)
	require.Equal(t, "api", page.Clients[2].Rule.Source)
	require.Equal(t, 0.24, *page.Clients[2].Today.RemainingUSD)

	var list BudgetListView
	e.get(t, "/v1/budgets", &list)
	var keys []string
	for _, b := range list.Budgets {
		keys = append(keys, b.Key+"/"+b.Source)
	}
	require.Equal(t, []string{"default/file", "match:trial-*/file", "client:user-1/api"}, keys)

	var spend SpendView
	e.get(t, "/v1/spend?group_by=model", &spend)
	require.Equal(t, []SpendRowView{{Model: "gpt-4o", Requests: 3, PromptTokens: 30, CostUSD: 0.06}}, spend.Series)

	require.Equal(t, http.StatusConflict, e.do(t, http.MethodDelete, "/v1/budgets/default", "", "").status)
	r = e.do(t, http.MethodDelete, "/v1/budgets/user-1", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var d DeleteView
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Nil(t, d.Effective)
	require.Equal(t, usdNano(1), dyn.Resolve("user-1").Daily.Nano, "back to the file default at once")
}
