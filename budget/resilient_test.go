package budget_test

import (
	"bytes"
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
	"github.com/proxide/proxide/budget/redistest"
)

// flaky is a hand-written fake store: down fails every call; lost applies a settlement
// and then reports an error, like a reply lost on the wire.
type flaky struct {
	budget.Ledger
	down, lost atomic.Bool
	closed     atomic.Bool
}

var _ budget.Ledger = (*flaky)(nil)

var errDown = errors.New("connection refused")

func (f *flaky) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	if f.down.Load() {
		return budget.Admission{}, errors.Join(budget.ErrUnavailable, errDown)
	}
	return f.Ledger.Reserve(ctx, r)
}

func (f *flaky) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	if f.down.Load() {
		return budget.SettleResult{}, errors.Join(budget.ErrUnavailable, errDown)
	}
	res, err := f.Ledger.Settle(ctx, s)
	if err == nil && f.lost.Load() {
		return budget.SettleResult{}, errors.Join(budget.ErrUnavailable, errors.New("i/o timeout"))
	}
	return res, err
}

func (f *flaky) Close() error { f.closed.Store(true); return nil }

func newFlaky() *flaky { return &flaky{Ledger: budget.NewMemory(budget.MemoryOptions{})} }

func quietLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newResilient never replays in the background (RetryEvery 1h) unless a test asks it to,
// so tests drive replays with Flush.
func newResilient(t *testing.T, inner budget.Ledger, mode budget.FailureMode, logs *bytes.Buffer) *budget.Resilient {
	r := budget.NewResilient(inner, budget.ResilientOptions{Mode: mode, Logger: quietLogger(logs), RetryEvery: time.Hour, CloseTimeout: time.Second})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestResilientModes(t *testing.T) {
	rule := budget.Rule{Daily: budget.LimitOf(ledgertest.Cent)}
	for _, tc := range []struct {
		mode     budget.FailureMode
		admitted bool
	}{{"", false}, {budget.FailClosed, false}, {budget.FailOpen, true}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			inner := newFlaky()
			var logs bytes.Buffer
			r := newResilient(t, inner, tc.mode, &logs)
			f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
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
	var logs bytes.Buffer
	r := newResilient(t, inner, budget.FailClosed, &logs)
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	rule := budget.Rule{Daily: budget.LimitOf(100 * ledgertest.Cent)}
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
	r := newResilient(t, inner, budget.FailOpen, &bytes.Buffer{})
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	rule := budget.Rule{}
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
	r := budget.NewResilient(inner, budget.ResilientOptions{Logger: quietLogger(&bytes.Buffer{}), RetryEvery: 5 * time.Millisecond})
	t.Cleanup(func() { _ = r.Close() })
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	inner.down.Store(true)
	f.Settle("a", "c", budget.Rule{}, 5)
	inner.down.Store(false)
	require.Eventually(t, func() bool { return r.Buffered() == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(5), f.Spend("c", budget.Rule{}).Day.SpentNano)
}

func TestResilientMaxBuffered(t *testing.T) {
	inner := newFlaky()
	var logs bytes.Buffer
	r := budget.NewResilient(inner, budget.ResilientOptions{Logger: quietLogger(&logs), RetryEvery: time.Hour, MaxBuffered: 2, CloseTimeout: 50 * time.Millisecond})
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	inner.down.Store(true)
	f.Settle("a", "c", budget.Rule{}, 1)
	f.Settle("b", "c", budget.Rule{}, 1)
	_, err := r.Settle(context.Background(), f.SettleReq("overflow", "c", budget.Rule{}, 1))
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.Contains(t, logs.String(), "id=overflow")

	// Close reports what it could not flush and still closes the inner ledger.
	err = r.Close()
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.ErrorContains(t, err, "2 settlements not flushed")
	require.Contains(t, logs.String(), "settlement not flushed")
	require.Contains(t, logs.String(), "id=a")
	require.Contains(t, logs.String(), "id=b")
	require.True(t, inner.closed.Load())
	require.NoError(t, r.Close(), "second Close is a no-op")
}

func TestResilientCloseFlushes(t *testing.T) {
	inner := newFlaky()
	r := budget.NewResilient(inner, budget.ResilientOptions{Logger: quietLogger(&bytes.Buffer{}), RetryEvery: time.Hour})
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	inner.down.Store(true)
	f.Settle("a", "c", budget.Rule{}, 4)
	inner.down.Store(false)
	require.NoError(t, r.Close())
	s, err := inner.Ledger.Spend(context.Background(), "c", budget.Rule{}, f.Periods(), f.Now)
	require.NoError(t, err)
	require.Equal(t, int64(4), s.Day.SpentNano)
}

// TestResilientRedisRestart stops a real redis-server in the middle of traffic and starts
// it again: with fail-open every settlement made during the outage reaches Redis once.
func TestResilientRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{Persist: true})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{})
	require.NoError(t, err)
	var logs bytes.Buffer
	r := newResilient(t, l, budget.FailOpen, &logs)
	f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	rule := budget.Rule{Daily: budget.LimitOf(100 * ledgertest.Cent)}
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
	_, err = r.Spend(context.Background(), "u", rule, f.Periods(), f.Now)
	require.ErrorIs(t, err, budget.ErrUnavailable, "reads pass through")

	require.NoError(t, srv.Start())
	require.NoError(t, r.Flush(context.Background()))
	require.Zero(t, r.Buffered())
	f.RequireSpend("u", rule, 31*c, 0, 31*c, 0) // 10 + 15 + 4 + 2; the in-flight reservation was released
	require.NoError(t, r.Flush(context.Background()))
	require.True(t, f.Settle("blind", "u", rule, 4*c).Duplicate)
	f.RequireSpend("u", rule, 31*c, 0, 31*c, 0)
	require.Contains(t, logs.String(), "ledger available again")
}
