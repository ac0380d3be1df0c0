package admin

import (
	"math"
	"net/http"
	"time"

	"github.com/proxide/proxide/budget"
)

// RuleView is a budget rule as the admin API shows it.
type RuleView struct {
	ClientID        string    `json:"client_id,omitempty"`
	Match           string    `json:"match,omitempty"`
	Default         bool      `json:"default,omitempty"`
	DailyLimitUSD   *float64  `json:"daily_limit_usd"`
	MonthlyLimitUSD *float64  `json:"monthly_limit_usd"`
	Action          string    `json:"action"`
	AlertThresholds []float64 `json:"alert_thresholds"`
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
}

// ClientView is GET /v1/clients/{client_id}.
type ClientView struct {
	ClientID string      `json:"client_id"`
	State    string      `json:"state"`
	Rule     RuleView    `json:"rule"`
	Today    PeriodView  `json:"today"`
	Month    PeriodView  `json:"month"`
	Requests int64       `json:"requests_today"`
	Failed   int64       `json:"failed_today"`
	Models   []ModelView `json:"models_today"`
}

func (s *server) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client_id")
	if err := budget.ValidClientID(id); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid_client_id", "client_id: "+err.Error())
		return
	}
	now := s.opts.Now()
	periods := s.opts.Calendar.Periods(now)
	rule := s.opts.Rules.Resolve(id)
	spend, err := s.opts.Ledger.Spend(r.Context(), id, rule, periods, now)
	if err != nil {
		s.opts.Logger.Error("admin: reading spend failed", "client_id", id, "err", err)
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "budget_ledger_unavailable", "The budget ledger is unavailable.")
		return
	}
	v := ClientView{
		ClientID: id,
		State:    state(rule, spend),
		Rule:     ruleView(rule),
		Today:    periodView(periods.Day, spend.Day),
		Month:    periodView(periods.Month, spend.Month),
		Requests: spend.Today.Requests,
		Failed:   spend.Today.Failed,
		Models:   []ModelView{},
	}
	for _, m := range spend.Today.Models {
		v.Models = append(v.Models, ModelView{Model: m.Model, Requests: m.Requests, Failed: m.Failed, Estimated: m.Estimated,
			PromptTokens: m.Tokens.Prompt, CachedTokens: m.Tokens.Cached, CompletionTokens: m.Tokens.Completion,
			ReasoningTokens: m.Tokens.Reasoning, CostUSD: usd(m.CostNano)})
	}
	writeJSON(w, http.StatusOK, v)
}

// usd converts nano-dollars for display, rounded to 9 decimals so float
// noise does not show.
func usd(nano int64) float64 { return math.Round(float64(nano)) / 1e9 }

func limitPtr(l budget.Limit) *float64 {
	if !l.Set {
		return nil
	}
	v := usd(l.Nano)
	return &v
}

func ruleView(r budget.Rule) RuleView {
	v := RuleView{ClientID: r.ClientID, Match: r.Match, Default: r.ClientID == "" && r.Match == "",
		DailyLimitUSD: limitPtr(r.Daily), MonthlyLimitUSD: limitPtr(r.Monthly),
		Action: string(r.Action), AlertThresholds: r.AlertThresholds}
	if v.Action == "" {
		v.Action = string(budget.ActionBlock)
	}
	if v.AlertThresholds == nil {
		v.AlertThresholds = []float64{0.8, 1.0}
	}
	return v
}

func periodView(p budget.Period, s budget.PeriodSpend) PeriodView {
	v := PeriodView{Period: p.Key, SpentUSD: usd(s.SpentNano), ReservedUSD: usd(s.ReservedNano),
		LimitUSD: limitPtr(s.Limit), ResetsAt: p.End.Format(time.RFC3339)}
	if s.Limit.Set {
		rem := usd(max(0, s.Limit.Nano-s.SpentNano-s.ReservedNano))
		v.RemainingUSD = &rem
	}
	return v
}

// state summarises a client: blocked when a limit of a blocking rule is used
// up, alerting when spend passed the lowest alert threshold of any limit.
func state(rule budget.Rule, s budget.ClientSpend) string {
	thresholds := rule.AlertThresholds
	if thresholds == nil {
		thresholds = []float64{0.8, 1.0}
	}
	lowest := math.Inf(1)
	for _, t := range thresholds {
		lowest = math.Min(lowest, t)
	}
	st := "ok"
	for _, p := range []budget.PeriodSpend{s.Day, s.Month} {
		if !p.Limit.Set {
			continue
		}
		used := p.SpentNano + p.ReservedNano
		if used >= p.Limit.Nano && rule.Action != budget.ActionAlert {
			return "blocked"
		}
		if float64(p.SpentNano) >= lowest*float64(p.Limit.Nano) {
			st = "alerting"
		}
	}
	return st
}
