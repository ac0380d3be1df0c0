package ledgertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// RunConcurrency has 200 goroutines reserve and settle against one client's $0.50 daily
// limit, spread over the given stores (several stores on one backend act as replicas).
// Estimates are never below the actual cost, so the settled total may exceed the limit by
// at most one request's cost; every charged nano must be accounted for exactly.
func RunConcurrency(t *testing.T, ledgers ...budget.Store) {
	const (
		workers   = 200
		perWorker = 4
		limit     = 50 * Cent
		maxCost   = 3 * Cent
	)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := cal.Periods(now)
	rule := rules.Rule{Daily: rules.LimitOf(limit), Monthly: rules.LimitOf(10 * limit)}
	client := "swarm"
	ctx := context.Background()

	var charged, admitted, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := make(chan struct{}) // release all workers at once for maximum contention
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l := ledgers[w%len(ledgers)]
			for i := range perWorker {
				n := int64(w*perWorker + i)
				est := Cent + (n*7919)%(2*Cent+1) // 1c..3c
				id := fmt.Sprintf("w%d-%d", w, i)
				a, err := l.Reserve(ctx, budget.ReserveRequest{ID: id, ClientID: client, Rule: rule, Periods: p, EstimateNano: est, Now: now})
				if err != nil {
					errs <- err
					return
				}
				if !a.Admitted {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				actual := est/2 + (n*104729)%(est/2+1) // est/2..est
				failed := n%9 == 0
				if failed {
					actual = 0
				}
				res, err := l.Settle(ctx, budget.SettleRequest{ID: id, ClientID: client, Rule: rule, Periods: p,
					ActualNano: actual, Failed: failed, Model: "m", Now: now})
				if err != nil {
					errs <- err
					return
				}
				if res.Duplicate {
					errs <- fmt.Errorf("settle %s: unexpected duplicate", id)
					return
				}
				charged.Add(actual)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s, err := ledgers[0].Spend(ctx, client, rule, p, now)
	require.NoError(t, err)
	t.Logf("admitted %d, refused %d, settled %d nano (limit %d)", admitted.Load(), refused.Load(), s.Day.SpentNano, limit)
	require.Equal(t, charged.Load(), s.Day.SpentNano, "every charged nano is in the ledger, once")
	require.Equal(t, charged.Load(), s.Month.SpentNano)
	require.Zero(t, s.Day.ReservedNano, "no reservation leaks")
	require.Zero(t, s.Month.ReservedNano)
	require.LessOrEqual(t, s.Day.SpentNano, limit+maxCost, "overshoot bounded by one request")
	require.Positive(t, refused.Load(), "the limit must have been hit for this test to mean anything")
	require.Equal(t, admitted.Load(), s.Today.Requests)
}
