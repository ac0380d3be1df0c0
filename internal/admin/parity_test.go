package admin

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxide/proxide/internal/admin/api"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// The common form both front doors are converted to: money in nano-dollars,
// times as RFC 3339 strings, enums as the REST strings.
type (
	pBudget struct {
		Key, ClientID, Match string
		Default              bool
		Daily, Monthly       *int64
		Action               string
		Thresholds           []float64
		Source               string
		Loop                 *pLoopSettings
	}
	pLoopSettings struct {
		Mode             string
		Window, Cooldown time.Duration
		MaxRepeats       int
		Similarity       float64
	}
	pLoop struct {
		ClientID, At, Kind, Exact, Sim, Excerpt, Until string
		Repeats                                        int
		Blocked                                        bool
	}
	pPeriod struct {
		Period           string
		Spent, Reserved  int64
		Limit, Remaining *int64
		ResetsAt         string
	}
	pClient struct {
		ClientID, State, CooldownUntil, LastSeen string
		Rule                                     pBudget
		Today, Month                             pPeriod
		Requests, Failed                         int64
		Models                                   []pRow
		RecentLoops                              []pLoop
	}
	pRow struct {
		Date, Model                                             string
		Requests, Failed, Estimated, Prompt, Cached, Completion int64
		Reasoning, Cost                                         int64
	}
	pSpend struct {
		ClientID, From, To, GroupBy string
		Total                       pRow
		Rows                        []pRow
	}
)

// nanoOf converts a REST dollar amount; the 9-decimal rounding makes it exact.
func nanoOf(usd float64) int64 { return int64(math.Round(usd * 1e9)) }

func nanoPtrOf(usd *float64) *int64 {
	if usd == nil {
		return nil
	}
	n := nanoOf(*usd)
	return &n
}

// checkedNano returns the exact field of a proto money pair after checking the
// two agree.
func checkedNano(t *testing.T, usd *float64, nano *int64) *int64 {
	t.Helper()
	require.Equal(t, usd == nil, nano == nil, "usd and nano are set together")
	if nano != nil {
		require.Equal(t, *nano, nanoOf(*usd), "usd and nano agree")
	}
	return nano
}

func restBudget(t *testing.T, v api.RuleView) pBudget {
	b := pBudget{Key: v.Key, ClientID: v.ClientID, Match: v.Match, Default: v.Default, Daily: nanoPtrOf(v.DailyLimitUSD),
		Monthly: nanoPtrOf(v.MonthlyLimitUSD), Action: v.Action, Thresholds: v.AlertThresholds, Source: v.Source}
	if l := v.LoopDetection; l != nil {
		b.Loop = &pLoopSettings{Mode: l.Mode, MaxRepeats: l.MaxRepeats, Similarity: l.Similarity}
		for _, d := range []struct {
			s   string
			dst *time.Duration
		}{{l.Window, &b.Loop.Window}, {l.Cooldown, &b.Loop.Cooldown}} {
			if d.s != "" {
				var err error
				*d.dst, err = time.ParseDuration(d.s)
				require.NoError(t, err)
			}
		}
	}
	return b
}

func restLoop(v api.LoopEventView) pLoop {
	l := pLoop{ClientID: v.ClientID, At: v.At, Kind: v.Kind, Exact: v.Sig.Exact, Sim: v.Sig.Sim, Excerpt: v.Excerpt,
		Repeats: v.Repeats, Blocked: v.Blocked}
	if v.CooldownUntil != nil {
		l.Until = *v.CooldownUntil
	}
	return l
}

func grpcLoop(e *proxidev1.LoopEvent) pLoop {
	return pLoop{ClientID: e.GetClientId(), At: tsNano(e.GetAt()), Kind: e.GetKind(), Exact: e.GetSignature().GetExact(),
		Sim: e.GetSignature().GetSim(), Excerpt: e.GetExcerpt(), Until: tsNano(e.GetCooldownUntil()), Repeats: int(e.GetRepeats()),
		Blocked: e.GetBlocked()}
}

func tsNano(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Format(time.RFC3339Nano)
}

func grpcBudget(t *testing.T, b *proxidev1.Budget) pBudget {
	action := map[proxidev1.Action]string{proxidev1.Action_ACTION_BLOCK: "block", proxidev1.Action_ACTION_ALERT: "alert"}[b.GetAction()]
	th := b.GetAlertThresholds()
	if th == nil {
		th = []float64{}
	}
	out := pBudget{Key: b.GetKey(), ClientID: b.GetClientId(), Match: b.GetMatch(), Default: b.GetDefault(),
		Daily: checkedNano(t, b.DailyLimitUsd, b.DailyLimitNano), Monthly: checkedNano(t, b.MonthlyLimitUsd, b.MonthlyLimitNano),
		Action: action, Thresholds: th, Source: b.GetSource()}
	if l := b.GetLoopDetection(); l != nil {
		mode := map[proxidev1.LoopMode]string{proxidev1.LoopMode_LOOP_MODE_OFF: "off", proxidev1.LoopMode_LOOP_MODE_BLOCK: "block",
			proxidev1.LoopMode_LOOP_MODE_ALERT: "alert"}[l.GetMode()]
		out.Loop = &pLoopSettings{Mode: mode, MaxRepeats: int(l.GetMaxRepeats()), Similarity: l.GetSimilarity()}
		if l.GetWindow() != nil {
			out.Loop.Window = l.GetWindow().AsDuration()
		}
		if l.GetCooldown() != nil {
			out.Loop.Cooldown = l.GetCooldown().AsDuration()
		}
	}
	return out
}

func restPeriod(v api.PeriodView) pPeriod {
	return pPeriod{Period: v.Period, Spent: nanoOf(v.SpentUSD), Reserved: nanoOf(v.ReservedUSD), Limit: nanoPtrOf(v.LimitUSD),
		Remaining: nanoPtrOf(v.RemainingUSD), ResetsAt: v.ResetsAt}
}

func ts(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Format(time.RFC3339)
}

func grpcPeriod(t *testing.T, p *proxidev1.PeriodSpend) pPeriod {
	require.Equal(t, p.GetSpentNano(), nanoOf(p.GetSpentUsd()))
	require.Equal(t, p.GetReservedNano(), nanoOf(p.GetReservedUsd()))
	return pPeriod{Period: p.GetPeriod(), Spent: p.GetSpentNano(), Reserved: p.GetReservedNano(),
		Limit: checkedNano(t, p.LimitUsd, p.LimitNano), Remaining: checkedNano(t, p.RemainingUsd, p.RemainingNano), ResetsAt: ts(p.GetResetsAt())}
}

func restClient(t *testing.T, v api.ClientView, recent []api.LoopEventView) pClient {
	c := pClient{ClientID: v.ClientID, State: v.State, CooldownUntil: v.CooldownUntil, LastSeen: v.LastSeen, Rule: restBudget(t, v.Rule),
		Today: restPeriod(v.Today), Month: restPeriod(v.Month), Requests: v.Requests, Failed: v.Failed, Models: []pRow{}}
	for _, m := range v.Models {
		c.Models = append(c.Models, pRow{Model: m.Model, Requests: m.Requests, Failed: m.Failed, Estimated: m.Estimated, Prompt: m.PromptTokens,
			Cached: m.CachedTokens, Completion: m.CompletionTokens, Reasoning: m.ReasoningTokens, Cost: nanoOf(m.CostUSD)})
	}
	for _, l := range recent {
		c.RecentLoops = append(c.RecentLoops, restLoop(l))
	}
	return c
}

func grpcClientForm(t *testing.T, v *proxidev1.Client) pClient {
	state := map[proxidev1.ClientState]string{proxidev1.ClientState_CLIENT_STATE_OK: api.StateOK, proxidev1.ClientState_CLIENT_STATE_ALERTING: api.StateAlerting,
		proxidev1.ClientState_CLIENT_STATE_BLOCKED: api.StateBlocked, proxidev1.ClientState_CLIENT_STATE_LOOP_COOLDOWN: api.StateLoopCooldown}[v.GetState()]
	c := pClient{ClientID: v.GetClientId(), State: state, CooldownUntil: tsNano(v.GetCooldownUntil()), LastSeen: ts(v.GetLastSeen()),
		Rule: grpcBudget(t, v.GetRule()), Today: grpcPeriod(t, v.GetToday()), Month: grpcPeriod(t, v.GetMonth()),
		Requests: v.GetRequestsToday(), Failed: v.GetFailedToday(), Models: []pRow{}}
	for _, m := range v.GetModelsToday() {
		require.Equal(t, m.GetCostNano(), nanoOf(m.GetCostUsd()))
		c.Models = append(c.Models, pRow{Model: m.GetModel(), Requests: m.GetRequests(), Failed: m.GetFailed(), Estimated: m.GetEstimated(),
			Prompt: m.GetPromptTokens(), Cached: m.GetCachedTokens(), Completion: m.GetCompletionTokens(), Reasoning: m.GetReasoningTokens(), Cost: m.GetCostNano()})
	}
	for _, l := range v.GetRecentLoops() {
		c.RecentLoops = append(c.RecentLoops, grpcLoop(l))
	}
	return c
}

func restRow(r api.SpendRowView) pRow {
	return pRow{Date: r.Date, Model: r.Model, Requests: r.Requests, Failed: r.Failed, Estimated: r.Estimated, Prompt: r.PromptTokens,
		Cached: r.CachedTokens, Completion: r.CompletionTokens, Reasoning: r.ReasoningTokens, Cost: nanoOf(r.CostUSD)}
}

func grpcRow(t *testing.T, r *proxidev1.SpendRow) pRow {
	require.Equal(t, r.GetCostNano(), nanoOf(r.GetCostUsd()))
	return pRow{Date: r.GetDate(), Model: r.GetModel(), Requests: r.GetRequests(), Failed: r.GetFailed(), Estimated: r.GetEstimated(),
		Prompt: r.GetPromptTokens(), Cached: r.GetCachedTokens(), Completion: r.GetCompletionTokens(), Reasoning: r.GetReasoningTokens(), Cost: r.GetCostNano()}
}

// TestRESTAndGRPCParity proves both front doors return the same data for the
// same state, for every read, and the same result and errors for writes.
func TestRESTAndGRPCParity(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.seedLoops()
	e.loops.Cool("user-1", testNow.Add(90*time.Second+7*time.Millisecond))
	for _, body := range []string{`{"client_id":"user-1","daily_limit_usd":0.9,"monthly_limit_usd":3.3,"loop_detection":{"mode":"alert","window":"2m","max_repeats":4,"similarity":0.85,"cooldown":"10m"}}`,
		`{"match":"user-*","daily_limit_usd":0.123456789,"action":"alert","alert_thresholds":[0.25],"loop_detection":{"cooldown":"1500ms"}}`} {
		require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", body, adminKey).status)
	}
	c := e.grpcClient(t)

	t.Run("budgets", func(t *testing.T) {
		var rest api.BudgetListView
		e.get(t, "/v1/budgets?limit=2", &rest)
		g, err := c.ListBudgets(adminCtx, &proxidev1.ListBudgetsRequest{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, rest.NextCursor, g.GetNextCursor())
		require.Len(t, g.GetBudgets(), len(rest.Budgets))
		for i := range rest.Budgets {
			require.Equal(t, restBudget(t, rest.Budgets[i]), grpcBudget(t, g.GetBudgets()[i]))
		}
		for _, key := range []string{"user-1", "match:user-*", "default", "vip"} {
			var rv api.RuleView
			e.get(t, "/v1/budgets/"+url.PathEscape(key), &rv)
			gb, err := c.GetBudget(adminCtx, &proxidev1.GetBudgetRequest{Key: key})
			require.NoError(t, err)
			require.Equal(t, restBudget(t, rv), grpcBudget(t, gb), key)
			if key != "default" && key != "vip" {
				require.NotNil(t, restBudget(t, rv).Loop, "%s has loop settings", key)
			}
		}
	})

	t.Run("clients", func(t *testing.T) {
		for _, sort := range []string{"day", "month"} {
			var rest api.ClientListView
			e.get(t, "/v1/clients?limit=3&sort="+sort, &rest)
			gs := map[string]proxidev1.ClientSort{"day": proxidev1.ClientSort_CLIENT_SORT_DAY, "month": proxidev1.ClientSort_CLIENT_SORT_MONTH}[sort]
			g, err := c.ListClients(adminCtx, &proxidev1.ListClientsRequest{Limit: 3, Sort: gs})
			require.NoError(t, err)
			require.Equal(t, rest.Total, g.GetTotal())
			require.Equal(t, rest.NextCursor, g.GetNextCursor())
			require.Len(t, g.GetClients(), len(rest.Clients))
			for i := range rest.Clients {
				require.Equal(t, restClient(t, rest.Clients[i], nil), grpcClientForm(t, g.GetClients()[i]))
			}
		}
		states := map[string]bool{}
		for _, id := range []string{"user-1", "user-2", "vip", "never-seen"} {
			rv := e.client(t, id)
			gc, err := c.GetClient(adminCtx, &proxidev1.GetClientRequest{ClientId: id})
			require.NoError(t, err)
			require.Equal(t, restClient(t, rv.ClientView, rv.RecentLoops), grpcClientForm(t, gc), id)
			states[rv.State] = true
		}
		require.True(t, states[api.StateLoopCooldown], "a client in cooldown is compared")
	})

	t.Run("spend", func(t *testing.T) {
		for _, q := range []struct {
			client, from, to, by string
		}{{"user-1", "", "", "day"}, {"", "2026-11-01", "2026-11-28", "model"}, {"user-2", "2026-11-28", "", "model"}} {
			var rv api.SpendView
			e.get(t, "/v1/spend?client_id="+q.client+"&from="+q.from+"&to="+q.to+"&group_by="+q.by, &rv)
			gb := map[string]proxidev1.SpendGroupBy{"day": proxidev1.SpendGroupBy_SPEND_GROUP_BY_DAY, "model": proxidev1.SpendGroupBy_SPEND_GROUP_BY_MODEL}[q.by]
			gr, err := c.GetSpend(adminCtx, &proxidev1.GetSpendRequest{ClientId: q.client, From: q.from, To: q.to, GroupBy: gb})
			require.NoError(t, err)
			rest := pSpend{ClientID: rv.ClientID, From: rv.From, To: rv.To, GroupBy: rv.GroupBy, Total: restRow(rv.Total), Rows: []pRow{}}
			for _, r := range rv.Series {
				rest.Rows = append(rest.Rows, restRow(r))
			}
			grpc := pSpend{ClientID: gr.GetClientId(), From: gr.GetFrom(), To: gr.GetTo(), GroupBy: q.by, Total: grpcRow(t, gr.GetTotal()), Rows: []pRow{}}
			for _, r := range gr.GetRows() {
				grpc.Rows = append(grpc.Rows, grpcRow(t, r))
			}
			require.Equal(t, rest, grpc)
			require.NotEmpty(t, rest.Rows)
		}
	})

	t.Run("loops", func(t *testing.T) {
		for _, q := range []struct {
			client string
			limit  int32
		}{{"", 0}, {"", 2}, {"vip", 1}, {"nobody", 0}} {
			cursor := ""
			for pages := 0; ; pages++ {
				query := url.Values{"client_id": {q.client}, "cursor": {cursor}}
				if q.limit != 0 { // 0: the default page size through both doors
					query.Set("limit", fmt.Sprint(q.limit))
				}
				var rv api.LoopListView
				e.get(t, "/v1/loops?"+query.Encode(), &rv)
				g, err := c.ListLoops(adminCtx, &proxidev1.ListLoopsRequest{ClientId: q.client, Limit: q.limit, Cursor: cursor})
				require.NoError(t, err)
				require.Equal(t, rv.NextCursor, g.GetNextCursor())
				rest, grpc := []pLoop{}, []pLoop{}
				for _, l := range rv.Loops {
					rest = append(rest, restLoop(l))
				}
				for _, l := range g.GetEvents() {
					grpc = append(grpc, grpcLoop(l))
				}
				require.Equal(t, rest, grpc)
				if rv.NextCursor == "" {
					break
				}
				cursor = rv.NextCursor
				require.Less(t, pages, 10)
			}
		}
		// The same clear through each door on two identical replicas.
		other := newEnv(t)
		other.loops.Cool("vip", testNow.Add(time.Minute))
		oc := other.grpcClient(t)
		for range 2 {
			var rv api.ClearLoopView
			r := e.do(t, http.MethodDelete, "/v1/loops/vip", "", adminKey)
			require.NoError(t, json.Unmarshal(r.body, &rv))
			g, err := oc.ClearLoop(adminCtx, &proxidev1.ClearLoopRequest{ClientId: "vip"})
			require.NoError(t, err)
			require.Equal(t, api.ClearLoopView{ClientID: g.GetClientId(), Cleared: g.GetCleared()}, rv)
		}
	})

	t.Run("writes", func(t *testing.T) {
		// The same upsert through each door on two identical replicas.
		other := newEnv(t)
		oc := other.grpcClient(t)
		r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"new","daily_limit_usd":0.5,"alert_thresholds":[0.5]}`, adminKey)
		require.Equal(t, http.StatusCreated, r.status)
		var rv api.RuleView
		e.get(t, "/v1/budgets/new", &rv)
		gres, err := oc.SetBudget(adminCtx, &proxidev1.SetBudgetRequest{ClientId: "new", DailyLimitUsd: ptr(0.5),
			AlertThresholds: &proxidev1.AlertThresholds{Values: []float64{0.5}}})
		require.NoError(t, err)
		require.True(t, gres.GetCreated())
		require.Equal(t, restBudget(t, rv), grpcBudget(t, gres.GetBudget()))
		require.Equal(t, e.rules.Resolve("new"), other.rules.Resolve("new"))

		// The same bad input is refused naming the same field.
		for _, bad := range []struct {
			body string
			req  *proxidev1.SetBudgetRequest
		}{
			{`{"client_id":"x","daily_limit_usd":-1}`, &proxidev1.SetBudgetRequest{ClientId: "x", DailyLimitUsd: ptr(-1.0)}},
			{`{"client_id":"` + strings.Repeat("x", 300) + `"}`, &proxidev1.SetBudgetRequest{ClientId: strings.Repeat("x", 300)}},
			{`{"match":"x"}`, &proxidev1.SetBudgetRequest{Match: "x"}},
			{`{"client_id":"x","loop_detection":{"window":"-1s"}}`, &proxidev1.SetBudgetRequest{ClientId: "x",
				LoopDetection: &proxidev1.LoopDetection{Window: durationpb.New(-time.Second)}}},
			{`{"client_id":"x","loop_detection":{"max_repeats":99,"similarity":2}}`, &proxidev1.SetBudgetRequest{ClientId: "x",
				LoopDetection: &proxidev1.LoopDetection{MaxRepeats: 99, Similarity: 2}}},
			{`{"client_id":"x","loop_detection":{"mode":"sometimes"}}`, &proxidev1.SetBudgetRequest{ClientId: "x",
				LoopDetection: &proxidev1.LoopDetection{Mode: 7}}},
		} {
			r := e.do(t, http.MethodPost, "/v1/budgets", bad.body, adminKey)
			_, param, msg := apiError(t, r)
			_, err := oc.SetBudget(adminCtx, bad.req)
			requireField(t, err, param)
			if !strings.HasPrefix(param, "loop_detection.mode") { // the enum's and the string's wording differ
				require.Equal(t, msg, status.Convert(err).Message())
			}
		}
	})
}
