package admin

import (
	"math"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
	proxidev1 "github.com/proxide/proxide/proto/proxide/v1"
)

// specFromProto converts SetBudgetRequest to the spec it describes; only the enums and
// malformed durations can be invalid here, everything else is the Service's to check.
func specFromProto(req *proxidev1.SetBudgetRequest) (rules.Spec, error) {
	spec := rules.Spec{ClientID: req.GetClientId(), Match: req.GetMatch(), Default: req.GetDefault(),
		DailyLimitUSD: req.DailyLimitUsd, DailyLimitNano: req.DailyLimitNano,
		MonthlyLimitUSD: req.MonthlyLimitUsd, MonthlyLimitNano: req.MonthlyLimitNano}
	switch req.GetAction() {
	case proxidev1.Action_ACTION_UNSPECIFIED:
	case proxidev1.Action_ACTION_BLOCK:
		spec.Action = string(rules.ActionBlock)
	case proxidev1.Action_ACTION_ALERT:
		spec.Action = string(rules.ActionAlert)
	default:
		return rules.Spec{}, fieldErr("action", "unknown action %d", req.GetAction())
	}
	switch req.GetAdmission() {
	case proxidev1.Admission_ADMISSION_UNSPECIFIED:
	case proxidev1.Admission_ADMISSION_SOFT:
		spec.Admission = string(rules.AdmissionSoft)
	case proxidev1.Admission_ADMISSION_STRICT:
		spec.Admission = string(rules.AdmissionStrict)
	default:
		return rules.Spec{}, fieldErr("admission", "unknown admission %d", req.GetAdmission())
	}
	switch req.GetUnmetered() {
	case proxidev1.UnmeteredPolicy_UNMETERED_POLICY_UNSPECIFIED:
	case proxidev1.UnmeteredPolicy_UNMETERED_POLICY_REFUSE:
		spec.Endpoints = &rules.EndpointsSpec{Unmetered: string(rules.UnmeteredRefuse)}
	case proxidev1.UnmeteredPolicy_UNMETERED_POLICY_ALLOW:
		spec.Endpoints = &rules.EndpointsSpec{Unmetered: string(rules.UnmeteredAllow)}
	default:
		return rules.Spec{}, fieldErr("endpoints.unmetered", "unknown policy %d", req.GetUnmetered())
	}
	if t := req.GetAlertThresholds(); t != nil {
		spec.AlertThresholds = append([]float64{}, t.GetValues()...)
	}
	if l := req.GetLoopDetection(); l != nil {
		loop, err := loopSpecFromProto(l)
		if err != nil {
			return rules.Spec{}, err
		}
		spec.LoopDetection = loop
	}
	return spec, nil
}

func nanoPtrs(l rules.Limit) (*float64, *int64) {
	if !l.Set {
		return nil, nil
	}
	return proto.Float64(USD(l.Nano)), proto.Int64(l.Nano)
}

func budgetProto(b Budget) *proxidev1.Budget {
	r := b.Rule
	k := r.Key()
	out := &proxidev1.Budget{Key: k.String(), ClientId: r.ClientID, Match: r.Match, Default: k.Default,
		Action: proxidev1.Action_ACTION_BLOCK, AlertThresholds: r.Thresholds(), Source: b.Source}
	if !r.Blocks() {
		out.Action = proxidev1.Action_ACTION_ALERT
	}
	out.DailyLimitUsd, out.DailyLimitNano = nanoPtrs(r.Daily)
	out.MonthlyLimitUsd, out.MonthlyLimitNano = nanoPtrs(r.Monthly)
	out.LoopDetection = loopDetectionProto(r.Loop)
	out.Admission = proxidev1.Admission_ADMISSION_SOFT
	if r.Strict() {
		out.Admission = proxidev1.Admission_ADMISSION_STRICT
	}
	switch r.Unmetered {
	case rules.UnmeteredRefuse:
		out.Unmetered = proxidev1.UnmeteredPolicy_UNMETERED_POLICY_REFUSE
	case rules.UnmeteredAllow:
		out.Unmetered = proxidev1.UnmeteredPolicy_UNMETERED_POLICY_ALLOW
	}
	return out
}

// count32 converts a count for an int32 proto field. The counts it gets (loop
// repeats, at most rules.MaxLoopRepeats when valid) fit with room to spare; a
// corrupt stored value saturates instead of wrapping to a negative count.
func count32(n int) int32 {
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	if n < math.MinInt32 {
		return math.MinInt32
	}
	return int32(n)
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func periodProto(p budget.Period, s budget.PeriodSpend) *proxidev1.PeriodSpend {
	out := &proxidev1.PeriodSpend{Period: p.Key, SpentUsd: USD(s.SpentNano), SpentNano: s.SpentNano,
		ReservedUsd: USD(s.ReservedNano), ReservedNano: s.ReservedNano, ResetsAt: timestamp(p.End)}
	out.LimitUsd, out.LimitNano = nanoPtrs(s.Limit)
	if rem, ok := s.Remaining(); ok {
		out.RemainingUsd, out.RemainingNano = proto.Float64(USD(rem)), proto.Int64(rem)
	}
	return out
}

var stateProto = map[string]proxidev1.ClientState{
	api.StateOK:           proxidev1.ClientState_CLIENT_STATE_OK,
	api.StateAlerting:     proxidev1.ClientState_CLIENT_STATE_ALERTING,
	api.StateBlocked:      proxidev1.ClientState_CLIENT_STATE_BLOCKED,
	api.StateLoopCooldown: proxidev1.ClientState_CLIENT_STATE_LOOP_COOLDOWN,
}

func clientProto(r ClientReport) *proxidev1.Client {
	out := &proxidev1.Client{ClientId: r.ClientID, State: stateProto[r.State], Rule: budgetProto(r.Rule),
		Today: periodProto(r.Periods.Day, r.Spend.Day), Month: periodProto(r.Periods.Month, r.Spend.Month),
		RequestsToday: r.Spend.Today.Requests, FailedToday: r.Spend.Today.Failed,
		LastSeen: timestamp(r.LastSeen), CooldownUntil: timestamp(r.CooldownUntil)}
	for _, e := range r.RecentLoops {
		out.RecentLoops = append(out.RecentLoops, loopEventProto(e))
	}
	for _, m := range r.Spend.Today.Models {
		out.ModelsToday = append(out.ModelsToday, &proxidev1.ModelUsage{Model: m.Model, Requests: m.Requests,
			Failed: m.Failed, Estimated: m.Estimated, PromptTokens: m.Tokens.Prompt, CachedTokens: m.Tokens.Cached,
			CompletionTokens: m.Tokens.Completion, ReasoningTokens: m.Tokens.Reasoning,
			CostUsd: USD(m.CostNano), CostNano: m.CostNano})
	}
	return out
}

func spendRowProto(r SpendRow) *proxidev1.SpendRow {
	return &proxidev1.SpendRow{Date: r.Date, Model: r.Model, Requests: r.Requests, Failed: r.Failed,
		Estimated: r.Estimated, PromptTokens: r.Tokens.Prompt, CachedTokens: r.Tokens.Cached,
		CompletionTokens: r.Tokens.Completion, ReasoningTokens: r.Tokens.Reasoning,
		CostUsd: USD(r.CostNano), CostNano: r.CostNano}
}

func spendProto(rep SpendReport) *proxidev1.GetSpendResponse {
	out := &proxidev1.GetSpendResponse{ClientId: rep.ClientID, From: rep.From, To: rep.To,
		GroupBy: proxidev1.SpendGroupBy_SPEND_GROUP_BY_DAY, Total: spendRowProto(rep.Total)}
	if rep.GroupBy == api.GroupByModel {
		out.GroupBy = proxidev1.SpendGroupBy_SPEND_GROUP_BY_MODEL
	}
	for _, r := range rep.Rows {
		out.Rows = append(out.Rows, spendRowProto(r))
	}
	return out
}
