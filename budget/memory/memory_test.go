package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

func clientCount(m *Store) int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].clients)
		m.shards[i].mu.Unlock()
	}
	return n
}

func TestMemoryRetention(t *testing.T) {
	m := New(Options{Retention: 48 * time.Hour})
	cal := budget.Calendar{}
	ctx := context.Background()
	settle := func(id, client string, now time.Time, cost int64) {
		_, err := m.Settle(ctx, budget.SettleRequest{ID: id, ClientID: client, Periods: cal.Periods(now), ActualNano: cost, Now: now})
		require.NoError(t, err)
	}
	day1 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	settle("a", "gone", day1, 5)
	reserveAt := day1.Add(time.Hour)
	_, err := m.Reserve(ctx, budget.ReserveRequest{ID: "r", ClientID: "gone", Periods: cal.Periods(reserveAt), EstimateNano: 9, Now: reserveAt})
	require.NoError(t, err)
	settle("b", "stays", day1, 5)

	// Nov 1 ends at Nov 2 00:00; plus 48h it may go at Nov 4 00:00. The month outlives it.
	settle("c", "stays", time.Date(2026, 11, 3, 23, 0, 0, 0, time.UTC), 1)
	h, err := m.History(ctx, "stays", "2026-11-01", "2026-11-01")
	require.NoError(t, err)
	require.Equal(t, int64(5), h[0].CostNano, "kept until period end + retention")

	settle("d", "stays", time.Date(2026, 11, 4, 1, 0, 0, 0, time.UTC), 1)
	h, err = m.History(ctx, "stays", "2026-11-01", "2026-11-04")
	require.NoError(t, err)
	require.Equal(t, []int64{0, 0, 1, 1}, []int64{h[0].CostNano, h[1].CostNano, h[2].CostNano, h[3].CostNano})
	s, err := m.Spend(ctx, "stays", rules.Rule{}, cal.Periods(time.Date(2026, 11, 4, 1, 0, 0, 0, time.UTC)), time.Date(2026, 11, 4, 1, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, int64(7), s.Month.SpentNano, "the month is kept until its own end + retention")
	require.Equal(t, 2, clientCount(m))

	// Far later: the idle client's month, settled ids and expired reservation are gone,
	// and so is the client itself.
	settle("e", "stays", time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC), 1)
	require.Equal(t, 1, clientCount(m))
}

func TestMemoryPrunesSettledIDs(t *testing.T) {
	m := New(Options{})
	cal := budget.Calendar{}
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b"} {
		at := now.Add(time.Duration(i) * time.Minute)
		_, err := m.Settle(ctx, budget.SettleRequest{ID: id, ClientID: "c", Periods: cal.Periods(at), Now: at})
		require.NoError(t, err)
	}
	later := now.Add(budget.SettledTTL + 30*time.Second)
	_, err := m.Settle(ctx, budget.SettleRequest{ID: "z", ClientID: "c", Periods: cal.Periods(later), Now: later})
	require.NoError(t, err)
	sh, c := m.lock("c", false)
	defer sh.mu.Unlock()
	require.Len(t, c.done, 2, "a is older than budget.SettledTTL, b is not yet")
	require.NotContains(t, c.done, "a")
	require.Len(t, c.doneQ, 2)
}

func TestMemoryCanceledContext(t *testing.T) {
	m := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	_, err := m.Reserve(ctx, budget.ReserveRequest{ID: "a", ClientID: "c", Periods: budget.Calendar{}.Periods(now), Now: now})
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, clientCount(m))
}

// TestMemoryIndexRetention: the client index and the global aggregates of a period go
// with its retention, like the clients' own records.
func TestMemoryIndexRetention(t *testing.T) {
	m := New(Options{Retention: 48 * time.Hour})
	ctx := context.Background()
	day1 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	p1 := budget.Calendar{}.Periods(day1)
	for _, id := range []string{"a", "b"} {
		_, err := m.Settle(ctx, budget.SettleRequest{ID: "s", ClientID: id, Periods: p1, ActualNano: 5, Now: day1})
		require.NoError(t, err)
	}
	list := func() int64 {
		page, err := m.ListClients(ctx, budget.ClientQuery{Periods: p1})
		require.NoError(t, err)
		return page.Total
	}
	require.Equal(t, int64(2), list())

	// Past Nov 1 + 48h, before the month's end: the day's index and aggregates are gone.
	later := time.Date(2026, 11, 4, 1, 0, 0, 0, time.UTC)
	_, err := m.Settle(ctx, budget.SettleRequest{ID: "s2", ClientID: "a", Periods: budget.Calendar{}.Periods(later), ActualNano: 1, Now: later})
	require.NoError(t, err)
	require.Zero(t, list())
	g, err := m.GlobalHistory(ctx, "2026-11-01", "2026-11-01")
	require.NoError(t, err)
	require.Equal(t, []budget.DayStats{{Day: "2026-11-01"}}, g)
	page, err := m.ListClients(ctx, budget.ClientQuery{Periods: p1, Sort: budget.SortMonth})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, []string{page.Clients[0].ClientID, page.Clients[1].ClientID}, "the month is kept")
	require.Equal(t, int64(6), page.Clients[0].MonthSpentNano)
	require.Zero(t, page.Clients[0].DaySpentNano, "Nov 1 is gone")
}
