package resilient_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/memory"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/resilient"
	"github.com/proxide/proxide/budget/rules"
)

// stalled is a hand-written fake store that hangs while stall is set: every call of the
// request path (and Ping) blocks until its context ends, as on a Redis that keeps its
// connections open and answers nothing. calls counts the calls that reached it.
type stalled struct {
	budget.Store
	stall     atomic.Bool
	stallNext atomic.Bool // the next Reserve or Settle only (Ping is not stalled)
	calls     atomic.Int64
}

func (s *stalled) wait(ctx context.Context) error {
	s.calls.Add(1)
	if !s.stall.Load() && !s.stallNext.CompareAndSwap(true, false) {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("%w: %w", budget.ErrUnavailable, ctx.Err())
}

func (s *stalled) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	if err := s.wait(ctx); err != nil {
		return budget.Admission{}, err
	}
	return s.Store.Reserve(ctx, r)
}

func (s *stalled) Settle(ctx context.Context, r budget.SettleRequest) (budget.SettleResult, error) {
	if err := s.wait(ctx); err != nil {
		return budget.SettleResult{}, err
	}
	return s.Store.Settle(ctx, r)
}

func (s *stalled) Ping(ctx context.Context) error {
	if s.stall.Load() {
		<-ctx.Done()
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, ctx.Err())
	}
	return nil
}

// syncBuffer collects logs written by the replay loop while the test reads them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// noPing hides the store's Ping: the breaker must probe with a real call (half-open).
type noPing struct{ budget.Ledger }

// TestBreakerOneDeadline: a hung store costs the first call its deadline; every call
// after it is answered at once by the failure mode without reaching the store, until a
// probe finds the store back. Nothing is lost.
func TestBreakerOneDeadline(t *testing.T) {
	rule := rules.Rule{Daily: rules.LimitOf(100 * ledgertest.Cent)}
	for _, tc := range []struct {
		name   string
		mode   resilient.FailureMode
		noPing bool
	}{
		{"closed", resilient.FailClosed, false},
		{"open", resilient.FailOpen, false},
		{"closed half-open probe", resilient.FailClosed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &stalled{Store: memory.New(memory.Options{})}
			var wrapped budget.Ledger = inner
			if tc.noPing {
				wrapped = noPing{inner}
			}
			var logs syncBuffer
			// The half-open probe goes by this clock; the ping probe by the replay ticker.
			var clock atomic.Int64
			clock.Store(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC).UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			r := resilient.New(wrapped, resilient.Options{Mode: tc.mode, Logger: logs.logger(), Now: now,
				RetryEvery: 20 * time.Millisecond, ProbeTimeout: 20 * time.Millisecond, CloseTimeout: time.Second})
			t.Cleanup(func() { _ = r.Close() })
			f := fixture(t, inner, r)
			require.NoError(t, r.Ready(t.Context()))

			inner.stall.Store(true)
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			a, err := r.Reserve(ctx, f.ReserveReq("first", "c", rule, ledgertest.Cent))
			cancel()
			requireFailureMode(t, tc.mode, a, err)
			require.True(t, r.Open(), "the first failure opens the breaker")
			reached := inner.calls.Load()

			// 100 concurrent requests while it hangs: none reaches the store, none waits
			// (their contexts have no deadline: a call that went to the store would hang).
			var wg sync.WaitGroup
			var admitted, refused atomic.Int64
			for i := range 100 {
				wg.Go(func() {
					id := fmt.Sprintf("r%d", i)
					a, err := r.Reserve(context.Background(), f.ReserveReq(id, "c", rule, ledgertest.Cent))
					if err != nil {
						require.ErrorIs(t, err, resilient.ErrCircuitOpen)
						refused.Add(1)
						return
					}
					require.True(t, a.Admitted && a.Degraded)
					admitted.Add(1)
					res, err := r.Settle(context.Background(), f.SettleReq(id, "c", rule, ledgertest.Cent))
					require.NoError(t, err)
					require.True(t, res.Degraded)
				})
			}
			wg.Wait()
			require.Equal(t, reached, inner.calls.Load(), "no call reached the hung store")
			if tc.mode == resilient.FailOpen {
				require.Equal(t, int64(100), admitted.Load())
				require.NoError(t, r.Ready(t.Context()), "fail-open stays ready")
			} else {
				require.Equal(t, int64(100), refused.Load())
				require.ErrorIs(t, r.Ready(t.Context()), resilient.ErrCircuitOpen, "fail-closed is not ready while open")
			}

			inner.stall.Store(false)
			if tc.noPing {
				// Half-open: once RetryEvery has passed, the next call is let through as
				// the probe, and its success closes the breaker.
				clock.Add(int64(20 * time.Millisecond))
				_, err := r.Reserve(context.Background(), f.ReserveReq("probe", "probe", rule, 0))
				require.NoError(t, err)
				require.Equal(t, reached+1, inner.calls.Load())
				require.False(t, r.Open())
				require.NoError(t, r.Flush(t.Context()))
			}
			require.Eventually(t, func() bool { return !r.Open() && r.Buffered() == 0 }, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, r.Ready(t.Context()))
			f.RequireSpend("c", rule, admitted.Load()*ledgertest.Cent, 0, admitted.Load()*ledgertest.Cent, 0)
			require.Contains(t, logs.String(), "circuit open")
			require.Contains(t, logs.String(), "circuit closed")
			require.Equal(t, int64(1), r.Trips())
		})
	}
}

func requireFailureMode(t *testing.T, mode resilient.FailureMode, a budget.Admission, err error) {
	t.Helper()
	if mode == resilient.FailOpen {
		require.NoError(t, err)
		require.True(t, a.Admitted && a.Degraded)
		return
	}
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.False(t, a.Admitted)
}

// TestBreakerProbesAtOnce: a store that was slow for one call (a burst of settlements,
// a starved CPU) opens the breaker, and the probe made at once closes it again: the
// replica does not refuse requests until the next RetryEvery (an hour here).
func TestBreakerProbesAtOnce(t *testing.T) {
	inner := &stalled{Store: memory.New(memory.Options{})}
	var logs syncBuffer
	r := resilient.New(inner, resilient.Options{Mode: resilient.FailClosed, Logger: logs.logger(),
		RetryEvery: time.Hour, ProbeTimeout: time.Second, CloseTimeout: time.Second})
	t.Cleanup(func() { _ = r.Close() })
	f := fixture(t, inner, r)
	rule := rules.Rule{Daily: rules.LimitOf(100 * ledgertest.Cent)}

	inner.stallNext.Store(true) // slow for this one call only
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	_, err := r.Reserve(ctx, f.ReserveReq("slow", "c", rule, ledgertest.Cent))
	cancel()
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.Eventually(t, func() bool { return !r.Open() }, 10*time.Second, time.Millisecond,
		"the breaker closes on the probe made when it opened, not on the hourly one")
	require.Equal(t, int64(1), r.Trips())
	a, err := r.Reserve(t.Context(), f.ReserveReq("next", "c", rule, ledgertest.Cent))
	require.NoError(t, err)
	require.True(t, a.Admitted)
	// The settlement buffered for the timed-out reserve was replayed once the probe
	// succeeded: nothing waits for the next tick.
	require.Eventually(t, func() bool { return r.Buffered() == 0 }, 10*time.Second, time.Millisecond)
}

// refusing answers PING but fails every write (Redis out of memory, a
// read-only replica after a failover).
type refusing struct {
	budget.Store
	settles atomic.Int64
}

func (s *refusing) Settle(context.Context, budget.SettleRequest) (budget.SettleResult, error) {
	s.settles.Add(1)
	return budget.SettleResult{}, fmt.Errorf("%w: OOM command not allowed", budget.ErrUnavailable)
}

func (s *refusing) Ping(context.Context) error { return nil }

// TestBreakerProbesAtOnceOnlyOncePerRetry: against a store that answers the
// probe but fails the replay, the breaker does not open, probe, close and
// replay again without pause: after the probe made at once, the next waits
// for RetryEvery (an hour here).
func TestBreakerProbesAtOnceOnlyOncePerRetry(t *testing.T) {
	inner := &refusing{Store: memory.New(memory.Options{})}
	var logs syncBuffer
	r := resilient.New(inner, resilient.Options{Mode: resilient.FailClosed, Logger: logs.logger(),
		RetryEvery: time.Hour, ProbeTimeout: time.Second, CloseTimeout: time.Second})
	t.Cleanup(func() { _ = r.Close() })
	f := fixture(t, inner, r)
	res, err := r.Settle(t.Context(), f.SettleReq("id", "c", rules.Rule{}, ledgertest.Cent))
	require.NoError(t, err)
	require.True(t, res.Degraded)
	// The probe at once closes the breaker and the replay opens it again.
	require.Eventually(t, func() bool { return r.Trips() == 2 }, 10*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // without the bound: tens of thousands of trips by now
	require.Equal(t, int64(2), r.Trips())
	require.Equal(t, int64(2), inner.settles.Load(), "the settlement and one replay")
	require.Equal(t, 1, r.Buffered(), "kept for the next tick")
}

// A caller that gives up (Envoy closed the stream) says nothing about the store.
func TestBreakerIgnoresCancelledCallers(t *testing.T) {
	inner := &stalled{Store: memory.New(memory.Options{})}
	r := newResilient(t, inner, resilient.FailClosed, &syncBuffer{})
	f := fixture(t, inner, r)
	inner.stall.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := r.Reserve(ctx, f.ReserveReq("gone", "c", rules.Rule{}, 1))
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, r.Open())
}

// TestBreakerRedisSIGSTOP hangs a real redis-server with SIGSTOP (connections stay open,
// nothing answers): one deadline, then answers without waiting in both failure modes;
// after SIGCONT the breaker closes and every buffered settlement lands once.
func TestBreakerRedisSIGSTOP(t *testing.T) {
	rule := rules.Rule{Daily: rules.LimitOf(100 * ledgertest.Cent)}
	for _, mode := range []resilient.FailureMode{resilient.FailClosed, resilient.FailOpen} {
		t.Run(string(mode), func(t *testing.T) {
			srv := redistest.StartServer(t, redistest.Options{})
			store, err := budgetredis.Open("redis://"+srv.Addr+"/0", budgetredis.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = store.Close() })
			var logs syncBuffer
			r := resilient.New(store, resilient.Options{Mode: mode, Logger: logs.logger(),
				RetryEvery: 50 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, CloseTimeout: time.Second})
			t.Cleanup(func() { _ = r.Close() })
			f := fixture(t, store, r)
			f.Charge("c", rule, ledgertest.Cent)
			require.True(t, f.Reserve("in-flight", "c", rule, 5*ledgertest.Cent).Admitted)

			require.NoError(t, srv.Pause())
			t.Cleanup(func() { _ = srv.Resume() })
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			a, err := r.Reserve(ctx, f.ReserveReq("first", "c", rule, ledgertest.Cent))
			cancel()
			requireFailureMode(t, mode, a, err)
			require.True(t, r.Open())
			charged := int64(1 + 3) // the charge before the hang, the in-flight request below
			if mode == resilient.FailOpen {
				// Admitted blindly; the gateway settles it like any other request.
				_, err := r.Settle(t.Context(), f.SettleReq("first", "c", rule, ledgertest.Cent))
				require.NoError(t, err)
				charged++
			}
			// The in-flight request finishes during the hang: its settlement is buffered.
			res, err := r.Settle(t.Context(), f.SettleReq("in-flight", "c", rule, 3*ledgertest.Cent))
			require.NoError(t, err)
			require.True(t, res.Degraded)
			// Without a deadline of their own, calls that went to Redis would hang here.
			for i := range 50 {
				id := fmt.Sprintf("during-%d", i)
				a, err := r.Reserve(context.Background(), f.ReserveReq(id, "c", rule, ledgertest.Cent))
				if mode == resilient.FailClosed {
					require.ErrorIs(t, err, resilient.ErrCircuitOpen)
					continue
				}
				require.NoError(t, err)
				require.True(t, a.Degraded)
				_, err = r.Settle(context.Background(), f.SettleReq(id, "c", rule, 2*ledgertest.Cent))
				require.NoError(t, err)
				charged += 2
			}
			if mode == resilient.FailClosed {
				require.Error(t, r.Ready(t.Context()))
			}

			require.NoError(t, srv.Resume())
			require.Eventually(t, func() bool { return !r.Open() && r.Buffered() == 0 }, 20*time.Second, 10*time.Millisecond)
			require.NoError(t, r.Ready(t.Context()))
			f.RequireSpend("c", rule, charged*ledgertest.Cent, 0, charged*ledgertest.Cent, 0)
			if mode == resilient.FailOpen {
				require.True(t, f.Settle("during-0", "c", rule, 2*ledgertest.Cent).Duplicate)
			}
		})
	}
}
