package ledgertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// RunLoopsTrimmed checks that the all-clients listing keeps the newest MaxLoopEvents
// events and each client's list the newest MaxClientLoopEvents. It writes 10,050 events.
func RunLoopsTrimmed(t *testing.T, l budget.Store) {
	f := NewFixture(t, l, "UTC", time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	cfg := loop.Config{Window: time.Minute, MaxRepeats: 1, Similarity: 0.9}
	n := budget.MaxLoopEvents + budget.MaxClientLoopEvents
	for i := range n {
		// Two exact requests make a loop (MaxRepeats 1, no cooldown); a client per 100 loops.
		lc := budget.LoopCheck{Sig: Sig(i), Config: cfg, Excerpt: fmt.Sprint(i)}
		c := fmt.Sprintf("c%d", i/100)
		f.ReserveLoop(c, rules.Rule{}, 0, lc)
		require.True(t, f.ReserveLoop(c, rules.Rule{}, 0, lc).Loop.Loop)
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
