package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

func testFailedReleases(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "fails"
	require.True(t, f.Reserve("r", c, rule, 45*Cent).Admitted)
	f.RequireSpend(c, rule, 0, 45*Cent, 0, 45*Cent)
	s := f.SettleReq("r", c, rule, 0)
	s.Failed = true
	res, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.False(t, res.Duplicate)
	require.Equal(t, budget.PeriodSpend{Limit: rule.Daily}, res.Day, "released, nothing charged")
	sp := f.Spend(c, rule)
	require.Equal(t, int64(0), sp.Day.ReservedNano+sp.Day.SpentNano+sp.Month.ReservedNano+sp.Month.SpentNano)
	require.Equal(t, int64(1), sp.Today.Requests)
	require.Equal(t, int64(1), sp.Today.Failed)
	require.True(t, f.Reserve("r2", c, rule, 45*Cent).Admitted)
}

func testExpiredReleased(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "dead-sidecar"
	f.TTL = time.Minute
	require.True(t, f.Reserve("lost", c, rule, 50*Cent).Admitted)
	require.False(t, f.Reserve("r1", c, rule, Cent).Admitted)
	f.Advance(time.Minute - time.Millisecond)
	f.RequireSpend(c, rule, 0, 50*Cent, 0, 50*Cent)
	require.False(t, f.Reserve("r2", c, rule, Cent).Admitted, "not expired yet")
	f.Advance(time.Millisecond)
	f.RequireSpend(c, rule, 0, 0, 0, 0)
	a := f.Reserve("r3", c, rule, Cent)
	require.True(t, a.Admitted, "the dead reservation was released after its TTL")
	require.Equal(t, Cent, a.Day.ReservedNano)

	// The default TTL is 10 minutes.
	f.TTL = 0
	require.True(t, f.Reserve("r4", "default-ttl", rule, 50*Cent).Admitted)
	f.Advance(budget.DefaultReservationTTL - time.Second)
	f.RequireSpend("default-ttl", rule, 0, 50*Cent, 0, 50*Cent)
	f.Advance(time.Second)
	f.RequireSpend("default-ttl", rule, 0, 0, 0, 0)
}

func testSettleAfterExpiry(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	c := "slow"
	f.TTL = time.Minute
	require.True(t, f.Reserve("slow", c, rule, 30*Cent).Admitted)
	f.Advance(2 * time.Minute)
	require.True(t, f.Reserve("other", c, rule, 20*Cent).Admitted) // also sweeps "slow"
	f.RequireSpend(c, rule, 0, 20*Cent, 0, 20*Cent)
	res := f.Settle("slow", c, rule, 25*Cent)
	require.False(t, res.Duplicate)
	require.Equal(t, budget.PeriodSpend{SpentNano: 25 * Cent, ReservedNano: 20 * Cent, Limit: rule.Daily}, res.Day,
		"charged although expired; the other reservation is untouched")
	res = f.Settle("other", c, rule, 20*Cent)
	require.Equal(t, budget.PeriodSpend{SpentNano: 45 * Cent, Limit: rule.Daily}, res.Day)
}

func testSettleWithoutReservation(t *testing.T, f *Fixture) {
	// A fail-open request admitted while the ledger was down has no reservation.
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	res := f.Settle("never-reserved", "open", rule, 7*Cent)
	require.Equal(t, 7*Cent, res.Day.SpentNano)
	require.Equal(t, int64(0), res.Day.ReservedNano)
}

func testDuplicateSettle(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(100*Cent), rules.LimitOf(100*Cent))
	c := "dup"
	f.Reserve("x", c, rule, 90*Cent)
	first := f.Settle("x", c, rule, 85*Cent)
	require.False(t, first.Duplicate)
	require.Len(t, first.Crossings, 2) // day and month 0.8
	second := f.Settle("x", c, rule, 85*Cent)
	require.True(t, second.Duplicate)
	require.Empty(t, second.Crossings)
	require.Equal(t, first.Day, second.Day)
	require.Equal(t, first.Month, second.Month)
	// A replay with other data (e.g. from another day) still changes nothing.
	f.Advance(3 * time.Hour)
	s := f.SettleReq("x", c, rule, 99*Cent)
	s.Failed = true
	third, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.True(t, third.Duplicate)
	sp := f.Spend(c, rule)
	require.Equal(t, 85*Cent, sp.Day.SpentNano)
	require.Equal(t, int64(1), sp.Today.Requests)
	require.Equal(t, int64(0), sp.Today.Failed)
}

func testDuplicateReserve(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "dup-reserve"
	a := f.Reserve("x", c, rule, 30*Cent)
	require.True(t, a.Admitted)
	require.False(t, a.Duplicate)
	b := f.Reserve("x", c, rule, 30*Cent)
	require.True(t, b.Admitted, "the existing reservation stands")
	require.True(t, b.Duplicate)
	require.Equal(t, 30*Cent, b.Day.ReservedNano, "not reserved twice")
	f.RequireSpend(c, rule, 0, 30*Cent, 0, 30*Cent)
	f.Settle("x", c, rule, 30*Cent)
	f.RequireSpend(c, rule, 30*Cent, 0, 30*Cent, 0)
}

func testReserveAfterSettle(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "reuse"
	f.Charge(c, rule, 10*Cent)
	id := "req-1" // the id Charge used
	_, err := f.L.Reserve(f.ctx, f.ReserveReq(id, c, rule, 10*Cent))
	require.ErrorIs(t, err, budget.ErrInvalid, "a settled id cannot be reserved again: its settle would be a duplicate")
	f.RequireSpend(c, rule, 10*Cent, 0, 10*Cent, 0)
}

func testSettleAcrossMidnight(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.LimitOf(500*Cent))
	c := "night-owl"
	f.At(time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC))
	yesterday := f.Periods()
	require.True(t, f.Reserve("late", c, rule, 40*Cent).Admitted)
	f.At(time.Date(2026, 11, 29, 0, 1, 0, 0, time.UTC))
	res := f.Settle("late", c, rule, 30*Cent)
	require.Equal(t, budget.PeriodSpend{SpentNano: 30 * Cent, Limit: rule.Daily}, res.Day, "charged to the settle-time day")
	require.Equal(t, budget.PeriodSpend{SpentNano: 30 * Cent, Limit: rule.Monthly}, res.Month)
	old, err := f.L.Spend(f.ctx, c, rule, yesterday, f.Now)
	require.NoError(t, err)
	require.Equal(t, budget.PeriodSpend{Limit: rule.Daily}, old.Day, "yesterday's reservation is released, nothing charged there")
}

func testSettleAcrossMonthEnd(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.LimitOf(50*Cent))
	c := "month-end"
	f.At(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC))
	before := f.Periods()
	require.True(t, f.Reserve("r", c, rule, 45*Cent).Admitted)
	f.At(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	require.Equal(t, "2027-01", f.Periods().Month.Key)
	f.Settle("r", c, rule, 45*Cent)
	f.RequireSpend(c, rule, 45*Cent, 0, 45*Cent, 0)
	old, err := f.L.Spend(f.ctx, c, rule, before, f.Now)
	require.NoError(t, err)
	require.Equal(t, [4]int64{0, 0, 0, 0}, [4]int64{old.Day.SpentNano, old.Day.ReservedNano, old.Month.SpentNano, old.Month.ReservedNano})
}

func testInvalidChangesNothing(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "valid"
	good := f.ReserveReq("ok", c, rule, Cent)
	bad := map[string]func(r *budget.ReserveRequest){
		"empty id":          func(r *budget.ReserveRequest) { r.ID = "" },
		"long id":           func(r *budget.ReserveRequest) { r.ID = string(make([]byte, 129)) },
		"control in id":     func(r *budget.ReserveRequest) { r.ID = "a\nb" },
		"empty client":      func(r *budget.ReserveRequest) { r.ClientID = "" },
		"long client":       func(r *budget.ReserveRequest) { r.ClientID = string(make([]byte, 257)) },
		"bad utf8 client":   func(r *budget.ReserveRequest) { r.ClientID = "\xff" },
		"negative estimate": func(r *budget.ReserveRequest) { r.EstimateNano = -1 },
		"huge estimate":     func(r *budget.ReserveRequest) { r.EstimateNano = budget.MaxAmountNano + 1 },
		"negative limit":    func(r *budget.ReserveRequest) { r.Rule.Daily = rules.LimitOf(-1) },
		"bad action":        func(r *budget.ReserveRequest) { r.Rule.Action = "deny" },
		"bad threshold":     func(r *budget.ReserveRequest) { r.Rule.AlertThresholds = []float64{0} },
		"zero now":          func(r *budget.ReserveRequest) { r.Now = time.Time{} },
		"negative ttl":      func(r *budget.ReserveRequest) { r.TTL = -time.Second },
		"huge ttl":          func(r *budget.ReserveRequest) { r.TTL = budget.MaxReservationTTL + 1 },
		"bad day key":       func(r *budget.ReserveRequest) { r.Periods.Day.Key = "2026-11-31" },
		"day not in month":  func(r *budget.ReserveRequest) { r.Periods.Month.Key = "2026-10" },
		"swapped kinds":     func(r *budget.ReserveRequest) { r.Periods.Day, r.Periods.Month = r.Periods.Month, r.Periods.Day },
		"empty period":      func(r *budget.ReserveRequest) { r.Periods.Day.End = r.Periods.Day.Start },
	}
	for name, mutate := range bad {
		r := good
		mutate(&r)
		_, err := f.L.Reserve(f.ctx, r)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
		require.NotErrorIs(t, err, budget.ErrUnavailable, name)
	}
	goodSettle := f.SettleReq("ok", c, rule, Cent)
	badSettle := map[string]func(s *budget.SettleRequest){
		"empty id":        func(s *budget.SettleRequest) { s.ID = "" },
		"negative actual": func(s *budget.SettleRequest) { s.ActualNano = -5 },
		"negative tokens": func(s *budget.SettleRequest) { s.Tokens.Completion = -1 },
		"bad client":      func(s *budget.SettleRequest) { s.ClientID = "a\x00b" },
		"bad rule":        func(s *budget.SettleRequest) { s.Rule.Match = "user-" },
		"zero now":        func(s *budget.SettleRequest) { s.Now = time.Time{} },
		"bad month key":   func(s *budget.SettleRequest) { s.Periods.Month.Key = "2026-13" },
	}
	for name, mutate := range badSettle {
		s := goodSettle
		mutate(&s)
		_, err := f.L.Settle(f.ctx, s)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
	_, err := f.L.Spend(f.ctx, "", rule, f.Periods(), f.Now)
	require.ErrorIs(t, err, budget.ErrInvalid)
	for _, r := range [][2]string{{"2026-11-02", "2026-11-01"}, {"2026-11-1", "2026-11-02"}, {"2020-01-01", "2026-01-01"}} {
		_, err = f.L.History(f.ctx, c, r[0], r[1])
		require.ErrorIs(t, err, budget.ErrInvalid, r)
	}

	f.RequireSpend(c, rule, 0, 0, 0, 0)
	require.Equal(t, budget.DayStats{Day: f.Periods().Day.Key}, f.Spend(c, rule).Today)
	// The id was never used: it can still be reserved and settled normally.
	require.True(t, f.Reserve("ok", c, rule, Cent).Admitted)
	require.False(t, f.Settle("ok", c, rule, Cent).Duplicate)
}

func testSpendUnknown(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.LimitOf(500*Cent))
	s := f.Spend("nobody", rule)
	require.Equal(t, budget.ClientSpend{
		ClientID: "nobody",
		Day:      budget.PeriodSpend{Limit: rule.Daily},
		Month:    budget.PeriodSpend{Limit: rule.Monthly},
		Today:    budget.DayStats{Day: "2026-11-28"},
	}, s)
}
