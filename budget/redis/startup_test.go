package redis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/redistest"
)

// A Redis that is down when Proxide starts is not fatal: the ledger opens,
// answers budget.ErrUnavailable (failure_mode decides what requests get), and works
// as soon as Redis is back, loading its scripts on first use.
func TestDownAtStartUp(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Options{})
	require.NoError(t, srv.Stop())

	l, err := Open("redis://"+srv.Addr+"/0", Options{})
	require.NoError(t, err, "opening must not need a live Redis")
	t.Cleanup(func() { _ = l.Close() })

	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	req := budget.ReserveRequest{ID: "r1", ClientID: "c", Periods: cal.Periods(now), EstimateNano: 10, Now: now}
	_, err = l.Reserve(context.Background(), req)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.Error(t, l.Ping(context.Background()))

	require.NoError(t, srv.Start())
	adm, err := l.Reserve(context.Background(), req)
	require.NoError(t, err)
	require.True(t, adm.Admitted)
}
