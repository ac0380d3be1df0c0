package memory

import (
	"context"
	"testing"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
)

// noop is a ledger that does nothing: the floor the stores are compared against.
type noop struct{}

var _ budget.Ledger = noop{}

func (noop) Reserve(context.Context, budget.ReserveRequest) (budget.Admission, error) {
	return budget.Admission{Admitted: true}, nil
}
func (noop) Settle(context.Context, budget.SettleRequest) (budget.SettleResult, error) {
	return budget.SettleResult{}, nil
}
func (noop) Extend(context.Context, []budget.Lease) error                         { return nil }
func (noop) Hold(context.Context, budget.HoldRequest) (bool, error)               { return true, nil }
func (noop) Remember(context.Context, string, []budget.Remember, time.Time) error { return nil }
func (noop) Contexts(_ context.Context, _ string, keys []string, _ time.Time) ([]int64, error) {
	return make([]int64, len(keys)), nil
}

// openers are the floor, the store, and the store with a single shard (the measurement
// behind defaultShards).
var openers = []struct {
	name string
	open ledgertest.Opener
}{
	{"noop", func(*testing.B) (budget.Ledger, *ledgertest.Meter) { return noop{}, nil }},
	{"memory", func(*testing.B) (budget.Ledger, *ledgertest.Meter) { return New(Options{}), nil }},
	{"memory-1shard", func(*testing.B) (budget.Ledger, *ledgertest.Meter) { return newStore(Options{}, 1), nil }},
}

func BenchmarkReserveSettle(b *testing.B) {
	for _, o := range openers {
		ledgertest.BenchReserveSettle(b, o.name, o.open)
	}
}

func BenchmarkReserveSettleParallel(b *testing.B) {
	for _, o := range openers {
		ledgertest.BenchReserveSettleParallel(b, o.name, o.open)
	}
}

func BenchmarkListClients(b *testing.B) {
	ledgertest.BenchListClients(b, "memory", func(b *testing.B) budget.ClientIndex {
		m := New(Options{})
		p := ledgertest.BenchPeriods()
		now := p.Day.Start.Add(12 * time.Hour)
		for i := range ledgertest.BenchClients {
			_, err := m.Settle(context.Background(), budget.SettleRequest{ID: "s", ClientID: ledgertest.BenchClientID(i), Periods: p,
				ActualNano: ledgertest.BenchSpend(i), Now: now})
			if err != nil {
				b.Fatal(err)
			}
		}
		return m
	})
}
