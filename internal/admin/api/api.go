// Package api holds the wire types of Proxide's admin REST API: the JSON
// bodies the server (package admin) writes and reads, the queries the client
// (package admin/client) sends, and the values of their enumerated fields.
//
// The types live apart from the server so that the CLI decodes exactly what
// the server encodes without linking the server (and its storage backends)
// into the binary that only talks HTTP. The server converts its reports to
// these types; nothing here holds logic, so the JSON field names, omitempty
// and field order seen here are the wire format itself.
package api

import "github.com/proxide/proxide/budget/rules"

// Client states: ClientView.State.
const (
	StateOK           = "ok"
	StateAlerting     = "alerting"
	StateBlocked      = "blocked"
	StateLoopCooldown = "loop_cooldown"
)

// Spend grouping: SpendQuery.GroupBy and SpendView.GroupBy.
const (
	GroupByDay   = "day"
	GroupByModel = "model"
	// GroupByDayModel is one row per day and model with traffic (REST only):
	// the dashboard's spend stacked by model.
	GroupByDayModel = "day_model"
)

// ClientsQuery asks for one page of clients (GET /v1/clients).
type ClientsQuery struct {
	Sort   string // "day" (default) or "month": highest spend first
	Cursor string
	Limit  int // 0: the server's default page size
	Prefix string
	// History asks for each client's daily spend over this many days ending
	// today (1–MaxHistoryDays of package admin; 0: none), for sparklines.
	History int
}

// SpendQuery asks for spend over a date range (GET /v1/spend).
type SpendQuery struct {
	ClientID string // "": all clients
	From, To string // "2026-11-28" in the budget time zone; "" for the defaults
	GroupBy  string // GroupByDay ("" too) or GroupByModel
}

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
	// History is the client's spend in USD per day, oldest first, ending
	// today; only in GET /v1/clients?history=N.
	History []float64 `json:"history,omitempty"`
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

// LoopSignatureView identifies the request that completed a loop.
type LoopSignatureView struct {
	// Exact is the digest of the canonical request, 16 hex digits.
	Exact string `json:"exact"`
	// Sim is the similarity fingerprint of the request's tail, 16 hex digits.
	Sim string `json:"sim"`
}

// LoopEventView is one loop event: GET /v1/loops and recent_loops of
// GET /v1/clients/{client_id}.
type LoopEventView struct {
	ClientID string `json:"client_id"`
	// At is when the loop fired (RFC 3339, with fractional seconds when any).
	At string `json:"at"`
	// Kind is exact, similar or cycle.
	Kind    string            `json:"kind"`
	Repeats int               `json:"repeats"`
	Sig     LoopSignatureView `json:"signature"`
	// Excerpt is a short, redacted excerpt of the request.
	Excerpt string `json:"excerpt"`
	// Blocked is true when the request was refused (mode block).
	Blocked bool `json:"blocked"`
	// CooldownUntil (RFC 3339) is when the client's cooldown ends; null: none.
	CooldownUntil *string `json:"cooldown_until"`
}

// LoopListView is GET /v1/loops.
type LoopListView struct {
	// Loops are the events, newest first.
	Loops []LoopEventView `json:"loops"`
	// NextCursor fetches the next page (?cursor=); "" on the last page.
	NextCursor string `json:"next_cursor"`
}

// ClearLoopView is DELETE /v1/loops/{client_id}.
type ClearLoopView struct {
	ClientID string `json:"client_id"`
	// Cleared is false when the client had no loop state.
	Cleared bool `json:"cleared"`
}

// ActivityDayView is one day of GET /v1/activity.
type ActivityDayView struct {
	Date string `json:"date"`
	// Blocked counts the 402s, BlockedDaily + BlockedMonthly by the exhausted period.
	Blocked        int64 `json:"blocked"`
	BlockedDaily   int64 `json:"blocked_daily"`
	BlockedMonthly int64 `json:"blocked_monthly"`
	// Loops counts the loops detected, LoopsBlocked those refused.
	Loops        int64 `json:"loops"`
	LoopsBlocked int64 `json:"loops_blocked"`
}

// ActivityView is GET /v1/activity: refusals per day as counted by the
// replica that answers (Scope "replica"), since it started (Since).
type ActivityView struct {
	From   string            `json:"from"`
	To     string            `json:"to"`
	Scope  string            `json:"scope"`
	Since  string            `json:"since"`
	Series []ActivityDayView `json:"series"`
}
