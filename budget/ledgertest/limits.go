package ledgertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

func testDailyLimit(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(50*Cent), rules.Limit{})
	c := "user-12345"

	// Admission counts reservations: three 20c requests in flight fit under 50c
	// (0 → 20 → 40 are all < 50), the fourth does not.
	for i, id := range []string{"a", "b", "c"} {
		a := f.Reserve(id, c, rule, 20*Cent)
		require.True(t, a.Admitted, "request %d", i)
		require.Nil(t, a.Exceeded)
		require.Equal(t, int64(20*(i+1))*Cent, a.Day.ReservedNano)
		require.Equal(t, rules.LimitOf(50*Cent), a.Day.Limit)
		require.False(t, a.Month.Limit.Set)
	}
	a := f.Reserve("d", c, rule, 20*Cent)
	require.False(t, a.Admitted)
	require.Equal(t, &budget.Exceeded{Kind: budget.Daily, LimitNano: 50 * Cent, SpentNano: 60 * Cent,
		Period: f.Periods().Day, SettledOnly: false}, a.Exceeded)
	require.Equal(t, 60*Cent, a.Day.ReservedNano, "a refused request reserves nothing")

	f.Settle("a", c, rule, 25*Cent)
	f.Settle("b", c, rule, 25*Cent)
	f.RequireSpend(c, rule, 50*Cent, 20*Cent, 50*Cent, 20*Cent)
	a = f.Reserve("e", c, rule, Cent)
	require.False(t, a.Admitted)
	require.NotNil(t, a.Exceeded)
	require.True(t, a.Exceeded.SettledOnly, "settled 50c alone reaches the 50c limit")
	require.Equal(t, 70*Cent, a.Exceeded.SpentNano)
}

func testMonthlyLimit(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(100*Cent), rules.LimitOf(30*Cent))
	c := "tenant-a"
	f.Charge(c, rule, 30*Cent)
	a := f.Reserve(f.NextID(), c, rule, Cent)
	require.False(t, a.Admitted)
	require.Equal(t, budget.Monthly, a.Exceeded.Kind)
	require.Equal(t, 30*Cent, a.Exceeded.LimitNano)
	require.Equal(t, f.Periods().Month, a.Exceeded.Period)
	require.True(t, a.Exceeded.SettledOnly)

	// The next day the monthly limit still blocks.
	f.Advance(24 * time.Hour)
	a = f.Reserve(f.NextID(), c, rule, Cent)
	require.False(t, a.Admitted)
	require.Equal(t, budget.Monthly, a.Exceeded.Kind)
	require.Equal(t, int64(0), a.Day.SpentNano)
}

func testBothExhausted(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(10*Cent), rules.LimitOf(10*Cent))
	c := "both"
	f.Charge(c, rule, 12*Cent)
	a := f.Reserve(f.NextID(), c, rule, Cent)
	require.False(t, a.Admitted)
	require.Equal(t, budget.Monthly, a.Exceeded.Kind, "monthly blocks longer")
	require.Equal(t, 12*Cent, a.Exceeded.SpentNano)

	// Only the day exhausted → daily.
	rule2 := blockRule(rules.LimitOf(10*Cent), rules.LimitOf(100*Cent))
	a = f.Reserve(f.NextID(), c, rule2, Cent)
	require.False(t, a.Admitted)
	require.Equal(t, budget.Daily, a.Exceeded.Kind)
}

func testAdmitBoundary(t *testing.T, f *Fixture) {
	rule := blockRule(rules.LimitOf(1000), rules.Limit{})
	c := "edge"
	f.Charge(c, rule, 998)
	a := f.Reserve("r1", c, rule, 1) // 998 < 1000
	require.True(t, a.Admitted)
	a = f.Reserve("r2", c, rule, 0) // 999 < 1000: a zero estimate is admitted too
	require.True(t, a.Admitted)
	require.Equal(t, int64(1), a.Day.ReservedNano)
	f.Settle("r2", c, rule, 1) // spent 999, reserved 1
	a = f.Reserve("r3", c, rule, 0)
	require.False(t, a.Admitted, "999 + 1 reserved = 1000 is not < 1000")
	require.False(t, a.Exceeded.SettledOnly)
}

func testUnlimitedAndZero(t *testing.T, f *Fixture) {
	free := rules.Rule{}
	c := "free"
	f.Charge(c, free, 1_000_000*Cent)
	a := f.Reserve(f.NextID(), c, free, 1_000_000*Cent)
	require.True(t, a.Admitted)
	require.Nil(t, a.Exceeded)

	zero := blockRule(rules.LimitOf(0), rules.Limit{})
	a = f.Reserve(f.NextID(), "nobody", zero, 0)
	require.False(t, a.Admitted, "a zero limit blocks everything")
	require.Equal(t, budget.Daily, a.Exceeded.Kind)
	require.True(t, a.Exceeded.SettledOnly)
}

// testExactAboveFloatPrecision: 2^53 < 2^53+1 is false in float64, true in int64.
func testExactAboveFloatPrecision(t *testing.T, f *Fixture) {
	const p53 = int64(1) << 53
	c := "whale"
	free := rules.Rule{}
	left := p53
	for left > 0 {
		n := min(left, budget.MaxAmountNano)
		f.Charge(c, free, n)
		left -= n
	}
	a := f.Reserve(f.NextID(), c, blockRule(rules.LimitOf(p53+1), rules.Limit{}), 0)
	require.True(t, a.Admitted, "2^53 < 2^53+1")
	require.Equal(t, p53, a.Day.SpentNano)
	a = f.Reserve(f.NextID(), c, blockRule(rules.LimitOf(p53), rules.Limit{}), 0)
	require.False(t, a.Admitted, "2^53 is not < 2^53")
	res := f.Charge(c, free, 1)
	require.Equal(t, p53+1, res.Day.SpentNano, "exact int64 sum")
	require.Equal(t, p53+1, res.Month.SpentNano)
}

func testAlertNeverBlocks(t *testing.T, f *Fixture) {
	rule := rules.Rule{Daily: rules.LimitOf(10 * Cent), Monthly: rules.LimitOf(10 * Cent), Action: rules.ActionAlert}
	c := "trial-1"
	f.Charge(c, rule, 20*Cent)
	a := f.Reserve(f.NextID(), c, rule, 5*Cent)
	require.True(t, a.Admitted)
	require.NotNil(t, a.Exceeded, "exceeded is reported for information")
	require.Equal(t, budget.Monthly, a.Exceeded.Kind)
	require.Equal(t, 5*Cent, a.Day.ReservedNano, "alert rules still reserve")
}

func testOwnCounters(t *testing.T, f *Fixture) {
	set, err := rules.NewSet(blockRule(rules.LimitOf(100*Cent), rules.Limit{}), []rules.Rule{
		{Match: "user-*", Daily: rules.LimitOf(50 * Cent)},
	})
	require.NoError(t, err)
	r1, r2, other := set.Resolve("user-1"), set.Resolve("user-2"), set.Resolve("svc")
	require.Equal(t, "user-*", r1.Match)
	f.Charge("user-1", r1, 50*Cent)
	require.False(t, f.Reserve(f.NextID(), "user-1", r1, Cent).Admitted)
	require.True(t, f.Reserve(f.NextID(), "user-2", r2, Cent).Admitted, "user-2 has its own counters")
	require.True(t, f.Reserve(f.NextID(), "svc", other, Cent).Admitted)
	f.RequireSpend("user-2", r2, 0, Cent, 0, Cent)
	// Ids that differ only in bytes a key encoding might mangle stay separate.
	for _, id := range []string{"a:b", "a{b}", "a b", "ä", "a/b", "A:B"} {
		f.Charge(id, rules.Rule{}, Cent)
	}
	for _, id := range []string{"a:b", "a{b}", "a b", "ä", "a/b", "A:B"} {
		require.Equal(t, Cent, f.Spend(id, rules.Rule{}).Day.SpentNano, id)
	}
}
