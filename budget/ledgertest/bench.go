package ledgertest

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// The benchmarks both stores run (go test -bench 'ListClients|ReserveSettle' ./budget/...),
// so their numbers compare.

// Meter reports what a store costs beyond time: round trips and the server's own script
// time (Redis). Nil functions are not reported.
type Meter struct {
	// RoundTrips counts the commands and pipelines sent so far.
	RoundTrips func() int64
	// Reset starts counting the server's time afresh; ServerMicros reads it.
	Reset        func(ctx context.Context) error
	ServerMicros func(ctx context.Context) (float64, error)
}

// Opener opens a store for one benchmark; the meter may be nil.
type Opener func(b *testing.B) (budget.Ledger, *Meter)

// benchRequest is one metered request: reserve the estimate, settle the actual cost. With
// withLoop the reservation carries a LoopCheck of a signature unlike any other, so no loop
// fires and every client's window stays full (32 entries): the most comparisons.
func benchRequest(ctx context.Context, b *testing.B, l budget.Ledger, clients []string, i int64, p budget.Periods, now time.Time, rule rules.Rule, withLoop bool) {
	id := "req-" + strconv.FormatInt(i, 10)
	client := clients[i%int64(len(clients))]
	var lc *budget.LoopCheck
	if withLoop {
		lc = &budget.LoopCheck{Sig: loop.Signature{Exact: splitmix(uint64(i)), Sim: splitmix(^uint64(i)), Size: 60}, //nolint:gosec // G115: i only seeds a hash; its bits, not its sign, matter
			Config: loop.DefaultConfig(), Block: true, Excerpt: benchExcerpt}
	}
	a, err := l.Reserve(ctx, budget.ReserveRequest{ID: id, ClientID: client, Rule: rule, Periods: p, EstimateNano: 30_000, Now: now, Loop: lc})
	if err != nil || !a.Admitted {
		b.Fatalf("reserve: %v %+v", err, a)
	}
	_, err = l.Settle(ctx, budget.SettleRequest{ID: id, ClientID: client, Rule: rule, Periods: p, ActualNano: 21_000,
		Model: "gpt-4o-mini", Tokens: budget.Tokens{Prompt: 120, Completion: 30}, Now: now})
	if err != nil {
		b.Fatal(err)
	}
}

const benchExcerpt = "assistant call run_tests: {\"path\":\"pkg/#\"} | tool output run_tests: FAIL pkg/# TestParse (#s) expected # got #"

// benchClients spreads requests over 100 clients, like a fleet of agents.
func benchClients() []string {
	out := make([]string, 100)
	for i := range out {
		out[i] = "user-" + strconv.Itoa(i)
	}
	return out
}

var benchNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func benchRule() rules.Rule {
	return rules.Rule{Daily: rules.LimitOf(1_000_000 * rules.NanoPerUSD), Monthly: rules.LimitOf(9_000_000 * rules.NanoPerUSD)}
}

// BenchReserveSettle measures one request (Reserve + Settle) from one goroutine, without
// and with a LoopCheck ("+loop").
func BenchReserveSettle(b *testing.B, name string, open Opener) {
	for _, withLoop := range []bool{false, true} {
		n := name
		if withLoop {
			n += "+loop"
		}
		b.Run(n, func(b *testing.B) { benchSerial(b, open, withLoop) })
	}
}

func benchSerial(b *testing.B, open Opener, withLoop bool) {
	l, m := open(b)
	ctx := context.Background()
	p, rule, clients := budget.Calendar{}.Periods(benchNow), benchRule(), benchClients()
	warm := 1
	if withLoop {
		warm = loop.MaxEntries * len(clients) // fill every window
	}
	for i := range warm { // and warm up connections and scripts
		benchRequest(ctx, b, l, clients, 1<<40+int64(i), p, benchNow, rule, withLoop)
	}
	var before int64
	if m != nil {
		if err := m.Reset(ctx); err != nil {
			b.Fatal(err)
		}
		before = m.RoundTrips()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range int64(b.N) {
		benchRequest(ctx, b, l, clients, i, p, benchNow, rule, withLoop)
	}
	b.StopTimer()
	if m != nil {
		b.ReportMetric(float64(m.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		// Redis runs scripts on its one thread: this bounds a server's throughput.
		us, err := m.ServerMicros(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(us/float64(b.N), "server-µs/op")
	}
}

// BenchReserveSettleParallel is the same under GOMAXPROCS goroutines ×4 (RunParallel with
// SetParallelism), showing lock contention (memory) and pooled throughput (redis).
func BenchReserveSettleParallel(b *testing.B, name string, open Opener) {
	b.Run(name, func(b *testing.B) {
		l, m := open(b)
		ctx := context.Background()
		p, rule, clients := budget.Calendar{}.Periods(benchNow), benchRule(), benchClients()
		benchRequest(ctx, b, l, clients, 1<<40, p, benchNow, rule, false)
		var seq atomic.Int64
		var before int64
		if m != nil {
			before = m.RoundTrips()
		}
		b.ReportAllocs()
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				benchRequest(ctx, b, l, clients, seq.Add(1), p, benchNow, rule, false)
			}
		})
		b.StopTimer()
		if m != nil {
			b.ReportMetric(float64(m.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		}
	})
}

// BenchClients is the client index of BenchListClients: 100,000 clients of one day,
// ids "user-<i>" with spend (i % 5000) * 1000. Spend levels repeat, so the order relies on
// the client-id tie-break.
const BenchClients = 100_000

// BenchClientID and BenchSpend are client i of BenchClients.
func BenchClientID(i int) string { return "user-" + strconv.Itoa(i) }

// BenchSpend is the settled spend of client i of BenchClients.
func BenchSpend(i int) int64 { return int64(i%5000) * 1000 }

// BenchPeriods are the periods BenchListClients lists.
func BenchPeriods() budget.Periods { return budget.Calendar{}.Periods(benchNow) }

// BenchListClients lists the BenchClients clients that fill put in the index: the first
// page, a deep page (rank 90,000, by cursor) and a Prefix page (about 11% of the clients
// match), 100 rows each.
func BenchListClients(b *testing.B, name string, fill func(b *testing.B) budget.ClientIndex) {
	type row struct {
		id    string
		spent int64
	}
	rows := make([]row, BenchClients)
	for i := range rows {
		rows[i] = row{BenchClientID(i), BenchSpend(i)}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if budget.Before(a.spent, a.id, b.spent, b.id) {
			return -1
		}
		return 1
	})
	b.Run(name, func(b *testing.B) {
		ix := fill(b)
		ctx := context.Background()
		p := BenchPeriods()
		// The cursor after rank 89,999: walk there in pages of the maximum size.
		q := budget.ClientQuery{Periods: p, Limit: budget.MaxClientLimit}
		for range 90 {
			page, err := ix.ListClients(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			q.Cursor = page.NextCursor
		}
		for _, tc := range []struct {
			name string
			q    budget.ClientQuery
			want string // first client id of the page
		}{
			{"first", budget.ClientQuery{Periods: p}, rows[0].id},
			{"deep", budget.ClientQuery{Periods: p, Cursor: q.Cursor}, rows[90_000].id},
			{"prefix", budget.ClientQuery{Periods: p, Prefix: "user-1"}, ""},
		} {
			b.Run(tc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					page, err := ix.ListClients(ctx, tc.q)
					if err != nil || len(page.Clients) != 100 {
						b.Fatalf("%v, %d rows", err, len(page.Clients))
					}
					if tc.want != "" && page.Clients[0].ClientID != tc.want {
						b.Fatalf("page starts at %s, want %s", page.Clients[0].ClientID, tc.want)
					}
				}
			})
		}
	})
}
