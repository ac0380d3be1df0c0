package admin

import (
	"fmt"
	"math"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

// These convert the Service's reports to the REST API's JSON (package api,
// shared with the client); grpc_convert.go does the same for the gRPC API.

// USD converts nano-dollars for display, rounded to 9 decimals so float noise
// does not show.
func USD(nano int64) float64 { return math.Round(float64(nano)) / 1e9 }

func limitPtr(l rules.Limit) *float64 {
	if !l.Set {
		return nil
	}
	v := USD(l.Nano)
	return &v
}

func ruleView(b Budget) api.RuleView {
	r := b.Rule
	k := r.Key()
	v := api.RuleView{Key: k.String(), ClientID: r.ClientID, Match: r.Match, Default: k.Default,
		DailyLimitUSD: limitPtr(r.Daily), MonthlyLimitUSD: limitPtr(r.Monthly),
		Action: string(rules.ActionBlock), AlertThresholds: r.Thresholds(), Source: b.Source}
	if !r.Blocks() {
		v.Action = string(rules.ActionAlert)
	}
	if v.AlertThresholds == nil {
		v.AlertThresholds = []float64{} // none, shown as [] rather than null
	}
	v.LoopDetection = rules.LoopSpecOf(r.Loop)
	v.Admission = string(rules.AdmissionSoft)
	if r.Strict() {
		v.Admission = string(rules.AdmissionStrict)
	}
	if r.Unmetered != rules.UnmeteredInherit {
		v.Endpoints = &api.EndpointsView{Unmetered: string(r.Unmetered)}
	}
	return v
}

func periodView(p budget.Period, s budget.PeriodSpend) api.PeriodView {
	v := api.PeriodView{Period: p.Key, SpentUSD: USD(s.SpentNano), ReservedUSD: USD(s.ReservedNano),
		LimitUSD: limitPtr(s.Limit), ResetsAt: rfc3339(p.End)}
	if rem, ok := s.Remaining(); ok {
		r := USD(rem)
		v.RemainingUSD = &r
	}
	return v
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// rfc3339Nano keeps fractional seconds (loop times are in milliseconds), in UTC.
func rfc3339Nano(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func clientView(r ClientReport) api.ClientView {
	v := api.ClientView{ClientID: r.ClientID, State: r.State, CooldownUntil: rfc3339Nano(r.CooldownUntil),
		Rule: ruleView(r.Rule), Today: periodView(r.Periods.Day, r.Spend.Day),
		Month: periodView(r.Periods.Month, r.Spend.Month), Requests: r.Spend.Today.Requests,
		Failed: r.Spend.Today.Failed, EstimatedToday: USD(r.Spend.Today.EstimatedNano), Models: make([]api.ModelView, 0, len(r.Spend.Today.Models)),
		LastSeen: rfc3339(r.LastSeen)}
	for _, nano := range r.History {
		v.History = append(v.History, USD(nano))
	}
	for _, m := range r.Spend.Today.Models {
		v.Models = append(v.Models, api.ModelView{Model: m.Model, Requests: m.Requests, Failed: m.Failed, Estimated: m.Estimated,
			PromptTokens: m.Tokens.Prompt, CachedTokens: m.Tokens.Cached, CompletionTokens: m.Tokens.Completion,
			ReasoningTokens: m.Tokens.Reasoning, CostUSD: USD(m.CostNano), EstimatedCostUSD: USD(m.EstimatedNano)})
	}
	return v
}

func clientDetailView(r ClientReport) api.ClientDetailView {
	v := api.ClientDetailView{ClientView: clientView(r), RecentLoops: make([]api.LoopEventView, 0, len(r.RecentLoops))}
	for _, e := range r.RecentLoops {
		v.RecentLoops = append(v.RecentLoops, loopEventView(e))
	}
	return v
}

func spendRowView(r SpendRow) api.SpendRowView {
	return api.SpendRowView{Date: r.Date, Model: r.Model, Requests: r.Requests, Failed: r.Failed, Estimated: r.Estimated,
		PromptTokens: r.Tokens.Prompt, CachedTokens: r.Tokens.Cached, CompletionTokens: r.Tokens.Completion,
		ReasoningTokens: r.Tokens.Reasoning, CostUSD: USD(r.CostNano), EstimatedCostUSD: USD(r.EstimatedNano)}
}

func spendView(r SpendReport) api.SpendView {
	v := api.SpendView{ClientID: r.ClientID, From: r.From, To: r.To, GroupBy: r.GroupBy,
		Total: spendRowView(r.Total), Series: make([]api.SpendRowView, 0, len(r.Rows))}
	for _, row := range r.Rows {
		v.Series = append(v.Series, spendRowView(row))
	}
	return v
}

// hex16 writes a 64-bit signature as 16 lower-case hex digits.
func hex16(v uint64) string { return fmt.Sprintf("%016x", v) }

func loopEventView(e budget.LoopEvent) api.LoopEventView {
	v := api.LoopEventView{ClientID: e.ClientID, At: rfc3339Nano(e.At), Kind: e.Kind, Repeats: e.Repeats,
		Sig: api.LoopSignatureView{Exact: hex16(e.Exact), Sim: hex16(e.Sim)}, Excerpt: e.Excerpt, Blocked: e.Blocked}
	if u := rfc3339Nano(e.Until); u != "" {
		v.CooldownUntil = &u
	}
	return v
}

func loopListView(p budget.LoopPage) api.LoopListView {
	v := api.LoopListView{Loops: make([]api.LoopEventView, 0, len(p.Events)), NextCursor: p.NextCursor}
	for _, e := range p.Events {
		v.Loops = append(v.Loops, loopEventView(e))
	}
	return v
}
