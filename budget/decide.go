package budget

import (
	"slices"

	"github.com/proxide/proxide/budget/rules"
)

// The admission decisions, shared by both backends (lua/reserve.lua mirrors them in
// integer Lua), the admin API's client states and the gateway. They are pure: integers
// in, booleans out, no floats.

// Exhausted reports whether the period's limit leaves no room: spent + reserved >= limit.
// An unlimited period is never exhausted.
func (p PeriodSpend) Exhausted() bool {
	return p.Limit.Set && AddSat(p.SpentNano, p.ReservedNano) >= p.Limit.Nano
}

// Fits reports whether the period's limit leaves room for estimate: spent + reserved +
// estimate <= limit (always when unlimited).
func (p PeriodSpend) Fits(estimate int64) bool {
	return !p.Limit.Set || AddSat(AddSat(p.SpentNano, p.ReservedNano), estimate) <= p.Limit.Nano
}

// Remaining is what is left of the limit, at least 0; ok is false when unlimited.
func (p PeriodSpend) Remaining() (nano int64, ok bool) {
	if !p.Limit.Set {
		return 0, false
	}
	return max(p.Limit.Nano-AddSat(p.SpentNano, p.ReservedNano), 0), true
}

// AlertReached reports whether the settled spend reached the lowest of thresholds
// (fractions of the limit), by the integer amounts Settle fires alerts at. Never for an
// unlimited period or without thresholds.
func (p PeriodSpend) AlertReached(thresholds []float64) bool {
	if !p.Limit.Set || len(thresholds) == 0 {
		return false
	}
	amount, ok := thresholdAmount(p.Limit.Nano, rules.PPM(slices.Min(thresholds)))
	return ok && p.SpentNano >= amount
}

// Admits is the admission rule: a rule that only alerts admits everything; a soft rule
// admits while no period is exhausted, a strict one while the estimate fits in both.
func Admits(rule rules.Rule, day, month PeriodSpend, estimate int64) bool {
	if !rule.Blocks() {
		return true
	}
	if rule.Strict() {
		return day.Fits(estimate) && month.Fits(estimate)
	}
	return !day.Exhausted() && !month.Exhausted()
}

// NewAdmission builds the answer to Reserve from the spend before the reservation:
// admitted is the store's decision, reserved tells whether the estimate was added. A
// strict refusal of a period that is not exhausted reports the period the estimate does
// not fit in.
func NewAdmission(p Periods, day, month PeriodSpend, admitted, reserved bool, estimate int64, strict bool) Admission {
	a := Admission{Admitted: admitted, Exceeded: exceeded(p, day, month), Strict: strict}
	if !admitted && strict && a.Exceeded == nil {
		a.Exceeded = doesNotFit(p, day, month, estimate)
	}
	if a.Exceeded != nil && strict {
		a.Exceeded.EstimateNano = estimate
	}
	if reserved {
		day.ReservedNano = AddSat(day.ReservedNano, estimate)
		month.ReservedNano = AddSat(month.ReservedNano, estimate)
	}
	a.Day, a.Month = day, month
	return a
}

// exceeded reports the exhausted period at decision time, preferring the month (it blocks
// longer).
func exceeded(p Periods, day, month PeriodSpend) *Exceeded {
	pick := func(kind PeriodKind, ps PeriodSpend, per Period) *Exceeded {
		return &Exceeded{
			Kind:        kind,
			LimitNano:   ps.Limit.Nano,
			SpentNano:   AddSat(ps.SpentNano, ps.ReservedNano),
			Period:      per,
			SettledOnly: ps.SpentNano >= ps.Limit.Nano,
		}
	}
	switch {
	case month.Exhausted():
		return pick(Monthly, month, p.Month)
	case day.Exhausted():
		return pick(Daily, day, p.Day)
	}
	return nil
}

// doesNotFit reports the period (the month first) in which spent + reserved + estimate
// passes the limit.
func doesNotFit(p Periods, day, month PeriodSpend, estimate int64) *Exceeded {
	pick := func(kind PeriodKind, ps PeriodSpend, per Period) *Exceeded {
		rem, _ := ps.Remaining()
		return &Exceeded{Kind: kind, LimitNano: ps.Limit.Nano, SpentNano: AddSat(ps.SpentNano, ps.ReservedNano),
			Period: per, DoesNotFit: true, EstimateNano: estimate, RemainingNano: rem}
	}
	switch {
	case !month.Fits(estimate):
		return pick(Monthly, month, p.Month)
	case !day.Fits(estimate):
		return pick(Daily, day, p.Day)
	}
	return nil
}
