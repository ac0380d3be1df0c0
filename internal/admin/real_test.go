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
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/memory"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/loop"
)

// The real storage fits the consumer interfaces.
var (
	_ RuleSet = (*rules.Dynamic)(nil)
	_ Store   = (*memory.Store)(nil)
	_ Store   = (*budgetredis.Store)(nil)
	_ Store   = (*blockcache.Store)(nil)
)

// TestWithMemoryLedger runs the REST API over the real in-memory ledger and
// rules.Dynamic: a rule set through the API applies to the very next
// Resolve, listed clients come from the real index.
func TestWithMemoryLedger(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	file, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(usdNano(1))}, []rules.Rule{{Match: "trial-*", Daily: rules.LimitOf(usdNano(0.05))}})
	require.NoError(t, err)
	dyn, err := rules.NewDynamic(ctx, rules.DynamicOptions{File: file, Store: mem, Refresh: time.Hour})
	require.NoError(t, err)
	t.Cleanup(dyn.Close)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	svc, err := NewService(ServiceOptions{Store: mem, Rules: dyn, Calendar: cal, Now: func() time.Time { return testNow }})
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

	var page api.ClientListView
	e.get(t, "/v1/clients", &page)
	require.Equal(t, int64(3), page.Total)
	require.Equal(t, "trial-3", page.Clients[0].ClientID, "highest spend today first")
	require.Equal(t, "match:trial-*", page.Clients[0].Rule.Key)
	require.Equal(t, api.StateOK, page.Clients[0].State, "0.03 of 0.05")
	require.Equal(t, "user-1", page.Clients[2].ClientID)
	require.Equal(t, "client:user-1", page.Clients[2].Rule.Key)
	require.Equal(t, "api", page.Clients[2].Rule.Source)
	require.InDelta(t, 0.24, *page.Clients[2].Today.RemainingUSD, 1e-9)

	var list api.BudgetListView
	e.get(t, "/v1/budgets", &list)
	var keys []string
	for _, b := range list.Budgets {
		keys = append(keys, b.Key+"/"+b.Source)
	}
	require.Equal(t, []string{"default/file", "match:trial-*/file", "client:user-1/api"}, keys)

	var spend api.SpendView
	e.get(t, "/v1/spend?group_by=model", &spend)
	require.Equal(t, []api.SpendRowView{{Model: "gpt-4o", Requests: 3, PromptTokens: 30, CostUSD: 0.06}}, spend.Series)

	require.Equal(t, http.StatusConflict, e.do(t, http.MethodDelete, "/v1/budgets/default", "", "").status)
	r = e.do(t, http.MethodDelete, "/v1/budgets/user-1", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var d api.DeleteView
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Nil(t, d.Effective)
	require.Equal(t, usdNano(1), dyn.Resolve("user-1").Daily.Nano, "back to the file default at once")
}

// TestLoopsWithMemoryLedger runs loop detection in the real in-memory ledger
// and reads it through the REST API: settings stored with a rule, the event,
// the cooldown state, and clearing it.
func TestLoopsWithMemoryLedger(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(memory.Options{})
	file, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(usdNano(1))}, nil)
	require.NoError(t, err)
	dyn, err := rules.NewDynamic(ctx, rules.DynamicOptions{File: file, Store: mem, Refresh: time.Hour})
	require.NoError(t, err)
	t.Cleanup(dyn.Close)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	svc, err := NewService(ServiceOptions{Store: mem, Rules: dyn, Calendar: cal,
		Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	srv := httptest.NewServer(New(Options{Service: svc}))
	t.Cleanup(srv.Close)
	e := &testEnv{srv: srv}

	r := e.do(t, http.MethodPost, "/v1/budgets", `{"match":"agent-*","loop_detection":{"mode":"block","max_repeats":2,"cooldown":"90s"}}`, "")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var rv api.RuleView
	e.get(t, "/v1/budgets/match:agent-*", &rv)
	require.Equal(t, &api.LoopDetection{Mode: "block", MaxRepeats: 2, Cooldown: "1m30s"}, rv.LoopDetection, "stored and read back")
	rule := dyn.Resolve("agent-1")
	require.Equal(t, 2, rule.Loop.MaxRepeats)

	cfg, enabled, block := rule.Loop.Effective(rules.LoopDefaults{Config: loop.DefaultConfig()})
	require.True(t, enabled)
	periods := cal.Periods(testNow)
	var fired bool
	for i := range 4 {
		now := testNow.Add(time.Duration(i-4) * time.Second)
		adm, err := mem.Reserve(ctx, budget.ReserveRequest{ID: fmt.Sprintf("r%d", i), ClientID: "agent-1", Rule: rule, Periods: periods,
			EstimateNano: 1, Now: now, Loop: &budget.LoopCheck{Sig: loop.Signature{Exact: 0xabc, Sim: 0xdef, Size: 40}, Config: cfg,
				Block: block, Excerpt: "call search(\"x\") again"}})
		require.NoError(t, err)
		fired = fired || adm.Loop.Loop
	}
	require.True(t, fired, "the third identical request is a loop")

	var page api.LoopListView
	e.get(t, "/v1/loops", &page)
	require.Len(t, page.Loops, 1)
	ev := page.Loops[0]
	require.Equal(t, "agent-1", ev.ClientID)
	require.Equal(t, "exact", ev.Kind)
	require.Equal(t, api.LoopSignatureView{Exact: "0000000000000abc", Sim: "0000000000000def"}, ev.Sig)
	require.True(t, ev.Blocked)
	require.NotNil(t, ev.CooldownUntil)

	r = e.do(t, http.MethodGet, "/v1/loops?cursor=bogus", "", "")
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	_, param, _ := apiError(t, r)
	require.Equal(t, "cursor", param, "the ledger's own cursor check")

	c := e.client(t, "agent-1")
	require.Equal(t, api.StateLoopCooldown, c.State)
	require.Equal(t, *ev.CooldownUntil, c.CooldownUntil)
	require.Len(t, c.RecentLoops, 1)

	r = e.do(t, http.MethodDelete, "/v1/loops/agent-1", "", "")
	require.JSONEq(t, `{"client_id":"agent-1","cleared":true}`, string(r.body))
	require.Equal(t, api.StateOK, e.client(t, "agent-1").State)
}
