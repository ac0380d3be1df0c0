package redis

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/redistest"
)

// roundTrips counts commands and pipelines sent to Redis; c is the client, for the
// server-side script time.
type roundTrips struct {
	n atomic.Int64
	c *goredis.Client
}

func (h *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
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

func openBench(b *testing.B) (budget.Ledger, *ledgertest.Meter) {
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Start(b), PoolSize: 64})
	b.Cleanup(func() { _ = client.Close() })
	rt := &roundTrips{c: client}
	client.AddHook(rt)
	l, err := New(client, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() }) // before the client closes: final index flush
	return l, &ledgertest.Meter{
		RoundTrips:   rt.n.Load,
		Reset:        func(ctx context.Context) error { return client.ConfigResetStat(ctx).Err() },
		ServerMicros: rt.scriptMicros,
	}
}

func BenchmarkReserveSettle(b *testing.B) { ledgertest.BenchReserveSettle(b, "redis", openBench) }

func BenchmarkReserveSettleParallel(b *testing.B) {
	ledgertest.BenchReserveSettleParallel(b, "redis", openBench)
}

func BenchmarkListClients(b *testing.B) {
	ledgertest.BenchListClients(b, "redis", func(b *testing.B) budget.ClientIndex {
		client := goredis.NewClient(&goredis.Options{Addr: redistest.Start(b)})
		b.Cleanup(func() { _ = client.Close() })
		r, err := New(client, Options{IndexEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		// Fill the index through the batcher, as settlements do (without 100k scripts).
		p := ledgertest.BenchPeriods()
		now := p.Day.Start.Add(12 * time.Hour)
		keep := r.keepFor(p.Day, now)
		for i := range ledgertest.BenchClients {
			s := budget.SettleRequest{ClientID: ledgertest.BenchClientID(i), Periods: p, ActualNano: ledgertest.BenchSpend(i), Now: now}
			r.idx.settled(s, "m", ledgertest.BenchSpend(i), ledgertest.BenchSpend(i), keep, keep)
		}
		if err := r.FlushIndex(context.Background()); err != nil {
			b.Fatal(err)
		}
		return r
	})
}
