// Package ledgertest is the contract suite every budget.Ledger must pass. The in-memory
// and the Redis ledger run the same tests, so they cannot drift apart:
//
//	func TestMemoryContract(t *testing.T) {
//		ledgertest.Run(t, func(t *testing.T) budget.Ledger { return memory.New(memory.Options{}) })
//	}
//
// Time comes from the requests (a fake clock), never from the ledger, so the suite moves
// across midnight, month ends and TTLs without sleeping.
package ledgertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// Factory returns a new, empty store for one test. Run closes it when the test ends.
type Factory func(t *testing.T) budget.Store

// Cent is one US cent in nano-USD.
const Cent int64 = 10_000_000

// Run runs the whole contract suite against stores made by newLedger, loop detection and
// the client index included.
func Run(t *testing.T, newLedger Factory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f *Fixture)
	}{
		{"DailyLimit", testDailyLimit},
		{"MonthlyLimit", testMonthlyLimit},
		{"BothExhaustedReportsMonthly", testBothExhausted},
		{"AdmitBoundaryIsStrict", testAdmitBoundary},
		{"UnlimitedAndZeroLimit", testUnlimitedAndZero},
		{"ExactAboveFloatPrecision", testExactAboveFloatPrecision},
		{"AlertRuleNeverBlocks", testAlertNeverBlocks},
		{"ThresholdsFireOncePerPeriod", testThresholdsOnce},
		{"ThresholdIntegerBoundary", testThresholdBoundary},
		{"ChangedLimitAlertsAgain", testChangedLimitAlertsAgain},
		{"OwnCountersUnderSharedPattern", testOwnCounters},
		{"DayRollover", testDayRollover},
		{"MonthRollover", testMonthRollover},
		{"DSTDayInZone", testDSTDay},
		{"FailedReleasesReservation", testFailedReleases},
		{"ExpiredReservationReleased", testExpiredReleased},
		{"SettleAfterExpiryStillCharges", testSettleAfterExpiry},
		{"SettleWithoutReservationCharges", testSettleWithoutReservation},
		{"DuplicateSettle", testDuplicateSettle},
		{"DuplicateReserve", testDuplicateReserve},
		{"ReserveAfterSettleRefused", testReserveAfterSettle},
		{"SettleAcrossMidnight", testSettleAcrossMidnight},
		{"SettleAcrossMonthEnd", testSettleAcrossMonthEnd},
		{"InvalidInputChangesNothing", testInvalidChangesNothing},
		{"StatsPerModel", testStatsPerModel},
		{"HistoryRange", testHistory},
		{"SpendOfUnknownClient", testSpendUnknown},
		{"Concurrency", func(t *testing.T, f *Fixture) { RunConcurrency(t, f.L) }},
		{"IndexOrderAndCursorWalk", testIndexOrder},
		{"IndexMonthSort", testIndexMonthSort},
		{"IndexPrefix", testIndexPrefix},
		{"IndexCursorAfterSpendChange", testIndexCursorStability},
		{"IndexInvalidQueries", testIndexInvalid},
		{"GlobalHistoryIsSumOfClients", testGlobalHistory},
		{"DuplicateSettleNotAggregatedTwice", testGlobalDuplicate},
		{"StrictAdmission", testStrictAdmission},
		{"LeaseKeepsReservation", testLeaseKeepsReservation},
		{"HeldChargeSettledOnce", testHeldChargeSettledOnce},
		{"HeldChargeChargedOnExpiry", testHeldChargeChargedOnExpiry},
		{"HoldInvalid", testHoldInvalid},
		{"RememberedContexts", testRememberedContexts},
	} {
		runOne(t, newLedger, tc.name, tc.fn)
	}
	for _, tc := range loopRuns {
		runOne(t, newLedger, tc.name, tc.fn)
	}
}

func runOne(t *testing.T, newLedger Factory, name string, fn func(t *testing.T, f *Fixture)) {
	t.Run(name, func(t *testing.T) {
		l := newLedger(t)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		fn(t, NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)))
	})
}

// Fixture drives one store with a fake clock in one calendar.
type Fixture struct {
	T   *testing.T
	L   budget.Store
	Cal budget.Calendar
	Now time.Time
	TTL time.Duration // for reservations; 0 = the ledger default
	ctx context.Context
	seq int
}

// NewFixture returns a fixture at now in the zone tz.
func NewFixture(t *testing.T, l budget.Store, tz string, now time.Time) *Fixture {
	cal, err := budget.NewCalendar(tz)
	require.NoError(t, err)
	return &Fixture{T: t, L: l, Cal: cal, Now: now, ctx: context.Background()}
}

// Index returns the store's client index.
func (f *Fixture) Index() budget.ClientIndex { return f.L }

// SyncIndex makes every settlement so far visible to the ClientIndex: stores that write
// the index in the background (Redis) flush it.
func (f *Fixture) SyncIndex() {
	f.T.Helper()
	require.NoError(f.T, f.L.FlushIndex(f.ctx))
}

// At moves the fake clock.
func (f *Fixture) At(now time.Time) { f.Now = now }

// Advance moves the fake clock forward.
func (f *Fixture) Advance(d time.Duration) { f.Now = f.Now.Add(d) }

// Periods are the current periods.
func (f *Fixture) Periods() budget.Periods { return f.Cal.Periods(f.Now) }

// NextID returns a fresh reservation id.
func (f *Fixture) NextID() string {
	f.seq++
	return fmt.Sprintf("req-%d", f.seq)
}

// Reserve reserves est for client under rule with the given id and requires no error.
func (f *Fixture) Reserve(id, client string, rule rules.Rule, est int64) budget.Admission {
	f.T.Helper()
	a, err := f.L.Reserve(f.ctx, f.ReserveReq(id, client, rule, est))
	require.NoError(f.T, err)
	return a
}

// ReserveReq builds a reserve request at the current time.
func (f *Fixture) ReserveReq(id, client string, rule rules.Rule, est int64) budget.ReserveRequest {
	return budget.ReserveRequest{ID: id, ClientID: client, Rule: rule, Periods: f.Periods(), EstimateNano: est, Now: f.Now, TTL: f.TTL}
}

// Settle settles id for client at the current time and requires no error.
func (f *Fixture) Settle(id, client string, rule rules.Rule, actual int64) budget.SettleResult {
	f.T.Helper()
	res, err := f.L.Settle(f.ctx, f.SettleReq(id, client, rule, actual))
	require.NoError(f.T, err)
	return res
}

// SettleReq builds a successful settle request at the current time.
func (f *Fixture) SettleReq(id, client string, rule rules.Rule, actual int64) budget.SettleRequest {
	return budget.SettleRequest{ID: id, ClientID: client, Rule: rule, Periods: f.Periods(), ActualNano: actual,
		Model: "gpt-4o-mini", Tokens: budget.Tokens{Prompt: 100, Completion: 10}, Now: f.Now}
}

// Spend returns the client's spend now.
func (f *Fixture) Spend(client string, rule rules.Rule) budget.ClientSpend {
	f.T.Helper()
	s, err := f.L.Spend(f.ctx, client, rule, f.Periods(), f.Now)
	require.NoError(f.T, err)
	return s
}

// Charge reserves and settles one request of cost n (estimate = n) and requires admission.
func (f *Fixture) Charge(client string, rule rules.Rule, n int64) budget.SettleResult {
	f.T.Helper()
	id := f.NextID()
	a := f.Reserve(id, client, rule, n)
	require.True(f.T, a.Admitted, "charge %d for %s not admitted: %+v", n, client, a)
	return f.Settle(id, client, rule, n)
}

// RequireSpend checks settled and reserved spend of both periods.
func (f *Fixture) RequireSpend(client string, rule rules.Rule, daySpent, dayRes, monthSpent, monthRes int64) {
	f.T.Helper()
	s := f.Spend(client, rule)
	require.Equal(f.T, [4]int64{daySpent, dayRes, monthSpent, monthRes},
		[4]int64{s.Day.SpentNano, s.Day.ReservedNano, s.Month.SpentNano, s.Month.ReservedNano},
		"spend of %s at %s as [day spent, day reserved, month spent, month reserved]", client, f.Now)
}

func blockRule(daily, monthly rules.Limit) rules.Rule {
	return rules.Rule{Daily: daily, Monthly: monthly, Action: rules.ActionBlock}
}
