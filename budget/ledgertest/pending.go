package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// The tests of strict admission, leases, held (pending) charges and remembered contexts.

func strictRule(daily, monthly rules.Limit) rules.Rule {
	r := blockRule(daily, monthly)
	r.Admission = rules.AdmissionStrict
	return r
}

func testStrictAdmission(t *testing.T, f *Fixture) {
	c := "strict"
	rule := strictRule(rules.LimitOf(100*Cent), rules.Limit{})
	require.True(t, f.Reserve("a", c, rule, 60*Cent).Admitted)
	a := f.Reserve("b", c, rule, 41*Cent)
	require.False(t, a.Admitted, "60 + 41 > 100")
	require.True(t, a.Strict)
	require.NotNil(t, a.Exceeded)
	require.Equal(t, budget.Exceeded{Kind: budget.Daily, LimitNano: 100 * Cent, SpentNano: 60 * Cent, Period: f.Periods().Day,
		DoesNotFit: true, EstimateNano: 41 * Cent, RemainingNano: 40 * Cent}, *a.Exceeded)
	require.True(t, f.Reserve("c", c, rule, 40*Cent).Admitted, "60 + 40 = 100 fits exactly")
	f.RequireSpend(c, rule, 0, 100*Cent, 0, 100*Cent)
	f.Settle("a", c, rule, 60*Cent)
	f.Settle("c", c, rule, 40*Cent)
	a = f.Reserve("d", c, rule, 0)
	require.True(t, a.Admitted, "a free request fits at the limit")
	f.Settle("d", c, rule, 0)
	a = f.Reserve("e", c, rule, 1)
	require.False(t, a.Admitted)
	require.True(t, a.Exceeded.SettledOnly)

	// The monthly limit is checked too, and reported first.
	m := strictRule(rules.LimitOf(100*Cent), rules.LimitOf(50*Cent))
	a = f.Reserve("m", "strict-month", m, 51*Cent)
	require.False(t, a.Admitted)
	require.Equal(t, budget.Monthly, a.Exceeded.Kind)
	require.Equal(t, 50*Cent, a.Exceeded.RemainingNano)

	// The same burst on a soft rule admits the second request (overshoot <= one request).
	soft := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	require.True(t, f.Reserve("s1", "soft", soft, 60*Cent).Admitted)
	require.True(t, f.Reserve("s2", "soft", soft, 41*Cent).Admitted)
	require.False(t, f.Reserve("s3", "soft", soft, Cent).Admitted)
}

func testLeaseKeepsReservation(t *testing.T, f *Fixture) {
	c := "long-stream"
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	f.TTL = time.Minute
	require.True(t, f.Reserve("o3-pro", c, rule, 100*Cent).Admitted)
	for range 20 { // 20 minutes of a request that is still running
		f.Advance(40 * time.Second)
		require.NoError(t, f.L.Extend(f.ctx, []budget.Lease{{ID: "o3-pro", ClientID: c, Expiry: f.Now.Add(time.Minute)}}))
	}
	f.RequireSpend(c, rule, 0, 100*Cent, 0, 100*Cent)
	require.False(t, f.Reserve("second", c, rule, 90*Cent).Admitted, "the live reservation still holds the budget")
	// Its sidecar dies: no more renewals; the reservation goes within the TTL.
	f.Advance(time.Minute)
	f.RequireSpend(c, rule, 0, 0, 0, 0)
	// Unknown ids and other clients are skipped without error.
	require.NoError(t, f.L.Extend(f.ctx, []budget.Lease{{ID: "nope", ClientID: c, Expiry: f.Now.Add(time.Minute)},
		{ID: "x", ClientID: "someone", Expiry: f.Now}}))
	require.Error(t, f.L.Extend(f.ctx, []budget.Lease{{ID: "", ClientID: c, Expiry: f.Now}}))
}

func (f *Fixture) hold(id, newID, client string, est int64, ttl time.Duration) bool {
	f.T.Helper()
	held, err := f.L.Hold(f.ctx, budget.HoldRequest{ID: id, NewID: newID, ClientID: client, Periods: f.Periods(),
		EstimateNano: est, Expiry: f.Now.Add(ttl), Model: "o3", Now: f.Now})
	require.NoError(f.T, err)
	return held
}

func testHeldChargeSettledOnce(t *testing.T, f *Fixture) {
	c := "background"
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	f.TTL = time.Minute
	require.True(t, f.Reserve("create", c, rule, 80*Cent).Admitted)
	require.True(t, f.hold("create", "resp:1", c, 80*Cent, 6*time.Hour))
	require.False(t, f.hold("create", "resp:1", c, 80*Cent, 6*time.Hour), "held once")
	f.Advance(2 * time.Hour) // far past the request's lease: the held charge stays
	f.RequireSpend(c, rule, 0, 80*Cent, 0, 80*Cent)

	s := f.SettleReq("resp:1", c, rule, 30*Cent)
	s.OnlyIfHeld = true
	res, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.False(t, res.NotHeld)
	require.Equal(t, budget.PeriodSpend{SpentNano: 30 * Cent, Limit: rule.Daily}, res.Day)
	// The other fetch path sees the same result: nothing changes.
	res, err = f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.True(t, res.Duplicate)
	f.RequireSpend(c, rule, 30*Cent, 0, 30*Cent, 0)

	// A result nobody held (created before Proxide, or by another client) charges nothing.
	s = f.SettleReq("resp:unknown", c, rule, 5*Cent)
	s.OnlyIfHeld = true
	res, err = f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.True(t, res.NotHeld)
	f.RequireSpend(c, rule, 30*Cent, 0, 30*Cent, 0)
}

func testHeldChargeChargedOnExpiry(t *testing.T, f *Fixture) {
	c := "never-seen"
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	f.TTL = time.Minute
	require.True(t, f.Reserve("create", c, rule, 70*Cent).Admitted)
	require.True(t, f.hold("create", "batch:9", c, 70*Cent, time.Hour))
	f.Advance(time.Hour)
	sp := f.Spend(c, rule)
	require.Equal(t, [2]int64{70 * Cent, 0}, [2]int64{sp.Day.SpentNano, sp.Day.ReservedNano}, "charged, not released")
	require.Equal(t, 70*Cent, sp.Today.EstimatedNano)
	require.Equal(t, int64(1), sp.Today.Requests)
	require.Equal(t, "o3", sp.Today.Models[0].Model)
	require.Equal(t, int64(1), sp.Today.Models[0].Estimated)
	// The late result does not charge again.
	s := f.SettleReq("batch:9", c, rule, 10*Cent)
	s.OnlyIfHeld = true
	res, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	require.True(t, res.Duplicate || res.NotHeld)
	f.RequireSpend(c, rule, 70*Cent, 0, 70*Cent, 0)

	// Held after the request's own reservation expired: the estimate is held anyway.
	require.True(t, f.Reserve("create2", c, rules.Rule{}, 5*Cent).Admitted)
	f.Advance(2 * time.Minute)
	require.True(t, f.hold("create2", "resp:2", c, 5*Cent, time.Hour))
	f.RequireSpend(c, rule, 70*Cent, 5*Cent, 70*Cent, 5*Cent)

	// Held across midnight: charged to the day it was reserved in.
	f.At(time.Date(2026, 11, 28, 23, 59, 0, 0, time.UTC))
	require.True(t, f.Reserve("late", "midnight", rule, 9*Cent).Admitted)
	f.At(time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).Add(-time.Millisecond)) // its lease is still alive
	require.NoError(t, f.L.Extend(f.ctx, []budget.Lease{{ID: "late", ClientID: "midnight", Expiry: f.Now.Add(time.Minute)}}))
	f.At(time.Date(2026, 11, 29, 0, 0, 30, 0, time.UTC))
	require.True(t, f.hold("late", "resp:3", "midnight", 9*Cent, time.Hour))
	f.Advance(2 * time.Hour)
	f.RequireSpend("midnight", rule, 0, 0, 9*Cent, 0)
	h, err := f.L.History(f.ctx, "midnight", "2026-11-28", "2026-11-29")
	require.NoError(t, err)
	require.Equal(t, [2]int64{9 * Cent, 0}, [2]int64{h[0].CostNano, h[1].CostNano})
}

func testHoldInvalid(t *testing.T, f *Fixture) {
	for name, h := range map[string]budget.HoldRequest{
		"no new id":   {ID: "a", ClientID: "c", Periods: f.Periods(), Expiry: f.Now.Add(time.Hour), Now: f.Now},
		"expired":     {ID: "a", NewID: "b", ClientID: "c", Periods: f.Periods(), Expiry: f.Now, Now: f.Now},
		"too long":    {ID: "a", NewID: "b", ClientID: "c", Periods: f.Periods(), Expiry: f.Now.Add(budget.MaxHoldTTL + time.Second), Now: f.Now},
		"negative":    {ID: "a", NewID: "b", ClientID: "c", Periods: f.Periods(), EstimateNano: -1, Expiry: f.Now.Add(time.Hour), Now: f.Now},
		"bad client":  {ID: "a", NewID: "b", ClientID: "", Periods: f.Periods(), Expiry: f.Now.Add(time.Hour), Now: f.Now},
		"bad periods": {ID: "a", NewID: "b", ClientID: "c", Expiry: f.Now.Add(time.Hour), Now: f.Now},
	} {
		_, err := f.L.Hold(f.ctx, h)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
	f.RequireSpend("c", rules.Rule{}, 0, 0, 0, 0)
}

func testRememberedContexts(t *testing.T, f *Fixture) {
	c := "multi-turn"
	rule := rules.Rule{}
	require.True(t, f.Reserve("t1", c, rule, Cent).Admitted)
	s := f.SettleReq("t1", c, rule, Cent)
	s.Remember = []budget.Remember{{Key: "resp:abc", Tokens: 1234, TTL: time.Hour}, {Key: "conv:x", Tokens: 99, TTL: time.Hour}}
	_, err := f.L.Settle(f.ctx, s)
	require.NoError(t, err)
	got, err := f.L.Contexts(f.ctx, c, []string{"resp:abc", "resp:nope", "conv:x"}, f.Now)
	require.NoError(t, err)
	require.Equal(t, []int64{1234, 0, 99}, got)
	other, err := f.L.Contexts(f.ctx, "another-client", []string{"resp:abc"}, f.Now)
	require.NoError(t, err)
	require.Equal(t, []int64{0}, other, "contexts are per client")
	empty, err := f.L.Contexts(f.ctx, c, nil, f.Now)
	require.NoError(t, err)
	require.Empty(t, empty)

	require.NoError(t, f.L.Remember(f.ctx, c, []budget.Remember{{Key: "batchfile:f1", Tokens: 777, TTL: time.Hour}}, f.Now))
	got, err = f.L.Contexts(f.ctx, c, []string{"batchfile:f1"}, f.Now)
	require.NoError(t, err)
	require.Equal(t, []int64{777}, got, "remembered without a settlement")
	require.ErrorIs(t, f.L.Remember(f.ctx, c, []budget.Remember{{Key: "", Tokens: 1, TTL: time.Hour}}, f.Now), budget.ErrInvalid)

	s = f.SettleReq("t2", c, rule, 0)
	s.Remember = []budget.Remember{{Key: "resp:x", Tokens: -1, TTL: time.Hour}}
	_, err = f.L.Settle(f.ctx, s)
	require.ErrorIs(t, err, budget.ErrInvalid)
}
