package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/admintest"
	"github.com/proxide/proxide/internal/admin/api"
)

func TestListClients(t *testing.T) {
	e := newEnv(t)
	e.seed()

	var page api.ClientListView
	e.get(t, "/v1/clients", &page)
	require.Equal(t, int64(4), page.Total)
	require.Empty(t, page.NextCursor)
	ids := func(p api.ClientListView) []string {
		var out []string
		for _, c := range p.Clients {
			out = append(out, c.ClientID)
		}
		return out
	}
	require.Equal(t, []string{"user-2", "user-1", "trial-9", "vip"}, ids(page), "by today's spend")

	u2 := page.Clients[0]
	require.Equal(t, api.StateBlocked, u2.State, "1.00 spent of the 1.00 default")
	require.Equal(t, "default", u2.Rule.Key)
	require.Equal(t, "file", u2.Rule.Source)
	require.InDelta(t, 1.0, u2.Today.SpentUSD, 1e-9)
	require.InDelta(t, 0.01, u2.Today.ReservedUSD, 1e-9)
	require.InDelta(t, 0.0, *u2.Today.RemainingUSD, 1e-9)
	require.InDelta(t, 8.5, *u2.Month.RemainingUSD, 1e-9)
	require.Equal(t, int64(1), u2.Requests)
	require.Equal(t, testNow.Add(-time.Minute).Format(time.RFC3339), u2.LastSeen)

	u1 := page.Clients[1]
	require.Equal(t, api.StateAlerting, u1.State, "0.85 of 1.00 passed the 0.8 threshold")
	require.Equal(t, int64(5), u1.Requests)
	require.Len(t, u1.Models, 2)
	require.Equal(t, api.StateOK, page.Clients[3].State)
	require.Equal(t, "client:vip", page.Clients[3].Rule.Key)
	trial := page.Clients[2]
	require.Equal(t, api.StateAlerting, trial.State, "an alert rule over its limit alerts, never blocks")
	require.Nil(t, trial.Month.LimitUSD)
	require.Nil(t, trial.Month.RemainingUSD)

	e.get(t, "/v1/clients?sort=month", &page)
	require.Equal(t, []string{"trial-9", "user-1", "user-2", "vip"}, ids(page), "by this month's spend")
	e.get(t, "/v1/clients?prefix=user-", &page)
	require.Equal(t, []string{"user-2", "user-1"}, ids(page))
	require.Equal(t, int64(2), page.Total)
}

func TestListClientsWalk(t *testing.T) {
	e := newEnv(t)
	for i := range 45 {
		e.ledger.Set(fmt.Sprintf("c-%03d", i), admintest.ClientData{DaySpent: int64(i % 7), MonthSpent: int64(i)})
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var page api.ClientListView
		e.get(t, "/v1/clients?sort=month&limit=10&cursor="+url.QueryEscape(cursor), &page)
		pages++
		for _, c := range page.Clients {
			require.False(t, seen[c.ClientID], "no duplicates: %s", c.ClientID)
			seen[c.ClientID] = true
		}
		require.Equal(t, int64(45), page.Total)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Len(t, seen, 45)
	require.Equal(t, 5, pages)
	require.Equal(t, int64(45), e.ledger.SpendCalls(), "one ledger read per listed client")
}

func TestListClientsErrors(t *testing.T) {
	e := newEnv(t)
	e.seed()
	for _, q := range []struct{ query, param string }{
		{"sort=week", "sort"}, {"limit=-1", "limit"}, {"limit=5000", "limit"}, {"prefix=a%01", "prefix"},
		{"cursor=bogus", "cursor"}, {"order=day", "order"},
	} {
		r := e.do(t, http.MethodGet, "/v1/clients?"+q.query, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, q.query)
		_, param, _ := apiError(t, r)
		require.Equal(t, q.param, param, q.query)
	}

	// One client's ledger read failing fails the page with 503.
	e.ledger.ErrFor = map[string]error{"user-1": fmt.Errorf("%w: timeout", budget.ErrUnavailable)}
	r := e.do(t, http.MethodGet, "/v1/clients", "", adminKey)
	require.Equal(t, http.StatusServiceUnavailable, r.status, string(r.body))
}

func TestGetClient(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var v api.ClientView
	e.get(t, "/v1/clients/user-1", &v)
	require.Equal(t, "user-1", v.ClientID)
	require.Equal(t, api.StateAlerting, v.State)
	require.Equal(t, api.RuleView{Key: "default", Default: true, DailyLimitUSD: ptr(1.0), MonthlyLimitUSD: ptr(10.0), Action: "block",
		AlertThresholds: []float64{0.8, 1}, Source: "file", Admission: "soft"}, v.Rule)
	require.Equal(t, api.PeriodView{Period: "2026-11-28", SpentUSD: 0.85, LimitUSD: ptr(1.0), RemainingUSD: ptr(0.15), ResetsAt: "2026-11-29T00:00:00Z"}, v.Today)
	require.Equal(t, "2026-11", v.Month.Period)
	require.Equal(t, []api.ModelView{
		{Model: "gpt-4o", Requests: 3, PromptTokens: 300, CompletionTokens: 60, CostUSD: 0.8},
		{Model: "gpt-4o-mini", Requests: 2, Estimated: 1, PromptTokens: 100, CachedTokens: 10, CompletionTokens: 10, ReasoningTokens: 2, CostUSD: 0.05},
	}, v.Models)
	require.Empty(t, v.LastSeen, "not known from the ledger")

	// An API rule shows as the client's rule with its source.
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"user-1","daily_limit_usd":0.5}`, adminKey).status)
	e.get(t, "/v1/clients/user-1", &v)
	require.Equal(t, "client:user-1", v.Rule.Key)
	require.Equal(t, "api", v.Rule.Source)
	require.Equal(t, api.StateBlocked, v.State)

	// A client never seen has zero spend under its rule.
	e.get(t, "/v1/clients/"+url.PathEscape("trial-new/x"), &v)
	require.Equal(t, "trial-new/x", v.ClientID)
	require.Equal(t, "match:trial-*", v.Rule.Key)
	require.Equal(t, api.StateOK, v.State)
	require.Equal(t, []api.ModelView{}, v.Models)

	// Loop cooldown has its own state; a budget block outranks it.
	until := testNow.Add(3 * time.Minute)
	e.loops.Cool("vip", until)
	e.loops.Cool("user-1", until)
	e.get(t, "/v1/clients/vip", &v)
	require.Equal(t, api.StateLoopCooldown, v.State)
	require.Equal(t, until.Format(time.RFC3339), v.CooldownUntil)
	e.get(t, "/v1/clients/user-1", &v)
	require.Equal(t, api.StateBlocked, v.State)

	r := e.do(t, http.MethodGet, "/v1/clients/a%7Fb", "", adminKey)
	require.Equal(t, http.StatusBadRequest, r.status)
	_, param, _ := apiError(t, r)
	require.Equal(t, "client_id", param)

	e.ledger.Err = budget.ErrUnavailable
	r = e.do(t, http.MethodGet, "/v1/clients/vip", "", adminKey)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	typ, _, _ := apiError(t, r)
	require.Equal(t, "service_unavailable", typ)
}

func TestState(t *testing.T) {
	daily := rules.LimitOf(1_000)
	tests := []struct {
		name  string
		rule  rules.Rule
		day   budget.PeriodSpend
		month budget.PeriodSpend
		want  string
	}{
		{"unlimited", rules.Rule{}, budget.PeriodSpend{SpentNano: 1e12}, budget.PeriodSpend{}, "ok"},
		{"under threshold", rules.Rule{Daily: daily}, budget.PeriodSpend{SpentNano: 799, Limit: daily}, budget.PeriodSpend{}, "ok"},
		{"at 80%", rules.Rule{Daily: daily}, budget.PeriodSpend{SpentNano: 800, Limit: daily}, budget.PeriodSpend{}, "alerting"},
		{"reserved fills it", rules.Rule{Daily: daily}, budget.PeriodSpend{SpentNano: 500, ReservedNano: 500, Limit: daily}, budget.PeriodSpend{}, "blocked"},
		{"monthly exhausted", rules.Rule{Monthly: daily}, budget.PeriodSpend{}, budget.PeriodSpend{SpentNano: 1000, Limit: daily}, "blocked"},
		{"alert rule never blocked", rules.Rule{Daily: daily, Action: rules.ActionAlert}, budget.PeriodSpend{SpentNano: 5000, Limit: daily}, budget.PeriodSpend{}, "alerting"},
		{"custom threshold", rules.Rule{Daily: daily, AlertThresholds: []float64{0.5}}, budget.PeriodSpend{SpentNano: 500, Limit: daily}, budget.PeriodSpend{}, "alerting"},
		{"no thresholds", rules.Rule{Daily: daily, AlertThresholds: []float64{}}, budget.PeriodSpend{SpentNano: 999, Limit: daily}, budget.PeriodSpend{}, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, state(tc.rule, budget.ClientSpend{Day: tc.day, Month: tc.month}))
		})
	}
}
