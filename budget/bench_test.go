package budget

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/loop"
)

// noop is a Ledger that does nothing: the floor the others are compared against.
type noop struct{}

var _ Ledger = noop{}

func (noop) Reserve(context.Context, ReserveRequest) (Admission, error) {
	return Admission{Admitted: true}, nil
}
func (noop) Settle(context.Context, SettleRequest) (SettleResult, error) { return SettleResult{}, nil }
func (noop) Spend(context.Context, string, Rule, Periods, time.Time) (ClientSpend, error) {
	return ClientSpend{}, nil
}
func (noop) History(context.Context, string, string, string) ([]DayStats, error) { return nil, nil }
func (noop) Close() error                                                        { return nil }
func (noop) Extend(context.Context, []Lease) error                               { return nil }
func (noop) Hold(context.Context, HoldRequest) (bool, error)                     { return true, nil }
func (noop) Remember(context.Context, string, []Remember, time.Time) error       { return nil }
func (noop) Contexts(_ context.Context, _ string, keys []string, _ time.Time) ([]int64, error) {
	return make([]int64, len(keys)), nil
}

// roundTrips counts commands and pipelines sent to Redis; c is the client, for the
// server-side script time.
type roundTrips struct {
	n atomic.Int64
	c *redis.Client
}

// scriptMicros returns the total time Redis spent in EVAL and EVALSHA since the last
// CONFIG RESETSTAT (INFO commandstats), in microseconds.
func (h *roundTrips) scriptMicros(ctx context.Context) (float64, error) {
	info, err := h.c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_eval:") && !strings.HasPrefix(line, "cmdstat_evalsha:") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, err
				}
				total += n
			}
		}
	}
	return total, nil
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

type benchLedger struct {
	name string
	open func(b *testing.B) (Ledger, *roundTrips)
}

func benchLedgers() []benchLedger {
	return []benchLedger{
		{"noop", func(b *testing.B) (Ledger, *roundTrips) { return noop{}, nil }},
		{"memory", func(b *testing.B) (Ledger, *roundTrips) { return NewMemory(MemoryOptions{}), nil }},
		{"memory-1shard", func(b *testing.B) (Ledger, *roundTrips) { return newMemory(MemoryOptions{}, 1), nil }},
		{"redis", func(b *testing.B) (Ledger, *roundTrips) {
			client := redis.NewClient(&redis.Options{Addr: redistest.Start(b), PoolSize: 64})
			b.Cleanup(func() { _ = client.Close() })
			rt := &roundTrips{c: client}
			client.AddHook(rt)
			l, err := NewRedis(client, RedisOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = l.Close() }) // before the client closes: final index flush
			return l, rt
		}},
	}
}

// request is one metered request: reserve the estimate, settle the actual cost. With
// withLoop the reservation carries a LoopCheck of a signature unlike any other, so no loop
// fires and every client's window stays full (32 entries): the most comparisons.
func request(ctx context.Context, b *testing.B, l Ledger, clients []string, i int64, p Periods, now time.Time, rule Rule, withLoop bool) {
	id := "req-" + strconv.FormatInt(i, 10)
	client := clients[i%int64(len(clients))]
	var lc *LoopCheck
	if withLoop {
		lc = &LoopCheck{Sig: loop.Signature{Exact: mix(uint64(i)), Sim: mix(^uint64(i)), Size: 60}, Config: loop.DefaultConfig(),
			Block: true, Excerpt: benchExcerpt}
	}
	a, err := l.Reserve(ctx, ReserveRequest{ID: id, ClientID: client, Rule: rule, Periods: p, EstimateNano: 30_000, Now: now, Loop: lc})
	if err != nil || !a.Admitted {
		b.Fatalf("reserve: %v %+v", err, a)
	}
	_, err = l.Settle(ctx, SettleRequest{ID: id, ClientID: client, Rule: rule, Periods: p, ActualNano: 21_000,
		Model: "gpt-4o-mini", Tokens: Tokens{Prompt: 120, Completion: 30}, Now: now})
	if err != nil {
		b.Fatal(err)
	}
}

const benchExcerpt = "assistant call run_tests: {\"path\":\"pkg/#\"} | tool output run_tests: FAIL pkg/# TestParse (#s) expected # got #"

// mix is splitmix64's finaliser: distinct signatures per request.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// benchClients spreads requests over 100 clients, like a fleet of agents.
func benchClients() []string {
	out := make([]string, 100)
	for i := range out {
		out[i] = "user-" + strconv.Itoa(i)
	}
	return out
}

func benchRule() Rule {
	return Rule{Daily: LimitOf(1_000_000 * NanoPerUSD), Monthly: LimitOf(9_000_000 * NanoPerUSD)}
}

// BenchmarkReserveSettle measures one request (Reserve + Settle) from one goroutine.
func BenchmarkReserveSettle(b *testing.B) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := Calendar{}.Periods(now)
	rule := benchRule()
	clients := benchClients()
	for _, bl := range benchLedgers() {
		for _, withLoop := range []bool{false, true} {
			name := bl.name
			if withLoop {
				name += "+loop"
			}
			b.Run(name, func(b *testing.B) {
				benchSerial(b, bl, withLoop, clients, p, now, rule)
			})
		}
	}
}

func benchSerial(b *testing.B, bl benchLedger, withLoop bool, clients []string, p Periods, now time.Time, rule Rule) {
	l, rt := bl.open(b)
	ctx := context.Background()
	warm := 1
	if withLoop {
		warm = loop.MaxEntries * len(clients) // fill every window
	}
	for i := range warm { // and warm up connections and scripts
		request(ctx, b, l, clients, 1<<40+int64(i), p, now, rule, withLoop)
	}
	var before int64
	if rt != nil {
		if err := rt.c.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		before = rt.n.Load()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range int64(b.N) {
		request(ctx, b, l, clients, i, p, now, rule, withLoop)
	}
	b.StopTimer()
	if rt != nil {
		b.ReportMetric(float64(rt.n.Load()-before)/float64(b.N), "roundtrips/op")
		// Redis runs scripts on its one thread: this bounds a server's throughput.
		us, err := rt.scriptMicros(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(us/float64(b.N), "server-µs/op")
	}
}

// BenchmarkReserveSettleParallel is the same under GOMAXPROCS goroutines ×4 (RunParallel
// with SetParallelism), showing lock contention (memory) and pooled throughput (redis).
func BenchmarkReserveSettleParallel(b *testing.B) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := Calendar{}.Periods(now)
	rule := benchRule()
	clients := benchClients()
	for _, bl := range benchLedgers() {
		b.Run(bl.name, func(b *testing.B) {
			l, rt := bl.open(b)
			ctx := context.Background()
			request(ctx, b, l, clients, 1<<40, p, now, rule, false)
			var seq atomic.Int64
			var before int64
			if rt != nil {
				before = rt.n.Load()
			}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					request(ctx, b, l, clients, seq.Add(1), p, now, rule, false)
				}
			})
			b.StopTimer()
			if rt != nil {
				b.ReportMetric(float64(rt.n.Load()-before)/float64(b.N), "roundtrips/op")
			}
		})
	}
}

// BenchmarkListClients lists 100,000 clients of one day: the first page, a deep page
// (rank 90,000, by cursor) and a Prefix page (about 11% of the clients match), 100 rows
// each. Spend levels repeat, so the order relies on the client-id tie-break.
func BenchmarkListClients(b *testing.B) {
	const clients = 100_000
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	p := Calendar{}.Periods(now)
	spend := func(i int) int64 { return int64(i%5000) * 1000 }
	id := func(i int) string { return "user-" + strconv.Itoa(i) }

	rows := make([]row, clients)
	for i := range rows {
		rows[i] = row{id: id(i), key: spend(i)}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].before(rows[j]) })
	deep := encodeCursor(SortDay, p.Day.Key, rows[89_999].key, rows[89_999].id)

	ledgers := []struct {
		name string
		open func(b *testing.B) ClientIndex
	}{
		{"memory", func(b *testing.B) ClientIndex {
			m := NewMemory(MemoryOptions{})
			for i := range clients {
				_, err := m.Settle(context.Background(), SettleRequest{ID: "s", ClientID: id(i), Periods: p, ActualNano: spend(i), Now: now})
				if err != nil {
					b.Fatal(err)
				}
			}
			return m
		}},
		{"redis", func(b *testing.B) ClientIndex {
			client := redis.NewClient(&redis.Options{Addr: redistest.Start(b)})
			b.Cleanup(func() { _ = client.Close() })
			r, err := NewRedis(client, RedisOptions{IndexEvery: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			// Fill the index through the batcher, as settlements do (without 100k scripts).
			keep := r.keepFor(p.Day, now)
			for i := range clients {
				s := SettleRequest{ClientID: id(i), Periods: p, ActualNano: spend(i), Now: now}
				r.idx.settled(s, "m", spend(i), spend(i), keep, keep)
			}
			if err := r.FlushIndex(context.Background()); err != nil {
				b.Fatal(err)
			}
			return r
		}},
	}
	for _, l := range ledgers {
		b.Run(l.name, func(b *testing.B) {
			ix := l.open(b)
			for _, q := range []struct {
				name string
				q    ClientQuery
				want string // first client id of the page
			}{
				{"first", ClientQuery{Periods: p}, rows[0].id},
				{"deep", ClientQuery{Periods: p, Cursor: deep}, rows[90_000].id},
				{"prefix", ClientQuery{Periods: p, Prefix: "user-1"}, ""},
			} {
				b.Run(q.name, func(b *testing.B) {
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						page, err := ix.ListClients(ctx, q.q)
						if err != nil || len(page.Clients) != 100 {
							b.Fatalf("%v, %d rows", err, len(page.Clients))
						}
						if q.want != "" && page.Clients[0].ClientID != q.want {
							b.Fatalf("page starts at %s, want %s", page.Clients[0].ClientID, q.want)
						}
					}
				})
			}
		})
	}
}
