package budget_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/loop"
)

// randomLoopTrace is a request sequence that exercises every verdict: a few base
// signatures in runs and cycles, near-duplicates, time steps that sometimes outlast the
// window or the cooldown.
func randomLoopTrace(rng *rand.Rand, n int) ([]time.Duration, []loop.Signature) {
	bases := make([]loop.Signature, 1+rng.IntN(4))
	for i := range bases {
		bases[i] = ledgertest.Sig(rng.IntN(1000))
		bases[i].Size = uint16(rng.IntN(80))
	}
	steps := make([]time.Duration, n)
	sigs := make([]loop.Signature, n)
	period := 1 + rng.IntN(3)
	for i := range n {
		switch rng.IntN(12) {
		case 0:
			steps[i] = time.Duration(rng.IntN(400)) * time.Second
		case 1:
			steps[i] = 0
		default:
			steps[i] = time.Duration(rng.IntN(6000)) * time.Millisecond
		}
		s := bases[i%period%len(bases)]
		if rng.IntN(4) == 0 {
			s = bases[rng.IntN(len(bases))]
		}
		if rng.IntN(2) == 0 {
			for range rng.IntN(6) {
				s = ledgertest.Near(s, rng.IntN(64))
			}
		}
		sigs[i] = s
	}
	return steps, sigs
}

// TestLoopParityThroughReserve runs Memory and Redis (real redis-server, so the Lua
// window runs inside the reserve script) side by side on random traces of three clients
// with random configs, actions, budgets, settlements and duplicate ids: every Admission,
// the events and the cooldown states must be the same.
func TestLoopParityThroughReserve(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	traces, steps := 40, 150
	if testing.Short() {
		traces = 12
	}
	ctx := context.Background()
	verdicts := map[string]int{}
	for tr := range traces {
		rng := rand.New(rand.NewPCG(uint64(tr), 7))
		mem := budget.NewMemory(budget.MemoryOptions{})
		red, err := budget.NewRedis(client, budget.RedisOptions{Prefix: fmt.Sprintf("par%d", tr), IndexEvery: time.Hour})
		require.NoError(t, err)
		cfg := loop.Config{
			Window:     time.Duration(1+rng.IntN(60)) * time.Second,
			MaxRepeats: 1 + rng.IntN(5),
			Similarity: []float64{0.75, 0.9, 0.95, 1}[rng.IntN(4)],
			Cooldown:   []time.Duration{0, time.Second, 30 * time.Second, 5 * time.Minute}[rng.IntN(4)],
		}
		rule := budget.Rule{Daily: budget.LimitOf(int64(rng.IntN(40)) * ledgertest.Cent)}
		if rng.IntN(3) == 0 {
			rule.Action = budget.ActionAlert
		}
		clients := []string{"a", "b", "c"}
		traceSteps, sigs := randomLoopTrace(rng, steps)
		now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		cal, _ := budget.NewCalendar("UTC")
		for i, s := range sigs {
			now = now.Add(traceSteps[i])
			c := clients[rng.IntN(len(clients))]
			id := fmt.Sprintf("r%d", i)
			if i > 0 && rng.IntN(20) == 0 {
				id = fmt.Sprintf("r%d", i-1) // a retried reservation
			}
			req := budget.ReserveRequest{ID: id, ClientID: c, Rule: rule, Periods: cal.Periods(now), EstimateNano: ledgertest.Cent, Now: now,
				Loop: &budget.LoopCheck{Sig: s, Config: cfg, Block: rng.IntN(3) > 0, Excerpt: fmt.Sprintf("tool %d | error", i%7)}}
			am, errM := mem.Reserve(ctx, req)
			ar, errR := red.Reserve(ctx, req)
			require.Equal(t, errM == nil, errR == nil, "trace %d step %d: %v / %v", tr, i, errM, errR)
			require.Equal(t, am, ar, "trace %d step %d: %+v", tr, i, req)
			verdicts[fmt.Sprintf("loop=%v cooldown=%v admitted=%v", am.Loop.Loop, am.Loop.Cooldown, am.Admitted)]++
			if am.Admitted && !am.Duplicate && rng.IntN(2) == 0 {
				set := budget.SettleRequest{ID: id, ClientID: c, Rule: rule, Periods: cal.Periods(now), ActualNano: ledgertest.Cent / 2, Now: now}
				_, err := mem.Settle(ctx, set)
				require.NoError(t, err)
				_, err = red.Settle(ctx, set)
				require.NoError(t, err)
			}
			if rng.IntN(50) == 0 {
				okM, err := mem.ClearLoop(ctx, c)
				require.NoError(t, err)
				okR, err := red.ClearLoop(ctx, c)
				require.NoError(t, err)
				// Memory answers at the client's last request time, Redis by the key's
				// expiry on its own clock: only a clear that mattered must agree.
				if okM {
					require.True(t, okR, "trace %d step %d: clear", tr, i)
				}
			}
		}
		require.NoError(t, red.FlushIndex(ctx))
		for _, q := range []budget.LoopQuery{{Limit: 1000}, {ClientID: "a"}, {ClientID: "b"}, {ClientID: "c"}} {
			pm, err := mem.LoopEvents(ctx, q)
			require.NoError(t, err)
			pr, err := red.LoopEvents(ctx, q)
			require.NoError(t, err)
			require.Equal(t, pm, pr, "trace %d events %+v", tr, q)
		}
		for _, c := range clients {
			um, am, err := mem.LoopState(ctx, c, now)
			require.NoError(t, err)
			ur, ar, err := red.LoopState(ctx, c, now)
			require.NoError(t, err)
			require.Equal(t, [2]any{um, am}, [2]any{ur, ar}, "trace %d state of %s", tr, c)
		}
		require.NoError(t, red.Close())
	}
	t.Logf("verdicts: %v", verdicts)
	for _, k := range []string{"loop=true cooldown=false admitted=false", "loop=true cooldown=false admitted=true",
		"loop=true cooldown=true admitted=false", "loop=true cooldown=true admitted=true", "loop=false cooldown=false admitted=true",
		"loop=false cooldown=false admitted=false"} {
		require.Positive(t, verdicts[k], "the traces never produced %q", k)
	}
}

// TestRedisLoopKeys pins the loop keys of README.md, their expiry, and that Reserve with
// a LoopCheck stays one round trip (the event's global copy goes by the batcher).
func TestRedisLoopKeys(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	hook := &countHook{}
	client.AddHook(hook)
	l, err := budget.NewRedis(client, budget.RedisOptions{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	lc := budget.LoopCheck{Sig: ledgertest.Sig(1), Config: ledgertest.LoopConfig(), Block: true, Excerpt: "user: again"}
	f.ReserveLoop("user-12345", budget.Rule{}, 1, lc) // warm-up
	for range 3 {
		before := hook.n.Load()
		f.ReserveLoop("user-12345", budget.Rule{}, 1, lc)
		require.Equal(t, int64(1), hook.n.Load()-before, "one round trip, the loop that fires included")
	}

	base := "px:" + tag("user-12345") + ":"
	raw, err := client.Get(ctx, base+"loop").Bytes()
	require.NoError(t, err)
	var w loop.Window
	require.NoError(t, w.UnmarshalBinary(raw), "the window key holds loop.Window's encoding")
	until, active := w.Cooldown(f.Now)
	require.True(t, active)
	require.Equal(t, f.Now.Add(5*time.Minute).UnixMilli(), until.UnixMilli())
	ttl := client.PTTL(ctx, base+"loop").Val()
	require.InDelta(t, float64(5*time.Minute), float64(ttl), float64(10*time.Second), "the window lives as long as the cooldown")

	entries := client.LRange(ctx, base+"loopev", 0, -1).Val()
	want := fmt.Sprintf("1|%d|1|3|%d|1|%016x|%016x|user: again", f.Now.UnixMilli(), until.UnixMilli(), lc.Sig.Exact, lc.Sig.Sim)
	require.Equal(t, []string{want}, entries)
	require.InDelta(t, float64(budget.LoopEventTTL), float64(client.PTTL(ctx, base+"loopev").Val()), float64(10*time.Second))

	require.Zero(t, client.Exists(ctx, "px:loops").Val(), "written by the batcher, not by Reserve")
	require.NoError(t, l.FlushIndex(ctx))
	members := client.ZRangeWithScores(ctx, "px:loops", 0, -1).Val()
	require.Len(t, members, 1)
	require.Equal(t, tag("user-12345")[1:len(tag("user-12345"))-1]+"|"+want, members[0].Member)
	require.Equal(t, float64(f.Now.UnixMilli()), members[0].Score)
	require.InDelta(t, float64(budget.LoopEventTTL), float64(client.PTTL(ctx, "px:loops").Val()), float64(10*time.Second))

	// A second loop, so the all-clients listing has a second page.
	ok, err := l.ClearLoop(ctx, "user-12345")
	require.NoError(t, err)
	require.True(t, ok)
	f.Advance(time.Second)
	for range 4 {
		f.ReserveLoop("user-12345", budget.Rule{}, 1, lc)
	}
	require.NoError(t, l.FlushIndex(ctx))

	// Listing costs one round trip either way; clearing and the state one each.
	count := func(name string, fn func()) {
		t.Helper()
		before := hook.n.Load()
		fn()
		require.Equal(t, int64(1), hook.n.Load()-before, name)
	}
	count("client events", func() { require.Len(t, f.LoopEvents(budget.LoopQuery{ClientID: "user-12345"}).Events, 2) })
	var first budget.LoopPage
	count("all events", func() { first = f.LoopEvents(budget.LoopQuery{Limit: 1}) })
	require.NotEmpty(t, first.NextCursor)
	count("next page", func() {
		p := f.LoopEvents(budget.LoopQuery{Limit: 1, Cursor: first.NextCursor})
		require.Len(t, p.Events, 1)
		require.True(t, p.Events[0].At.Before(first.Events[0].At))
	})
	count("state", func() { _, _, err := l.LoopState(ctx, "user-12345", f.Now); require.NoError(t, err) })
	count("clear", func() { _, err := l.ClearLoop(ctx, "user-12345"); require.NoError(t, err) })
}

// TestRedisLoopsTrimmed: the all-clients listing keeps the newest MaxLoopEvents, each
// client's list the newest MaxClientLoopEvents.
func TestRedisLoopsTrimmed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10,050 loop events")
	}
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	l, err := budget.NewRedis(client, budget.RedisOptions{IndexEvery: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	testLoopsTrimmed(t, l)
}

func TestMemoryLoopsTrimmed(t *testing.T) {
	testLoopsTrimmed(t, budget.NewMemory(budget.MemoryOptions{}))
}

func testLoopsTrimmed(t *testing.T, l budget.Ledger) {
	f := ledgertest.NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	cfg := loop.Config{Window: time.Minute, MaxRepeats: 1, Similarity: 0.9}
	n := budget.MaxLoopEvents + budget.MaxClientLoopEvents
	for i := range n {
		// Two exact requests make a loop (MaxRepeats 1, no cooldown); a client per 100 loops.
		lc := budget.LoopCheck{Sig: ledgertest.Sig(i), Config: cfg, Excerpt: fmt.Sprint(i)}
		c := fmt.Sprintf("c%d", i/100)
		f.ReserveLoop(c, budget.Rule{}, 0, lc)
		require.True(t, f.ReserveLoop(c, budget.Rule{}, 0, lc).Loop.Loop)
		f.Advance(time.Millisecond)
	}
	f.SyncIndex()
	var all []budget.LoopEvent
	q := budget.LoopQuery{Limit: budget.MaxLoopLimit}
	for {
		p := f.LoopEvents(q)
		all = append(all, p.Events...)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	require.Len(t, all, budget.MaxLoopEvents)
	require.Equal(t, fmt.Sprint(n-1), all[0].Excerpt)
	require.Equal(t, fmt.Sprint(n-budget.MaxLoopEvents), all[len(all)-1].Excerpt, "the oldest were dropped")
	own := f.LoopEvents(budget.LoopQuery{ClientID: "c0", Limit: budget.MaxLoopLimit})
	require.Len(t, own.Events, budget.MaxClientLoopEvents)
	require.Equal(t, "99", own.Events[0].Excerpt)
	require.Equal(t, "50", own.Events[49].Excerpt)
}

// TestResilientLoop: the LoopStore passes through; an open-mode outage admits without
// detection, a closed one refuses; clearing a cooldown is never buffered.
func TestResilientLoop(t *testing.T) {
	for _, mode := range []budget.FailureMode{budget.FailOpen, budget.FailClosed} {
		t.Run(string(mode), func(t *testing.T) {
			inner := newFlaky()
			var logs bytes.Buffer
			r := newResilient(t, loopFlaky{inner, inner.Ledger.(budget.LoopStore)}, mode, &logs)
			f := ledgertest.NewFixture(t, r, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
			lc := budget.LoopCheck{Sig: ledgertest.Sig(1), Config: ledgertest.LoopConfig(), Block: true, Excerpt: "x"}
			for range 3 {
				f.ReserveLoop("c", budget.Rule{}, 1, lc)
			}
			a := f.ReserveLoop("c", budget.Rule{}, 1, lc)
			require.False(t, a.Admitted)
			require.True(t, a.Loop.Loop)
			_, active, err := r.LoopState(context.Background(), "c", f.Now)
			require.NoError(t, err)
			require.True(t, active)
			require.Len(t, f.LoopEvents(budget.LoopQuery{}).Events, 1)

			inner.down.Store(true)
			req := f.ReserveReq(f.NextID(), "c", budget.Rule{}, 1)
			req.Loop = &lc
			a, err = r.Reserve(context.Background(), req)
			if mode == budget.FailOpen {
				require.NoError(t, err)
				require.True(t, a.Admitted, "admitted blindly: detection needs the store")
				require.True(t, a.Degraded)
				require.Equal(t, loop.Verdict{}, a.Loop)
			} else {
				require.ErrorIs(t, err, budget.ErrUnavailable)
			}
			inner.down.Store(false)
			ok, err := r.ClearLoop(context.Background(), "c")
			require.NoError(t, err)
			require.True(t, ok)

			// An invalid LoopCheck is refused before the inner ledger, even when it is down.
			inner.down.Store(true)
			req.Loop = &budget.LoopCheck{Config: loop.Config{}}
			_, err = r.Reserve(context.Background(), req)
			require.ErrorIs(t, err, budget.ErrInvalid)
		})
	}
	// An inner ledger without loop state.
	r := newResilient(t, noLoops{}, budget.FailOpen, &bytes.Buffer{})
	_, err := r.LoopEvents(context.Background(), budget.LoopQuery{})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, err = r.ClearLoop(context.Background(), "c")
	require.ErrorIs(t, err, budget.ErrUnavailable)
	_, _, err = r.LoopState(context.Background(), "c", time.Now())
	require.ErrorIs(t, err, budget.ErrUnavailable)
}

// loopFlaky is flaky with the loop store of its Memory (loop reads never fail).
type loopFlaky struct {
	*flaky
	budget.LoopStore
}

type noLoops struct{ budget.Ledger }

func (noLoops) Close() error { return nil }

func TestLoopExcerptCut(t *testing.T) {
	m := budget.NewMemory(budget.MemoryOptions{})
	f := ledgertest.NewFixture(t, m, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	cfg := loop.Config{Window: time.Minute, MaxRepeats: 1, Similarity: 1}
	for i, ex := range []string{strings.Repeat("a", 300), strings.Repeat("🙂", 100), "", "\xff\xfe"} {
		lc := budget.LoopCheck{Sig: ledgertest.Sig(i), Config: cfg, Excerpt: ex}
		f.ReserveLoop("c", budget.Rule{}, 0, lc)
		f.ReserveLoop("c", budget.Rule{}, 0, lc)
		f.Advance(time.Second)
	}
	p := f.LoopEvents(budget.LoopQuery{ClientID: "c"})
	require.Equal(t, []string{"\uFFFD", "", strings.Repeat("🙂", 64), strings.Repeat("a", 256)},
		[]string{p.Events[0].Excerpt, p.Events[1].Excerpt, p.Events[2].Excerpt, p.Events[3].Excerpt})
}
