package main

import (
	"errors"
	"fmt"

	"github.com/proxide/proxide/budget/rules"
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

// buildRules turns the YAML rules into the file's rule set; every bad field is
// named with its path (budgets.rules[3].action).
func buildRules(c BudgetsConfig) (*rules.Set, error) {
	var errs []error
	def, err := c.Default.Rule()
	errs = append(errs, rules.Within("budgets.default", err))
	if c.Default.ClientID != "" || c.Default.Match != "" {
		errs = append(errs, errors.New("budgets.default: must not set client_id or match"))
	}
	others := make([]rules.Rule, 0, len(c.Rules))
	for i, spec := range c.Rules {
		field := fmt.Sprintf("budgets.rules[%d]", i)
		r, err := spec.Rule()
		errs = append(errs, rules.Within(field, err))
		if spec.ClientID == "" && spec.Match == "" {
			errs = append(errs, fmt.Errorf("%s: needs client_id or match", field))
		}
		others = append(others, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	set, err := rules.NewSet(def, others)
	if err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	return set, nil
}
