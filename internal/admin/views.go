package admin

import (
	"math"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// The REST API's JSON. Package admin/client decodes the same types, so the
// server and the CLI cannot disagree on the wire format.

// BudgetRequest is the body of POST /v1/budgets: a rule as people write it, with the
// keys of the config file (rules.Spec). Unknown fields are refused.
type BudgetRequest = rules.Spec

// LoopDetection is a rule's loop detection in the REST API, in the body of POST
// /v1/budgets and in every rule shown. Every field is optional: absent or zero inherits
// the global loop_detection setting. Durations are Go duration strings ("60s", "5m").
type LoopDetection = rules.LoopSpec

// EndpointsView is a rule's endpoint policy: unmetered "refuse" or "allow"; "" (or
// absent) inherits the global endpoints.unmetered.
type EndpointsView = rules.EndpointsSpec

// RuleView is a budget rule as the admin API shows it.
type RuleView struct {
	// Key addresses the rule in /v1/budgets/{key}: "client:<id>", "match:<pattern>" or "default".
	Key             string    `json:"key"`
	ClientID        string    `json:"client_id,omitempty"`
	Match           string    `json:"match,omitempty"`
	Default         bool      `json:"default,omitempty"`
	DailyLimitUSD   *float64  `json:"daily_limit_usd"`
	MonthlyLimitUSD *float64  `json:"monthly_limit_usd"`
	Action          string    `json:"action"`
	AlertThresholds []float64 `json:"alert_thresholds"`
	// Source is "api" or "file".
	Source string `json:"source,omitempty"`
	// LoopDetection is the rule's own loop settings; null when it inherits
	// every one of them.
	LoopDetection *LoopDetection `json:"loop_detection"`
	// Admission is "soft" or "strict".
	Admission string `json:"admission"`
	// Endpoints is the rule's own unmetered-endpoint policy; null inherits it.
	Endpoints *EndpointsView `json:"endpoints"`
}

// BudgetListView is GET /v1/budgets.
type BudgetListView struct {
	Budgets []RuleView `json:"budgets"`
	// NextCursor fetches the next page (?cursor=); "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// DeleteView is DELETE /v1/budgets/{key}.
type DeleteView struct {
	Key     string `json:"key"`
	Deleted bool   `json:"deleted"`
	// Effective is the file rule in force for the key now, or null.
	Effective *RuleView `json:"effective"`
}

// PeriodView is one period's spend against its limit.
type PeriodView struct {
	Period       string   `json:"period"`
	SpentUSD     float64  `json:"spent_usd"`
	ReservedUSD  float64  `json:"reserved_usd"`
	LimitUSD     *float64 `json:"limit_usd"`
	RemainingUSD *float64 `json:"remaining_usd"`
	ResetsAt     string   `json:"resets_at"`
}

// ModelView is one model's usage today.
type ModelView struct {
	Model            string  `json:"model"`
	Requests         int64   `json:"requests"`
	Failed           int64   `json:"failed"`
	Estimated        int64   `json:"estimated"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CachedTokens     int64   `json:"cached_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	// EstimatedCostUSD is the part of CostUSD charged from an estimate (the
	// worst case of a cut reasoning stream, a body never read, a background
	// result never fetched), not from OpenAI's usage.
	EstimatedCostUSD float64 `json:"estimated_cost_usd"`
}

// ClientView is GET /v1/clients/{client_id} and one entry of GET /v1/clients.
type ClientView struct {
	ClientID string `json:"client_id"`
	// State is ok, alerting, blocked or loop_cooldown.
	State string `json:"state"`
	// CooldownUntil is set (RFC 3339, fractional seconds when any) in loop_cooldown.
	CooldownUntil string     `json:"cooldown_until,omitempty"`
	Rule          RuleView   `json:"rule"`
	Today         PeriodView `json:"today"`
	Month         PeriodView `json:"month"`
	Requests      int64      `json:"requests_today"`
	Failed        int64      `json:"failed_today"`
	// EstimatedToday is the part of today's spend charged from estimates.
	EstimatedToday float64     `json:"estimated_usd_today"`
	Models         []ModelView `json:"models_today"`
	// LastSeen (RFC 3339) is set in GET /v1/clients.
	LastSeen string `json:"last_seen,omitempty"`
}

// ClientDetailView is GET /v1/clients/{client_id}: the client and its
// newest loop events.
type ClientDetailView struct {
	ClientView
	// RecentLoops are the newest loop events (at most 10), newest first.
	RecentLoops []LoopEventView `json:"recent_loops"`
}

// ClientListView is GET /v1/clients.
type ClientListView struct {
	Clients    []ClientView `json:"clients"`
	NextCursor string       `json:"next_cursor"`
	// Total counts the clients matching the prefix.
	Total int64 `json:"total"`
}

// SpendRowView is one day or model of GET /v1/spend, or its total.
type SpendRowView struct {
	Date             string  `json:"date,omitempty"`
	Model            string  `json:"model,omitempty"`
	Requests         int64   `json:"requests"`
	Failed           int64   `json:"failed"`
	Estimated        int64   `json:"estimated"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CachedTokens     int64   `json:"cached_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	ReasoningTokens  int64   `json:"reasoning_tokens"`
	CostUSD          float64 `json:"cost_usd"`
	EstimatedCostUSD float64 `json:"estimated_cost_usd"`
}

// SpendView is GET /v1/spend.
type SpendView struct {
	// ClientID is "" for all clients.
	ClientID string         `json:"client_id"`
	From     string         `json:"from"`
	To       string         `json:"to"`
	GroupBy  string         `json:"group_by"`
	Total    SpendRowView   `json:"total"`
	Series   []SpendRowView `json:"series"`
}

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

func ruleView(b Budget) RuleView {
	r := b.Rule
	k := r.Key()
	v := RuleView{Key: k.String(), ClientID: r.ClientID, Match: r.Match, Default: k.Default,
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
		v.Endpoints = &EndpointsView{Unmetered: string(r.Unmetered)}
	}
	return v
}

func periodView(p budget.Period, s budget.PeriodSpend) PeriodView {
	v := PeriodView{Period: p.Key, SpentUSD: USD(s.SpentNano), ReservedUSD: USD(s.ReservedNano),
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

func clientView(r ClientReport) ClientView {
	v := ClientView{ClientID: r.ClientID, State: r.State, CooldownUntil: rfc3339Nano(r.CooldownUntil),
		Rule: ruleView(r.Rule), Today: periodView(r.Periods.Day, r.Spend.Day),
		Month: periodView(r.Periods.Month, r.Spend.Month), Requests: r.Spend.Today.Requests,
		Failed: r.Spend.Today.Failed, EstimatedToday: USD(r.Spend.Today.EstimatedNano), Models: make([]ModelView, 0, len(r.Spend.Today.Models)),
		LastSeen: rfc3339(r.LastSeen)}
	for _, m := range r.Spend.Today.Models {
		v.Models = append(v.Models, ModelView{Model: m.Model, Requests: m.Requests, Failed: m.Failed, Estimated: m.Estimated,
			PromptTokens: m.Tokens.Prompt, CachedTokens: m.Tokens.Cached, CompletionTokens: m.Tokens.Completion,
			ReasoningTokens: m.Tokens.Reasoning, CostUSD: USD(m.CostNano), EstimatedCostUSD: USD(m.EstimatedNano)})
	}
	return v
}

func clientDetailView(r ClientReport) ClientDetailView {
	v := ClientDetailView{ClientView: clientView(r), RecentLoops: make([]LoopEventView, 0, len(r.RecentLoops))}
	for _, e := range r.RecentLoops {
		v.RecentLoops = append(v.RecentLoops, loopEventView(e))
	}
	return v
}

func spendRowView(r SpendRow) SpendRowView {
	return SpendRowView{Date: r.Date, Model: r.Model, Requests: r.Requests, Failed: r.Failed, Estimated: r.Estimated,
		PromptTokens: r.Tokens.Prompt, CachedTokens: r.Tokens.Cached, CompletionTokens: r.Tokens.Completion,
		ReasoningTokens: r.Tokens.Reasoning, CostUSD: USD(r.CostNano), EstimatedCostUSD: USD(r.EstimatedNano)}
}

func spendView(r SpendReport) SpendView {
	v := SpendView{ClientID: r.ClientID, From: r.From, To: r.To, GroupBy: r.GroupBy,
		Total: spendRowView(r.Total), Series: make([]SpendRowView, 0, len(r.Rows))}
	for _, row := range r.Rows {
		v.Series = append(v.Series, spendRowView(row))
	}
	return v
}
