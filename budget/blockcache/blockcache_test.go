package blockcache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/memory"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

var now = time.Date(2026, 11, 28, 23, 59, 59, 500_000_000, time.UTC)

// ledger answers Reserve by script and counts the calls that reach it.
type ledger struct {
	budget.Ledger
	calls  int
	answer budget.Admission
	err    error
	during func() // runs while the call is in flight
}

func (l *ledger) Reserve(_ context.Context, _ budget.ReserveRequest) (budget.Admission, error) {
	l.calls++
	if l.during != nil {
		l.during()
	}
	return l.answer, l.err
}

func periods() budget.Periods { return budget.Calendar{}.Periods(now) }

func request(client string, at time.Time, lc *budget.LoopCheck) budget.ReserveRequest {
	return budget.ReserveRequest{ID: "r", ClientID: client, Periods: budget.Calendar{}.Periods(at), EstimateNano: 1, Now: at, Loop: lc}
}

func newStore(l *ledger, opts blockcache.Options) (*blockcache.Store, *memory.Store) {
	m := memory.New(memory.Options{})
	l.Ledger = m
	return blockcache.New(m, l, opts), m
}

func TestRemembersCertainRefusals(t *testing.T) {
	p := periods()
	cooldown := loop.Verdict{Loop: true, Cooldown: true, Repeats: 5, Kind: loop.KindExact, Until: now.Add(5 * time.Minute)}
	lc := &budget.LoopCheck{Config: loop.Config{Window: time.Minute, MaxRepeats: 5, Similarity: 0.9, Cooldown: 5 * time.Minute}}
	for _, tc := range []struct {
		name    string
		answer  budget.Admission
		err     error
		loop    *budget.LoopCheck
		cached  bool
		until   time.Duration // from now, when cached
		refusal blockcache.Refusal
	}{
		{name: "settled spend reached the limit: until the day ends (0.5s), within the TTL",
			answer: budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, Period: p.Day, SettledOnly: true}},
			cached: true, until: 500 * time.Millisecond,
			refusal: blockcache.Refusal{Exceeded: &budget.Exceeded{Kind: budget.Daily, Period: p.Day, SettledOnly: true}}},
		{name: "the month: at most the TTL",
			answer: budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Monthly, Period: p.Month, SettledOnly: true}},
			cached: true, until: time.Second,
			refusal: blockcache.Refusal{Exceeded: &budget.Exceeded{Kind: budget.Monthly, Period: p.Month, SettledOnly: true}}},
		{name: "reservations in flight may be released: not certain",
			answer: budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, Period: p.Day}}},
		{name: "a strict estimate that does not fit: not certain",
			answer: budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Daily, Period: p.Day, DoesNotFit: true}, Strict: true}},
		{name: "a loop cooldown, with its window", answer: budget.Admission{Loop: cooldown}, loop: lc,
			cached: true, until: time.Second, refusal: blockcache.Refusal{Loop: &cooldown, Window: time.Minute}},
		{name: "admitted", answer: budget.Admission{Admitted: true}},
		{name: "the store is down", err: budget.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &ledger{answer: tc.answer, err: tc.err}
			s, _ := newStore(l, blockcache.Options{})
			ctx := context.Background()
			_, err := s.Reserve(ctx, request("c", now, tc.loop))
			require.ErrorIs(t, err, tc.err)
			r, ok := s.Refused("c", now)
			require.Equal(t, tc.cached, ok)
			if !tc.cached {
				return
			}
			require.Equal(t, tc.refusal, r)
			a, err := s.Reserve(ctx, request("c", now.Add(tc.until-time.Millisecond), tc.loop))
			require.NoError(t, err)
			require.Equal(t, tc.answer, a, "the refusal is answered again")
			require.Equal(t, 1, l.calls, "without a round trip")
			_, ok = s.Refused("c", now.Add(tc.until))
			require.False(t, ok, "no longer at its end")
			_, ok = s.Refused("other", now)
			require.False(t, ok, "per client")
		})
	}
}

// TestForgets: what can end a refusal on this replica ends it at once.
func TestForgets(t *testing.T) {
	ctx := context.Background()
	refused := budget.Admission{Exceeded: &budget.Exceeded{Kind: budget.Monthly, Period: periods().Month, SettledOnly: true}}
	for _, tc := range []struct {
		name   string
		act    func(t *testing.T, s *blockcache.Store, m *memory.Store)
		forget bool
	}{
		{"a rule written", func(t *testing.T, s *blockcache.Store, _ *memory.Store) {
			_, err := s.PutRule(ctx, rules.Rule{Match: "x*"})
			require.NoError(t, err)
		}, true},
		{"a rule deleted", func(t *testing.T, s *blockcache.Store, m *memory.Store) {
			_, err := m.PutRule(ctx, rules.Rule{Match: "x*"})
			require.NoError(t, err)
			_, err = s.DeleteRule(ctx, rules.Key{Match: "x*"})
			require.NoError(t, err)
		}, true},
		{"nothing deleted", func(t *testing.T, s *blockcache.Store, _ *memory.Store) {
			_, err := s.DeleteRule(ctx, rules.Key{Match: "x*"})
			require.NoError(t, err)
		}, false},
		{"an invalid rule refused", func(t *testing.T, s *blockcache.Store, _ *memory.Store) {
			_, err := s.PutRule(ctx, rules.Rule{Match: "x"})
			require.ErrorIs(t, err, budget.ErrInvalid)
		}, false},
		{"another replica's write, seen by the version poll", func(t *testing.T, s *blockcache.Store, m *memory.Store) {
			_, err := m.PutRule(ctx, rules.Rule{Match: "x*"})
			require.NoError(t, err)
			_, err = s.RulesVersion(ctx)
			require.NoError(t, err)
		}, true},
		{"the same version again", func(t *testing.T, s *blockcache.Store, _ *memory.Store) {
			_, err := s.RulesVersion(ctx)
			require.NoError(t, err)
		}, false},
		{"the client's loop cleared", func(t *testing.T, s *blockcache.Store, _ *memory.Store) {
			_, err := s.ClearLoop(ctx, "c")
			require.NoError(t, err)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &ledger{answer: refused}
			s, m := newStore(l, blockcache.Options{})
			_, err := s.RulesVersion(ctx) // the poll has seen the version
			require.NoError(t, err)
			_, err = s.Reserve(ctx, request("c", now, nil))
			require.NoError(t, err)
			tc.act(t, s, m)
			_, ok := s.Refused("c", now)
			require.Equal(t, !tc.forget, ok)
		})
	}
}

// TestClearLoopForgetsOneClient: other clients stay refused locally.
func TestClearLoopForgetsOneClient(t *testing.T) {
	ctx := context.Background()
	l := &ledger{answer: budget.Admission{Exceeded: &budget.Exceeded{Period: periods().Month, SettledOnly: true}}}
	s, _ := newStore(l, blockcache.Options{})
	for _, c := range []string{"a", "b"} {
		_, err := s.Reserve(ctx, request(c, now, nil))
		require.NoError(t, err)
	}
	_, err := s.ClearLoop(ctx, "a")
	require.NoError(t, err)
	_, ok := s.Refused("a", now)
	require.False(t, ok)
	_, ok = s.Refused("b", now)
	require.True(t, ok)
}

// TestRefusalDuringForgetNotRemembered: a refusal decided while a forget happened may
// predate it, so it is not remembered.
func TestRefusalDuringForgetNotRemembered(t *testing.T) {
	ctx := context.Background()
	l := &ledger{answer: budget.Admission{Exceeded: &budget.Exceeded{Period: periods().Month, SettledOnly: true}}}
	s, _ := newStore(l, blockcache.Options{})
	l.during = func() { _, _ = s.ClearLoop(ctx, "c") }
	_, err := s.Reserve(ctx, request("c", now, nil))
	require.NoError(t, err)
	_, ok := s.Refused("c", now)
	require.False(t, ok)
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	refused := budget.Admission{Exceeded: &budget.Exceeded{Period: periods().Month, SettledOnly: true}}
	l := &ledger{answer: refused}
	s, _ := newStore(l, blockcache.Options{TTL: -1})
	_, err := s.Reserve(ctx, request("c", now, nil))
	require.NoError(t, err)
	_, ok := s.Refused("c", now)
	require.False(t, ok, "a negative TTL turns the cache off")

	l = &ledger{answer: refused}
	s, _ = newStore(l, blockcache.Options{MaxClients: 2})
	for _, c := range []string{"a", "b", "c"} {
		_, err := s.Reserve(ctx, request(c, now, nil))
		require.NoError(t, err)
	}
	_, okA := s.Refused("a", now)
	_, okC := s.Refused("c", now)
	require.Equal(t, [2]bool{false, true}, [2]bool{okA, okC}, "full: started over")
}

// TestRequestPathThroughLedger: the request path goes to the ledger, the rest to the store.
func TestRequestPathThroughLedger(t *testing.T) {
	ctx := context.Background()
	m := memory.New(memory.Options{})
	down := errors.New("down")
	s := blockcache.New(m, failing{down}, blockcache.Options{})
	_, err := s.Settle(ctx, budget.SettleRequest{})
	require.ErrorIs(t, err, down)
	require.ErrorIs(t, s.Extend(ctx, nil), down)
	_, err = s.Hold(ctx, budget.HoldRequest{})
	require.ErrorIs(t, err, down)
	_, err = s.Contexts(ctx, "c", nil, now)
	require.ErrorIs(t, err, down)
	require.ErrorIs(t, s.Remember(ctx, "c", nil, now), down)
	_, err = s.ListRules(ctx)
	require.NoError(t, err, "the store answers the rest")
}

type failing struct{ err error }

func (f failing) Reserve(context.Context, budget.ReserveRequest) (budget.Admission, error) {
	return budget.Admission{}, f.err
}
func (f failing) Settle(context.Context, budget.SettleRequest) (budget.SettleResult, error) {
	return budget.SettleResult{}, f.err
}
func (f failing) Extend(context.Context, []budget.Lease) error           { return f.err }
func (f failing) Hold(context.Context, budget.HoldRequest) (bool, error) { return false, f.err }
func (f failing) Contexts(context.Context, string, []string, time.Time) ([]int64, error) {
	return nil, f.err
}
func (f failing) Remember(context.Context, string, []budget.Remember, time.Time) error { return f.err }
