package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

func testThresholdsOnce(t *testing.T, f *Fixture) {
	// Default thresholds [0.8, 1.0] on $1/day and $2/month.
	rule := blockRule(rules.LimitOf(100*Cent), rules.LimitOf(200*Cent))
	c := "alerts"
	require.Empty(t, f.Charge(c, rule, 70*Cent).Crossings)
	res := f.Charge(c, rule, 15*Cent)
	require.Equal(t, []budget.Crossing{{Kind: budget.Daily, Threshold: 0.8, SpentNano: 85 * Cent, LimitNano: 100 * Cent, Period: f.Periods().Day}}, res.Crossings)
	require.Empty(t, f.Charge(c, rule, 5*Cent).Crossings, "0.8 fires once")

	// Reach 100c in the day with a failed-but-charged request: both remaining crossings
	// are reported once.
	id := f.NextID()
	f.Reserve(id, c, rule, 10*Cent)
	s := f.SettleReq(id, c, rule, 10*Cent)
	s.Failed = true
	res, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.Equal(t, []budget.Crossing{{Kind: budget.Daily, Threshold: 1.0, SpentNano: 100 * Cent, LimitNano: 100 * Cent, Period: f.Periods().Day}}, res.Crossings)

	// Next day: the month crosses 0.8 (160c) while the new day is still below its 0.8;
	// then one settlement crosses several thresholds at once, day first, ascending.
	f.Advance(24 * time.Hour)
	res = f.Charge(c, rule, 60*Cent)
	require.Equal(t, []budget.Crossing{{Kind: budget.Monthly, Threshold: 0.8, SpentNano: 160 * Cent, LimitNano: 200 * Cent, Period: f.Periods().Month}}, res.Crossings)
	alert := rules.Rule{Daily: rule.Daily, Monthly: rule.Monthly, Action: rules.ActionAlert}
	res = f.Charge(c, alert, 50*Cent) // day 110c, month 210c
	require.Equal(t, []budget.Crossing{
		{Kind: budget.Daily, Threshold: 0.8, SpentNano: 110 * Cent, LimitNano: 100 * Cent, Period: f.Periods().Day},
		{Kind: budget.Daily, Threshold: 1.0, SpentNano: 110 * Cent, LimitNano: 100 * Cent, Period: f.Periods().Day},
		{Kind: budget.Monthly, Threshold: 1.0, SpentNano: 210 * Cent, LimitNano: 200 * Cent, Period: f.Periods().Month},
	}, res.Crossings)
	require.Empty(t, f.Charge(c, alert, Cent).Crossings)

	// Custom thresholds, including past the limit; an empty list disables alerts.
	custom := rules.Rule{Daily: rules.LimitOf(10 * Cent), Action: rules.ActionAlert, AlertThresholds: []float64{2, 0.5}}
	res = f.Charge("custom", custom, 6*Cent)
	require.Equal(t, []budget.Crossing{{Kind: budget.Daily, Threshold: 0.5, SpentNano: 6 * Cent, LimitNano: 10 * Cent, Period: f.Periods().Day}}, res.Crossings)
	require.Empty(t, f.Charge("custom", custom, 13*Cent).Crossings, "19c < 2×10c")
	res = f.Charge("custom", custom, Cent)
	require.Equal(t, []budget.Crossing{{Kind: budget.Daily, Threshold: 2, SpentNano: 20 * Cent, LimitNano: 10 * Cent, Period: f.Periods().Day}}, res.Crossings)
	none := rules.Rule{Daily: rules.LimitOf(Cent), Action: rules.ActionAlert, AlertThresholds: []float64{}}
	require.Empty(t, f.Charge("quiet", none, 5*Cent).Crossings)
}

func testThresholdBoundary(t *testing.T, f *Fixture) {
	// 0.8 of 1000 nano is exactly 800: 799 does not fire, 800 does.
	rule := rules.Rule{Daily: rules.LimitOf(1000), Action: rules.ActionAlert, AlertThresholds: []float64{0.8}}
	require.Empty(t, f.Charge("b", rule, 799).Crossings)
	require.Len(t, f.Charge("b", rule, 1).Crossings, 1)
	// 1/3 of 10 nano is 3.33…: the threshold is reached at 4 (integer ceiling).
	third := rules.Rule{Daily: rules.LimitOf(10), Action: rules.ActionAlert, AlertThresholds: []float64{1.0 / 3}}
	require.Empty(t, f.Charge("c", third, 3).Crossings)
	require.Len(t, f.Charge("c", third, 1).Crossings, 1)
	// A settlement of 0 past a threshold fires it if it never fired in the period.
	failed := rules.Rule{Daily: rules.LimitOf(0), Action: rules.ActionAlert, AlertThresholds: []float64{1}}
	require.Len(t, f.Charge("d", failed, 0).Crossings, 1)
}

func testChangedLimitAlertsAgain(t *testing.T, f *Fixture) {
	c := "grows"
	small := rules.Rule{Daily: rules.LimitOf(10 * Cent), Action: rules.ActionAlert, AlertThresholds: []float64{1}}
	require.Len(t, f.Charge(c, small, 10*Cent).Crossings, 1)
	big := rules.Rule{Daily: rules.LimitOf(20 * Cent), Action: rules.ActionAlert, AlertThresholds: []float64{1}}
	require.Empty(t, f.Charge(c, big, 5*Cent).Crossings)
	require.Len(t, f.Charge(c, big, 5*Cent).Crossings, 1, "the raised limit is a new threshold")
	require.Empty(t, f.Charge(c, small, Cent).Crossings, "the old one already fired")
}

func testDayRollover(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.LimitOf(500*Cent))
	c := "roll"
	f.At(time.Date(2026, 11, 28, 23, 59, 59, 0, time.UTC))
	f.Charge(c, rule, 50*Cent)
	require.False(t, f.Reserve(f.NextID(), c, rule, Cent).Admitted)
	f.At(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	require.Equal(t, "2026-11-29", f.Periods().Day.Key)
	f.RequireSpend(c, rule, 0, 0, 50*Cent, 0)
	a := f.Reserve(f.NextID(), c, rule, Cent)
	require.True(t, a.Admitted, "a new day starts at zero")
	require.Equal(t, 50*Cent, a.Month.SpentNano, "the month keeps counting")
}

func testMonthRollover(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(500*Cent), rules.LimitOf(50*Cent))
	c := "monthly"
	// 2028 is a leap year: Feb 29 is a day of February.
	f.At(time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC))
	require.Equal(t, "2028-02-29", f.Periods().Day.Key)
	f.Charge(c, rule, 50*Cent)
	require.Equal(t, budget.Monthly, f.Reserve(f.NextID(), c, rule, Cent).Exceeded.Kind)
	f.At(time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC))
	f.RequireSpend(c, rule, 0, 0, 0, 0)
	require.True(t, f.Reserve(f.NextID(), c, rule, Cent).Admitted)
}

func testDSTDay(t *testing.T, f *Fixture) {
	// Europe/Berlin, 2026-10-25 has 25 hours: at 23:30 local it is still that day.
	g := NewFixture(t, f.L, "Europe/Berlin", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)) // 02:30 CEST
	rule := blockRule(rules.LimitOf(10*Cent), rules.Limit{})
	c := "berlin"
	g.Charge(c, rule, 10*Cent)
	g.At(time.Date(2026, 10, 25, 22, 30, 0, 0, time.UTC)) // 23:30 CET, 23 hours later
	require.Equal(t, "2026-10-25", g.Periods().Day.Key)
	a := g.Reserve(g.NextID(), c, rule, Cent)
	require.False(t, a.Admitted)
	require.Equal(t, time.Hour/2, a.Exceeded.Period.RetryAfter(g.Now))
	g.At(time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC)) // midnight CET
	require.True(t, g.Reserve(g.NextID(), c, rule, Cent).Admitted)
}
