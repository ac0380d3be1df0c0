package resilient_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/memory"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/resilient"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// flaky is a hand-written fake store: down fails every call of the request path; lost
// applies a settlement and then reports an error, like a reply lost on the wire.
type flaky struct {
	budget.Store
	down, lost atomic.Bool
	closed     atomic.Bool
}

var _ budget.Store = (*flaky)(nil)

var errDown = errors.New("connection refused")

func (f *flaky) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	if f.down.Load() {
		return budget.Admission{}, errors.Join(budget.ErrUnavailable, errDown)
	}
	return f.Store.Reserve(ctx, r)
}

func (f *flaky) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	if f.down.Load() {
		return budget.SettleResult{}, errors.Join(budget.ErrUnavailable, errDown)
	}
	res, err := f.Store.Settle(ctx, s)
	if err == nil && f.lost.Load() {
		return budget.SettleResult{}, errors.Join(budget.ErrUnavailable, errors.New("i/o timeout"))
	}
	return res, err
}

func (f *flaky) Close() error { f.closed.Store(true); return nil }

func newFlaky() *flaky { return &flaky{Store: memory.New(memory.Options{})} }

// gateway is a store as the gateway sees it: the request path through the resilient
// ledger r, everything else straight to the store.
type gateway struct {
	budget.Store
	r *resilient.Ledger
}

func (g gateway) Reserve(ctx context.Context, req budget.ReserveRequest) (budget.Admission, error) {
	return g.r.Reserve(ctx, req)
}

func (g gateway) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	return g.r.Settle(ctx, s)
}

// fixture drives the store through r.
func fixture(t *testing.T, store budget.Store, r *resilient.Ledger) *ledgertest.Fixture {
	return ledgertest.NewFixture(t, gateway{Store: store, r: r}, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
}

func quietLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newResilient never replays in the background (RetryEvery 1h) unless a test asks it to,
// so tests drive replays with Flush.
func newResilient(t *testing.T, inner budget.Ledger, mode resilient.FailureMode, logs *syncBuffer) *resilient.Ledger {
	r := resilient.New(inner, resilient.Options{Mode: mode, Logger: quietLogger(logs), RetryEvery: time.Hour, CloseTimeout: time.Second})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestResilientModes(t *testing.T) {
	rule := rules.Rule{Daily: rules.LimitOf(ledgertest.Cent)}
	for _, tc := range []struct {
		mode     resilient.FailureMode
		admitted bool
	}{{"", false}, {resilient.FailClosed, false}, {resilient.FailOpen, true}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			inner := newFlaky()
			var logs syncBuffer
			r := newResilient(t, inner, tc.mode, &logs)
			f := fixture(t, inner, r)
			ctx := context.Background()

			require.True(t, f.Reserve("ok", "c", rule, 1).Admitted)
			inner.down.Store(true)
			a, err := r.Reserve(ctx, f.ReserveReq("r", "c", rule, 1))
			if tc.admitted {
				require.NoError(t, err)
				require.True(t, a.Admitted)
				require.True(t, a.Degraded)
			} else {
				require.ErrorIs(t, err, budget.ErrUnavailable)
				require.False(t, a.Admitted)
			}
			// Invalid requests are refused in either mode, never admitted blindly.
			_, err = r.Reserve(ctx, f.ReserveReq("", "c", rule, 1))
			require.ErrorIs(t, err, budget.ErrInvalid)
			require.Contains(t, logs.String(), "ledger unavailable")
		})
	}
}

func TestResilientBuffersSettlements(t *testing.T) {
	inner := newFlaky()
	var logs syncBuffer
	r := newResilient(t, inner, resilient.FailClosed, &logs)
	f := fixture(t, inner, r)
	rule := rules.Rule{Daily: rules.LimitOf(100 * ledgertest.Cent)}
	ctx := context.Background()

	f.Reserve("a", "c", rule, 10*ledgertest.Cent)
	inner.down.Store(true)
	res := f.Settle("a", "c", rule, 7*ledgertest.Cent)
	require.True(t, res.Degraded)
	_, err := r.Settle(ctx, f.SettleReq("", "c", rule, 1))
	require.ErrorIs(t, err, budget.ErrInvalid, "invalid settlements are not buffered")
	f.Advance(time.Hour)
	require.True(t, f.Settle("b", "c", rule, 3*ledgertest.Cent).Degraded)
	require.Equal(t, 2, r.Buffered())
	require.ErrorIs(t, r.Flush(ctx), budget.ErrUnavailable, "still down")
	require.Equal(t, 2, r.Buffered())

	inner.down.Store(false)
	require.NoError(t, r.Flush(ctx))
	require.Zero(t, r.Buffered())
	f.RequireSpend("c", rule, 10*ledgertest.Cent, 0, 10*ledgertest.Cent, 0)
	require.True(t, f.Settle("a", "c", rule, 7*ledgertest.Cent).Duplicate, "replayed with its id")
	require.Contains(t, logs.String(), "replayed buffered settlements")
}

// TestResilientLostReply: the store applied the settlement but the reply was lost; the
// replay is recognised as a duplicate and nothing is charged twice.
func TestResilientLostReply(t *testing.T) {
	inner := newFlaky()
	r := newResilient(t, inner, resilient.FailOpen, &syncBuffer{})
	f := fixture(t, inner, r)
	rule := rules.Rule{}
	f.Reserve("a", "c", rule, 5)
	inner.lost.Store(true)
	require.True(t, f.Settle("a", "c", rule, 5).Degraded)
	inner.lost.Store(false)
	require.NoError(t, r.Flush(context.Background()))
	f.RequireSpend("c", rule, 5, 0, 5, 0)
	require.Equal(t, int64(1), f.Spend("c", rule).Today.Requests)
}

func TestResilientBackgroundReplay(t *testing.T) {
	inner := newFlaky()
	r := resilient.New(inner, resilient.Options{Logger: quietLogger(&syncBuffer{}), RetryEvery: 5 * time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	f := fixture(t, inner, r)
	inner.down.Store(true)
	f.Settle("a", "c", rules.Rule{}, 5)
	inner.down.Store(false)
	require.Eventually(t, func() bool { return r.Buffered() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(5), f.Spend("c", rules.Rule{}).Day.SpentNano)
}

func TestResilientMaxBuffered(t *testing.T) {
	inner := newFlaky()
	var logs syncBuffer
	r := resilient.New(inner, resilient.Options{Logger: quietLogger(&logs), RetryEvery: time.Hour, MaxBuffered: 2, CloseTimeout: 50 * time.Millisecond})
	f := fixture(t, inner, r)
	inner.down.Store(true)
	f.Settle("a", "c", rules.Rule{}, 1)
	f.Settle("b", "c", rules.Rule{}, 1)
	_, err := r.Settle(context.Background(), f.SettleReq("overflow", "c", rules.Rule{}, 1))
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.Contains(t, logs.String(), "id=overflow")

	// Close reports what it could not flush; the inner store is its owner's to close.
	err = r.Close()
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.ErrorContains(t, err, "2 settlements not flushed")
	require.Contains(t, logs.String(), "settlement not flushed")
	require.Contains(t, logs.String(), "id=a")
	require.Contains(t, logs.String(), "id=b")
	require.False(t, inner.closed.Load())
	require.NoError(t, r.Close(), "second Close is a no-op")
}

func TestResilientCloseFlushes(t *testing.T) {
	inner := newFlaky()
	r := resilient.New(inner, resilient.Options{Logger: quietLogger(&syncBuffer{}), RetryEvery: time.Hour})
	f := fixture(t, inner, r)
	inner.down.Store(true)
	f.Settle("a", "c", rules.Rule{}, 4)
	inner.down.Store(false)
	require.NoError(t, r.Close())
	s, err := inner.Spend(context.Background(), "c", rules.Rule{}, f.Periods(), f.Now)
	require.NoError(t, err)
	require.Equal(t, int64(4), s.Day.SpentNano)
}

// TestResilientRedisRestart stops a real redis-server in the middle of traffic and starts
// it again: with fail-open every settlement made during the outage reaches Redis once.
func TestResilientRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Persist: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budgetredis.New(client, budgetredis.Options{})
	require.NoError(t, err)
	var logs syncBuffer
	r := newResilient(t, l, resilient.FailOpen, &logs)
	f := fixture(t, l, r)
	rule := rules.Rule{Daily: rules.LimitOf(100 * ledgertest.Cent)}
	const c = ledgertest.Cent

	f.Charge("u", rule, 10*c)
	require.True(t, f.Reserve("in-flight", "u", rule, 20*c).Admitted)

	require.NoError(t, srv.Stop())
	a := f.Reserve("blind", "u", rule, 5*c)
	require.True(t, a.Admitted && a.Degraded, "fail-open admits while Redis is down")
	require.True(t, f.Settle("in-flight", "u", rule, 15*c).Degraded)
	require.True(t, f.Settle("blind", "u", rule, 4*c).Degraded)
	f.Advance(time.Minute)
	require.True(t, f.Settle("unreserved", "u", rule, 2*c).Degraded)
	require.Equal(t, 3, r.Buffered())
	_, err = l.Spend(context.Background(), "u", rule, f.Periods(), f.Now)
	require.ErrorIs(t, err, budget.ErrUnavailable, "reads go to the store, never buffered")

	require.NoError(t, srv.Start())
	require.NoError(t, r.Flush(context.Background()))
	require.Zero(t, r.Buffered())
	f.RequireSpend("u", rule, 31*c, 0, 31*c, 0) // 10 + 15 + 4 + 2; the in-flight reservation was released
	require.NoError(t, r.Flush(context.Background()))
	require.True(t, f.Settle("blind", "u", rule, 4*c).Duplicate)
	f.RequireSpend("u", rule, 31*c, 0, 31*c, 0)
	require.Contains(t, logs.String(), "ledger available again")
}

// TestResilientLoop: an open-mode outage admits without loop detection (the window lives
// in the store), a closed one refuses; an invalid LoopCheck is never admitted.
func TestResilientLoop(t *testing.T) {
	for _, mode := range []resilient.FailureMode{resilient.FailOpen, resilient.FailClosed} {
		t.Run(string(mode), func(t *testing.T) {
			inner := newFlaky()
			var logs syncBuffer
			r := newResilient(t, inner, mode, &logs)
			f := fixture(t, inner, r)
			lc := budget.LoopCheck{Sig: ledgertest.Sig(1), Config: ledgertest.LoopConfig(), Block: true, Excerpt: "x"}
			for range 3 {
				f.ReserveLoop("c", rules.Rule{}, 1, lc)
			}
			a := f.ReserveLoop("c", rules.Rule{}, 1, lc)
			require.False(t, a.Admitted)
			require.True(t, a.Loop.Loop)
			_, active, err := inner.LoopState(context.Background(), "c", f.Now)
			require.NoError(t, err)
			require.True(t, active)
			require.Len(t, f.LoopEvents(budget.LoopQuery{}).Events, 1)

			inner.down.Store(true)
			req := f.ReserveReq(f.NextID(), "c", rules.Rule{}, 1)
			req.Loop = &lc
			a, err = r.Reserve(context.Background(), req)
			if mode == resilient.FailOpen {
				require.NoError(t, err)
				require.True(t, a.Admitted, "admitted blindly: detection needs the store")
				require.True(t, a.Degraded)
				require.Equal(t, loop.Verdict{}, a.Loop)
			} else {
				require.ErrorIs(t, err, budget.ErrUnavailable)
			}
			inner.down.Store(false)

			// An invalid LoopCheck is refused before the inner ledger, even when it is down.
			inner.down.Store(true)
			req.Loop = &budget.LoopCheck{Config: loop.Config{}}
			_, err = r.Reserve(context.Background(), req)
			require.ErrorIs(t, err, budget.ErrInvalid)
		})
	}
}
