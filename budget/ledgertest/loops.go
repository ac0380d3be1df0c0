package ledgertest

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// LoopConfig is the loop config of the suite: 60s window, 3 repeats, 0.9, 5m cooldown.
func LoopConfig() loop.Config {
	return loop.Config{Window: time.Minute, MaxRepeats: 3, Similarity: 0.9, Cooldown: 5 * time.Minute}
}

// Sig returns the n-th base signature: unrelated to every other base signature.
func Sig(n int) loop.Signature {
	return loop.Signature{Exact: splitmix(uint64(n)*2 + 1), Sim: splitmix(uint64(n)*2 + 2), Size: 40} //nolint:gosec // G115: n only seeds a hash; a negative n is just another seed
}

// Near returns a near-duplicate of s: another digest, and bit i of the sketch flipped
// (one edited word of 40: similarity 1 - 1/60 with the loop package's constants).
func Near(s loop.Signature, i int) loop.Signature {
	return loop.Signature{Exact: splitmix(s.Exact ^ uint64(i+1)), Sim: s.Sim ^ 1<<(i%64), Size: s.Size} //nolint:gosec // G115: i only perturbs a hash input; its bits, not its sign, matter
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Loops returns the store's loop events and cooldowns.
func (f *Fixture) Loops() budget.LoopStore { return f.L }

// ReserveLoop reserves est for client under rule with loop check lc, with a fresh id.
func (f *Fixture) ReserveLoop(client string, rule rules.Rule, est int64, lc budget.LoopCheck) budget.Admission {
	f.T.Helper()
	r := f.ReserveReq(f.NextID(), client, rule, est)
	r.Loop = &lc
	a, err := f.L.Reserve(f.ctx, r)
	require.NoError(f.T, err)
	return a
}

// LoopEvents lists one page and requires no error.
func (f *Fixture) LoopEvents(q budget.LoopQuery) budget.LoopPage {
	f.T.Helper()
	p, err := f.Loops().LoopEvents(f.ctx, q)
	require.NoError(f.T, err)
	return p
}

// loopRuns is the part of the suite about loop detection.
var loopRuns = []struct {
	name string
	fn   func(t *testing.T, f *Fixture)
}{
	{"LoopFiresOnRepeat", testLoopFires},
	{"LoopBlockRefusesWithoutReserving", testLoopBlock},
	{"LoopAlertAdmits", testLoopAlert},
	{"LoopBeforeBudget", testLoopBeforeBudget},
	{"LoopEventRecordedOnce", testLoopEventOnce},
	{"LoopEventListing", testLoopListing},
	{"LoopStateAndClear", testLoopStateAndClear},
	{"LoopDisabledNeverObserves", testLoopDisabled},
	{"LoopDuplicateIDObservedOnce", testLoopDuplicateID},
	{"LoopInvalid", testLoopInvalid},
}

func testLoopFires(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	alert := func(s loop.Signature) budget.LoopCheck { return budget.LoopCheck{Sig: s, Config: cfg} }
	base := Sig(1)
	// Similar: the (MaxRepeats+1)-th near-duplicate within the window is the loop.
	for i := range 3 {
		a := f.ReserveLoop("similar", rules.Rule{}, Cent, alert(Near(base, i)))
		require.Equal(t, loop.Verdict{Repeats: i}, a.Loop, "request %d", i+1)
		f.Advance(time.Second)
	}
	a := f.ReserveLoop("similar", rules.Rule{}, Cent, alert(Near(base, 3)))
	require.True(t, a.Admitted)
	require.Equal(t, loop.Verdict{Loop: true, Repeats: 3, Kind: loop.KindSimilar}, withoutUntil(a.Loop))
	require.Equal(t, f.Now.Add(cfg.Cooldown).UnixMilli(), a.Loop.Until.UnixMilli())

	// Exact: the same request again; another client's window is its own.
	for i := range 4 {
		a = f.ReserveLoop("exact", rules.Rule{}, Cent, alert(base))
		require.Equal(t, i == 3, a.Loop.Loop, "request %d", i+1)
	}
	require.Equal(t, loop.KindExact, a.Loop.Kind)

	// Requests spread wider than the window never add up.
	for i := range 8 {
		a = f.ReserveLoop("slow", rules.Rule{}, Cent, alert(Near(base, i)))
		require.False(t, a.Loop.Loop, "request %d", i+1)
		require.Zero(t, a.Loop.Repeats)
		f.Advance(cfg.Window)
	}
	// Different requests are not a loop.
	for i := range 10 {
		require.False(t, f.ReserveLoop("varied", rules.Rule{}, Cent, alert(Sig(100+i))).Loop.Loop)
	}
	// A ping-pong A,B,A,B is a cycle at MaxRepeats+1 requests, as early as an identical repeat.
	for i := range 4 {
		a = f.ReserveLoop("pingpong", rules.Rule{}, Cent, alert(Sig(200+i%2)))
		require.Equal(t, i == 3, a.Loop.Loop, "request %d", i+1)
	}
	require.Equal(t, loop.KindCycle, a.Loop.Kind)
}

func withoutUntil(v loop.Verdict) loop.Verdict { v.Until = time.Time{}; return v }

func testLoopBlock(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	c := "agent"
	lc := budget.LoopCheck{Sig: Sig(1), Config: cfg, Block: true}
	for range 3 {
		a := f.ReserveLoop(c, rule, 2*Cent, lc)
		require.True(t, a.Admitted)
	}
	a := f.ReserveLoop(c, rule, 2*Cent, lc)
	require.False(t, a.Admitted)
	require.Nil(t, a.Exceeded, "a loop is not a budget refusal")
	require.Equal(t, loop.Verdict{Loop: true, Repeats: 3, Kind: loop.KindExact}, withoutUntil(a.Loop))
	until := a.Loop.Until
	require.Equal(t, f.Now.Add(cfg.Cooldown).UnixMilli(), until.UnixMilli())
	require.Equal(t, 6*Cent, a.Day.ReservedNano, "the spend shown is before: nothing reserved")
	f.RequireSpend(c, rule, 0, 6*Cent, 0, 6*Cent)

	// The cooldown refuses every request, even a different one, until it ends.
	f.Advance(cfg.Cooldown - time.Millisecond)
	other := lc
	other.Sig = Sig(2)
	a = f.ReserveLoop(c, rule, 2*Cent, other)
	require.False(t, a.Admitted)
	require.Nil(t, a.Exceeded)
	require.True(t, a.Loop.Loop)
	require.True(t, a.Loop.Cooldown)
	require.Equal(t, until.UnixMilli(), a.Loop.Until.UnixMilli())
	f.RequireSpend(c, rule, 0, 6*Cent, 0, 6*Cent)

	// Then the client is let through again, with an empty window.
	f.Advance(time.Millisecond)
	a = f.ReserveLoop(c, rule, 2*Cent, lc)
	require.True(t, a.Admitted)
	require.Equal(t, loop.Verdict{}, a.Loop)
	f.RequireSpend(c, rule, 0, 8*Cent, 0, 8*Cent)
	f.SyncIndex()
	p := f.LoopEvents(budget.LoopQuery{ClientID: c})
	require.Len(t, p.Events, 1, "one loop, one event: the cooldown adds none")
	require.True(t, p.Events[0].Blocked)
}

func testLoopAlert(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	rule := blockRule(rules.LimitOf(100*Cent), rules.Limit{})
	lc := budget.LoopCheck{Sig: Sig(3), Config: cfg}
	for range 3 {
		f.ReserveLoop("a", rule, Cent, lc)
	}
	a := f.ReserveLoop("a", rule, Cent, lc)
	require.True(t, a.Admitted, "alert only records")
	require.True(t, a.Loop.Loop)
	require.False(t, a.Loop.Cooldown)
	a = f.ReserveLoop("a", rule, Cent, lc)
	require.True(t, a.Admitted)
	require.True(t, a.Loop.Cooldown, "the cooldown is reported, not enforced")
	f.RequireSpend("a", rule, 0, 5*Cent, 0, 5*Cent)
	p := f.LoopEvents(budget.LoopQuery{ClientID: "a"})
	require.Len(t, p.Events, 1)
	require.False(t, p.Events[0].Blocked)
}

func testLoopBeforeBudget(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	spent := blockRule(rules.LimitOf(0), rules.Limit{})
	lc := budget.LoopCheck{Sig: Sig(4), Config: cfg, Block: true}
	// Budget refusals are observed too: the window sees every request first.
	for i := range 3 {
		a := f.ReserveLoop("broke", spent, Cent, lc)
		require.False(t, a.Admitted)
		require.NotNil(t, a.Exceeded)
		require.Equal(t, loop.Verdict{Repeats: i}, a.Loop)
	}
	a := f.ReserveLoop("broke", spent, Cent, lc)
	require.False(t, a.Admitted)
	require.Nil(t, a.Exceeded, "the loop is reported, not the budget")
	require.True(t, a.Loop.Loop)

	// An alert loop on an exhausted budget: the budget still refuses.
	lc.Block, lc.Sig = false, Sig(5)
	for range 3 {
		f.ReserveLoop("broke2", spent, Cent, lc)
	}
	a = f.ReserveLoop("broke2", spent, Cent, lc)
	require.False(t, a.Admitted)
	require.NotNil(t, a.Exceeded)
	require.True(t, a.Loop.Loop)
	f.RequireSpend("broke2", spent, 0, 0, 0, 0)
}

func testLoopEventOnce(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	cfg.Cooldown = 0                       // every MaxRepeats+1 requests make a new loop
	long := "x" + strings.Repeat("é", 200) // the cut falls inside a two-byte rune
	lc := budget.LoopCheck{Sig: Sig(6), Config: cfg, Block: true, Excerpt: long}
	var fired []time.Time
	for i := range 8 {
		a := f.ReserveLoop("c", rules.Rule{}, Cent, lc)
		require.Equal(t, i%4 == 3, a.Loop.Loop, "request %d", i+1)
		require.False(t, a.Loop.Cooldown)
		require.True(t, a.Loop.Until.IsZero(), "no cooldown")
		if a.Loop.Loop {
			fired = append(fired, f.Now)
		}
		f.Advance(time.Second)
	}
	f.SyncIndex()
	for _, q := range []budget.LoopQuery{{ClientID: "c"}, {}} {
		p := f.LoopEvents(q)
		require.Len(t, p.Events, 2, "%+v", q)
		require.Empty(t, p.NextCursor)
		want := budget.LoopEvent{ClientID: "c", At: fired[1].UTC(), Kind: loop.KindExact, Repeats: 3, Exact: lc.Sig.Exact,
			Sim: lc.Sig.Sim, Excerpt: "x" + strings.Repeat("é", 127), Blocked: true}
		require.Equal(t, want, p.Events[0], "newest first")
		require.LessOrEqual(t, len(p.Events[0].Excerpt), budget.MaxExcerptBytes)
		require.Equal(t, fired[0].UTC(), p.Events[1].At)
	}

	// With a cooldown, its requests add no event; the event carries its end.
	lc = budget.LoopCheck{Sig: Sig(7), Config: LoopConfig(), Excerpt: "user: retry \xff |pipes|"}
	for range 10 {
		f.ReserveLoop("d", rules.Rule{}, Cent, lc)
		f.Advance(time.Second)
	}
	p := f.LoopEvents(budget.LoopQuery{ClientID: "d"})
	require.Len(t, p.Events, 1)
	ev := p.Events[0]
	require.Equal(t, ev.At.Add(5*time.Minute), ev.Until)
	require.Equal(t, "user: retry \uFFFD |pipes|", ev.Excerpt, "invalid UTF-8 replaced, '|' kept")
	require.True(t, utf8.ValidString(ev.Excerpt))
}

func testLoopListing(t *testing.T, f *Fixture) {
	cfg := LoopConfig()
	cfg.Cooldown = 0
	start := f.Now
	// 3 clients make 5, 3 and 1 loops; "b" and "c" fire at the same millisecond.
	counts := map[string]int{"a": 5, "b": 3, "c": 1}
	for round := range 5 {
		for _, c := range []string{"a", "b", "c"} {
			if round >= counts[c] {
				continue
			}
			lc := budget.LoopCheck{Sig: Sig(10 + round), Config: cfg, Excerpt: c}
			for i := range 4 {
				a := f.ReserveLoop(c, rules.Rule{}, 0, lc)
				require.Equal(t, i == 3, a.Loop.Loop)
			}
			if c == "a" {
				f.Advance(time.Second)
			}
		}
	}
	f.SyncIndex()
	all := walkLoops(t, f, budget.LoopQuery{Limit: 1000})
	require.Len(t, all, 9)
	for i := 1; i < len(all); i++ {
		require.False(t, all[i].At.After(all[i-1].At), "newest first")
	}
	require.Equal(t, start.Add(4*time.Second).UTC(), all[0].At)
	for _, limit := range []int{1, 2, 4} {
		require.Equal(t, all, walkLoops(t, f, budget.LoopQuery{Limit: limit}), "limit %d", limit)
		for c, n := range counts {
			own := walkLoops(t, f, budget.LoopQuery{ClientID: c, Limit: limit})
			require.Len(t, own, n, c)
			var want []budget.LoopEvent
			for _, e := range all {
				if e.ClientID == c {
					want = append(want, e)
				}
			}
			require.Equal(t, want, own, "client %s limit %d: the same events and order as the global listing", c, limit)
		}
	}
	require.Empty(t, f.LoopEvents(budget.LoopQuery{ClientID: "nobody"}).Events)
	require.Len(t, f.LoopEvents(budget.LoopQuery{}).Events, 9, "default limit 50")

	for name, q := range map[string]budget.LoopQuery{
		"negative limit": {Limit: -1},
		"limit too big":  {Limit: budget.MaxLoopLimit + 1},
		"bad cursor":     {Cursor: "not-a-cursor"},
		"bad base64":     {Cursor: "!!"},
		"bad client":     {ClientID: "a\nb"},
	} {
		_, err := f.Loops().LoopEvents(f.ctx, q)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
}

// walkLoops lists every page of q.
func walkLoops(t *testing.T, f *Fixture, q budget.LoopQuery) []budget.LoopEvent {
	t.Helper()
	var all []budget.LoopEvent
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "cursor walk does not end")
		p := f.LoopEvents(q)
		all = append(all, p.Events...)
		if p.NextCursor == "" {
			return all
		}
		require.Len(t, p.Events, q.Limit, "only the last page is short")
		q.Cursor = p.NextCursor
	}
}

func testLoopStateAndClear(t *testing.T, f *Fixture) {
	ls := f.Loops()
	state := func(c string) (time.Time, bool) {
		t.Helper()
		until, active, err := ls.LoopState(f.ctx, c, f.Now)
		require.NoError(t, err)
		return until, active
	}
	clearLoop := func(c string) bool {
		t.Helper()
		ok, err := ls.ClearLoop(f.ctx, c)
		require.NoError(t, err)
		return ok
	}
	_, active := state("c")
	require.False(t, active)
	require.False(t, clearLoop("c"), "nothing to clear")

	lc := budget.LoopCheck{Sig: Sig(8), Config: LoopConfig(), Block: true}
	for range 4 {
		f.ReserveLoop("c", rules.Rule{}, Cent, lc)
	}
	until, active := state("c")
	require.True(t, active)
	require.Equal(t, f.Now.Add(5*time.Minute).UnixMilli(), until.UnixMilli())
	f.Advance(time.Minute)
	_, active = state("c")
	require.True(t, active)
	_, active = state("other")
	require.False(t, active, "per client")

	require.True(t, clearLoop("c"), "ends the cooldown")
	_, active = state("c")
	require.False(t, active)
	a := f.ReserveLoop("c", rules.Rule{}, Cent, lc)
	require.True(t, a.Admitted, "admitted at once")
	require.Equal(t, loop.Verdict{}, a.Loop, "with an empty window")
	require.True(t, clearLoop("c"), "the window held a request")
	require.False(t, clearLoop("c"))
	require.Len(t, f.LoopEvents(budget.LoopQuery{ClientID: "c"}).Events, 1, "events stay")

	// The cooldown also ends on its own.
	for range 4 {
		f.ReserveLoop("c", rules.Rule{}, Cent, lc)
	}
	f.Advance(5 * time.Minute)
	_, active = state("c")
	require.False(t, active)

	_, _, err := ls.LoopState(f.ctx, "", f.Now)
	require.ErrorIs(t, err, budget.ErrInvalid)
	_, _, err = ls.LoopState(f.ctx, "c", time.Time{})
	require.ErrorIs(t, err, budget.ErrInvalid)
	_, err = ls.ClearLoop(f.ctx, strings.Repeat("x", rules.MaxClientIDBytes+1))
	require.ErrorIs(t, err, budget.ErrInvalid)
}

func testLoopDisabled(t *testing.T, f *Fixture) {
	for range 10 {
		a := f.Reserve(f.NextID(), "c", rules.Rule{}, Cent)
		require.True(t, a.Admitted)
		require.Equal(t, loop.Verdict{}, a.Loop)
	}
	_, active, err := f.Loops().LoopState(f.ctx, "c", f.Now)
	require.NoError(t, err)
	require.False(t, active)
	ok, err := f.Loops().ClearLoop(f.ctx, "c")
	require.NoError(t, err)
	require.False(t, ok, "no window was ever written")
	a := f.ReserveLoop("c", rules.Rule{}, Cent, budget.LoopCheck{Sig: Sig(9), Config: LoopConfig(), Block: true})
	require.Equal(t, loop.Verdict{}, a.Loop, "the earlier requests were never observed")
}

func testLoopDuplicateID(t *testing.T, f *Fixture) {
	lc := budget.LoopCheck{Sig: Sig(10), Config: LoopConfig(), Block: true}
	r := f.ReserveReq("same", "c", rules.Rule{}, Cent)
	r.Loop = &lc
	for i := range 5 {
		a, err := f.L.Reserve(f.ctx, r)
		require.NoError(t, err)
		require.True(t, a.Admitted)
		require.Equal(t, i > 0, a.Duplicate)
		require.Equal(t, loop.Verdict{}, a.Loop)
	}
	a := f.ReserveLoop("c", rules.Rule{}, Cent, lc)
	require.Equal(t, loop.Verdict{Repeats: 1}, a.Loop, "a retried reservation is one request")
}

func testLoopInvalid(t *testing.T, f *Fixture) {
	for name, cfg := range map[string]loop.Config{
		"zero":          {},
		"window":        {Window: -time.Second, MaxRepeats: 3, Similarity: 0.9},
		"repeats":       {Window: time.Minute, MaxRepeats: loop.MaxEntries, Similarity: 0.9},
		"similarity":    {Window: time.Minute, MaxRepeats: 3, Similarity: 1.5},
		"sub-ms window": {Window: time.Minute + 1, MaxRepeats: 3, Similarity: 0.9},
	} {
		r := f.ReserveReq(f.NextID(), "c", rules.Rule{}, Cent)
		r.Loop = &budget.LoopCheck{Sig: Sig(11), Config: cfg}
		_, err := f.L.Reserve(f.ctx, r)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
		require.ErrorIs(t, err, loop.ErrConfig, name)
	}
	f.RequireSpend("c", rules.Rule{}, 0, 0, 0, 0)
	a := f.ReserveLoop("c", rules.Rule{}, Cent, budget.LoopCheck{Sig: Sig(11), Config: LoopConfig()})
	require.Equal(t, loop.Verdict{}, a.Loop, "nothing was observed")
}
