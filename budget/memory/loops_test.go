package memory

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// TestMemoryLoopSweep: the hourly sweep drops windows once they are idle (no entry within
// the window, no running cooldown) and events budget.LoopEventTTL after the client's last one,
// so a client that stops sending costs nothing.
func TestMemoryLoopSweep(t *testing.T) {
	m := New(Options{})
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	cfg := loop.Config{Window: time.Minute, MaxRepeats: 1, Similarity: 0.9, Cooldown: 3 * time.Hour}
	sig := loop.Signature{Exact: 1, Sim: 2, Size: 30}
	seq := 0
	reserve := func(client string, at time.Time, lc *budget.LoopCheck) budget.Admission {
		t.Helper()
		seq++
		a, err := m.Reserve(ctx, budget.ReserveRequest{ID: "r" + strconv.Itoa(seq), ClientID: client, Periods: budget.Calendar{}.Periods(at),
			Now: at, TTL: time.Minute, Loop: lc})
		require.NoError(t, err)
		return a
	}
	window := func(client string) *loop.Window {
		sh, c := m.lock(client, false)
		defer sh.mu.Unlock()
		if c == nil {
			return nil
		}
		return c.loopWin
	}
	reserve("quiet", now, &budget.LoopCheck{Sig: sig, Config: cfg})
	reserve("looping", now, &budget.LoopCheck{Sig: sig, Config: cfg})
	require.True(t, reserve("looping", now, &budget.LoopCheck{Sig: sig, Config: cfg}).Loop.Loop)
	require.NotNil(t, window("quiet"))

	// An hour later the sweep runs: the quiet window is idle, the cooldown still runs.
	later := now.Add(sweepEvery)
	reserve("other", later, nil)
	require.Nil(t, window("quiet"), "idle window dropped")
	require.NotNil(t, window("looping"), "cooldown kept")
	_, active, err := m.LoopState(ctx, "looping", later)
	require.NoError(t, err)
	require.True(t, active)

	// After the cooldown the window goes; the event stays for budget.LoopEventTTL, then the client.
	reserve("other", now.Add(4*time.Hour), nil)
	require.Nil(t, window("looping"))
	p, err := m.LoopEvents(ctx, budget.LoopQuery{})
	require.NoError(t, err)
	require.Len(t, p.Events, 1)
	end := now.Add(budget.LoopEventTTL + time.Hour)
	reserve("other", end, nil)
	p, err = m.LoopEvents(ctx, budget.LoopQuery{ClientID: "looping"})
	require.NoError(t, err)
	require.Empty(t, p.Events)
	p, err = m.LoopEvents(ctx, budget.LoopQuery{})
	require.NoError(t, err)
	require.Empty(t, p.Events)
	sh, c := m.lock("looping", false)
	sh.mu.Unlock()
	require.Nil(t, c, "nothing left of the client")
}

func TestLoopExcerptCut(t *testing.T) {
	m := New(Options{})
	f := ledgertest.NewFixture(t, m, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	cfg := loop.Config{Window: time.Minute, MaxRepeats: 1, Similarity: 1}
	for i, ex := range []string{strings.Repeat("a", 300), strings.Repeat("🙂", 100), "", "\xff\xfe"} {
		lc := budget.LoopCheck{Sig: ledgertest.Sig(i), Config: cfg, Excerpt: ex}
		f.ReserveLoop("c", rules.Rule{}, 0, lc)
		f.ReserveLoop("c", rules.Rule{}, 0, lc)
		f.Advance(time.Second)
	}
	p := f.LoopEvents(budget.LoopQuery{ClientID: "c"})
	require.Equal(t, []string{"\uFFFD", "", strings.Repeat("🙂", 64), strings.Repeat("a", 256)},
		[]string{p.Events[0].Excerpt, p.Events[1].Excerpt, p.Events[2].Excerpt, p.Events[3].Excerpt})
}
