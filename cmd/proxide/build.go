package main

import (
	"errors"
	"fmt"
	"math"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/pricing"
)

// buildPricer loads the price table (embedded, or a LiteLLM file) and the
// custom prices and fallback from the config.
func buildPricer(c PricingConfig) (*pricing.Pricer, error) {
	table := pricing.Default()
	if c.File != "" {
		t, err := pricing.LoadFile(c.File)
		if err != nil {
			return nil, fmt.Errorf("pricing.file: %w", err)
		}
		// The file's rows win; models it lacks (legacy rows, the hand-kept
		// supplement) keep the embedded price rather than fall back.
		table = t.Over(table)
	}
	var errs []error
	if len(c.Custom) > 0 {
		custom := make(map[string]pricing.Price, len(c.Custom))
		for model, pc := range c.Custom {
			tp, err := tierPrice(pc)
			if err != nil {
				errs = append(errs, fmt.Errorf("pricing.custom.%s: %w", model, err))
				continue
			}
			custom[model] = pricing.Price{Standard: tp, Mode: "chat"}
		}
		table = table.With(custom)
	}
	opts := pricing.Options{Table: table}
	if c.Fallback != nil && !c.RefuseUnknown {
		tp, err := tierPrice(*c.Fallback)
		if err != nil {
			errs = append(errs, fmt.Errorf("pricing.fallback: %w", err))
		}
		opts.Fallback = &tp
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pricing.New(opts), nil
}

func tierPrice(pc PriceConfig) (pricing.TierPrice, error) {
	in, err1 := pricing.PerMTokFromUSD(pc.InputPerMTok)
	out, err2 := pricing.PerMTokFromUSD(pc.OutputPerMTok)
	cached := in
	var err3 error
	if pc.CachedInputPerMTok != nil {
		cached, err3 = pricing.PerMTokFromUSD(*pc.CachedInputPerMTok)
	}
	return pricing.TierPrice{Input: in, CachedInput: cached, Output: out}, errors.Join(err1, err2, err3)
}

// buildRules turns the YAML rules into budget rules; every bad field is named.
func buildRules(c BudgetsConfig) (*budget.Rules, error) {
	var errs []error
	def, err := ruleFrom("budgets.default", c.Default)
	errs = append(errs, err)
	if c.Default.ClientID != "" || c.Default.Match != "" {
		errs = append(errs, errors.New("budgets.default: must not set client_id or match"))
	}
	rules := make([]budget.Rule, 0, len(c.Rules))
	for i, rc := range c.Rules {
		r, err := ruleFrom(fmt.Sprintf("budgets.rules[%d]", i), rc)
		errs = append(errs, err)
		if rc.ClientID == "" && rc.Match == "" {
			errs = append(errs, fmt.Errorf("budgets.rules[%d]: needs client_id or match", i))
		}
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rs, err := budget.NewRules(def, rules)
	if err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	return rs, nil
}

func ruleFrom(field string, rc RuleConfig) (budget.Rule, error) {
	var errs []error
	limit := func(name string, v *float64) budget.Limit {
		if v == nil {
			return budget.Limit{}
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || *v > 1e9 {
			errs = append(errs, fmt.Errorf("%s.%s: %v must be between 0 and 1e9 USD", field, name, *v))
			return budget.Limit{}
		}
		nano, err := pricing.USDToNano(*v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", field, name, err))
		}
		return budget.LimitOf(nano)
	}
	r := budget.Rule{
		ClientID:        rc.ClientID,
		Match:           rc.Match,
		Daily:           limit("daily_limit_usd", rc.DailyLimitUSD),
		Monthly:         limit("monthly_limit_usd", rc.MonthlyLimitUSD),
		Action:          budget.Action(rc.Action),
		AlertThresholds: rc.AlertThresholds,
		Admission:       budget.AdmissionMode(rc.Admission),
	}
	if rc.Endpoints != nil {
		r.Unmetered = budget.EndpointPolicy(rc.Endpoints.Unmetered)
	}
	if l := rc.LoopDetection; l != nil {
		r.Loop = budget.LoopSettings{Mode: l.Mode, Window: l.Window, MaxRepeats: l.MaxRepeats, Similarity: l.Similarity, Cooldown: l.Cooldown}
	}
	if err := r.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", field, err))
	}
	return r, errors.Join(errs...)
}
