package redis

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
)

// DefaultIndexEvery is how often Redis writes the client index and global aggregates.
const DefaultIndexEvery = 250 * time.Millisecond

// indexCloseTimeout bounds the final flush in Close.
const indexCloseTimeout = 5 * time.Second

// maxPendingClients caps the (client, day) entries one batch holds. Settle only adds
// after Redis answered, so the cap is reached only if index writes fail for long while
// settlements succeed (a Cluster node down); past it, index entries are dropped (and
// logged), never client spend.
const maxPendingClients = 1 << 20

// zaddChunk bounds the members of one ZADD in a flush.
const zaddChunk = 1000

// batcher collects what settlements add to the client index and the global aggregates
// and writes it every DefaultIndexEvery in one pipeline, so Settle stays one round trip.
//
// Index entries are absolute (the client's day and month totals the settle script
// returned, written with ZADD LT on negated totals, i.e. "keep the larger total"), so they
// are idempotent and order-independent across replicas. Aggregates are HINCRBY deltas:
// a crash loses the pending batch (at most one interval of aggregates, never client
// spend); a command whose reply was lost is retried and may count twice.
type batcher struct {
	r     *Store
	log   *slog.Logger
	every time.Duration

	mu      sync.Mutex
	pending *batch

	flushMu sync.Mutex // one flush at a time, so FlushIndex returns only after earlier adds are written
	failing atomic.Bool
	dropped atomic.Int64
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// batch is the pending state of one interval.
type batch struct {
	// days and months hold each client's largest total per period; months also the
	// latest settlement time. One entry per (client, period): a ZADD never names a
	// member twice.
	days   map[periodClient]int64
	months map[periodClient]monthTotals
	models map[batchModel]*budget.ModelStats
	incr   map[aggField]int64 // aggregate deltas of failed HINCRBYs, retried as they are
	// keepDay and keepMonth are the PEXPIRE ms (largest wins) of each period's keys, by
	// period key: the key names are built at flush time, not on the request path.
	keepDay, keepMonth map[string]int64
	// loops are new loop events for the all-clients listing, oldest first.
	loops []budget.LoopKey
}

type periodClient struct{ id, period string }

type monthTotals struct{ total, seen int64 }

type batchModel struct{ day, model string }

type aggField struct{ day, field string }

func newBatch() *batch {
	return &batch{
		days:      map[periodClient]int64{},
		months:    map[periodClient]monthTotals{},
		models:    map[batchModel]*budget.ModelStats{},
		incr:      map[aggField]int64{},
		keepDay:   map[string]int64{},
		keepMonth: map[string]int64{},
	}
}

func (b *batch) empty() bool {
	return len(b.days) == 0 && len(b.months) == 0 && len(b.models) == 0 && len(b.incr) == 0 && len(b.keepDay) == 0 && len(b.keepMonth) == 0 && len(b.loops) == 0
}

func newBatcher(r *Store, log *slog.Logger, every time.Duration) *batcher {
	b := &batcher{r: r, log: log, every: every, pending: newBatch(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go b.loop()
	return b
}

// settled queues one settled (non-duplicate) settlement: the client's totals after it,
// and its counters for the aggregates. model is already normalised.
func (b *batcher) settled(s budget.SettleRequest, model string, dayTotal, monthTotal, dayKeep, monthKeep int64) {
	day := periodClient{id: s.ClientID, period: s.Periods.Day.Key}
	month := periodClient{id: s.ClientID, period: s.Periods.Month.Key}
	mk := batchModel{day: s.Periods.Day.Key, model: model}
	now := s.Now.UnixMilli()
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	p.addDay(day, dayTotal, &b.dropped)
	p.addMonth(month, monthTotals{total: monthTotal, seen: now}, &b.dropped)
	m := p.models[mk]
	if m == nil {
		m = &budget.ModelStats{Model: model}
		p.models[mk] = m
	}
	m.Add(s.Stats(model))
	raise(p.keepDay, day.period, dayKeep)
	raise(p.keepMonth, month.period, monthKeep)
}

// addDay and addMonth merge an index entry (the larger total, the later time). A new
// entry past maxPendingClients is dropped and counted.
func (b *batch) addDay(k periodClient, total int64, dropped *atomic.Int64) {
	old, ok := b.days[k]
	if !ok && len(b.days) >= maxPendingClients {
		dropped.Add(1)
		return
	}
	b.days[k] = max(old, total)
}

func (b *batch) addMonth(k periodClient, t monthTotals, dropped *atomic.Int64) {
	old, ok := b.months[k]
	if !ok && len(b.months) >= maxPendingClients {
		dropped.Add(1)
		return
	}
	b.months[k] = monthTotals{total: max(old.total, t.total), seen: max(old.seen, t.seen)}
}

// raise keeps the larger expiry of a period's keys.
func raise(keep map[string]int64, period string, ms int64) {
	if ms > keep[period] {
		keep[period] = ms
	}
}

// expiries lists every key of the batch's periods with its PEXPIRE ms.
func (b *batcher) expiries(p *batch) map[string]int64 {
	out := make(map[string]int64, 3*len(p.keepDay)+3*len(p.keepMonth))
	for day, ms := range p.keepDay {
		out[b.r.dayIndexKey(day)], out[b.r.dayNameKey(day)], out[b.r.aggKey(day)] = ms, ms, ms
	}
	for month, ms := range p.keepMonth {
		out[b.r.monthIndexKey(month)], out[b.r.monthNameKey(month)], out[b.r.seenKey(month)] = ms, ms, ms
	}
	return out
}

func (b *batcher) loop() {
	defer close(b.stopped)
	t := time.NewTicker(b.every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), max(b.every, time.Second))
			_ = b.flush(ctx) // failures are kept and retried on the next tick
			cancel()
		}
	}
}

// close stops the loop and writes what is pending.
func (b *batcher) close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		<-b.stopped
		ctx, cancel := context.WithTimeout(context.Background(), indexCloseTimeout)
		defer cancel()
		err = b.flush(ctx)
	})
	return err
}

// flushOp is one command of a flush and how to put its data back if it fails.
type flushOp struct {
	send  func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder
	retry func() // called with b.mu held
}

// flush writes the pending batch in one pipeline. Commands that failed for a transient
// reason are merged back into the pending batch for the next flush.
func (b *batcher) flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	cur := b.pending
	b.pending = newBatch()
	b.mu.Unlock()
	if n := b.dropped.Swap(0); n > 0 {
		b.log.Warn("budget: client index entries or loop events dropped, pending batch full", "count", n,
			"max_clients", maxPendingClients, "max_loop_events", budget.MaxLoopEvents)
	}
	if cur.empty() {
		return nil
	}
	ops := append(b.zaddOps(cur), b.aggOps(cur)...)
	ops = append(ops, b.loopOps(cur)...)
	// Expiries go last, after the writes that create the keys. A failed one is retried
	// with the whole batch's expiries below.
	for key, ms := range b.expiries(cur) {
		ops = append(ops, flushOp{
			send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder {
				return p.PExpire(ctx, key, time.Duration(ms)*time.Millisecond)
			},
			retry: func() {},
		})
	}
	cmds := make([]goredis.Cmder, len(ops))
	_, err := b.r.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, op := range ops {
			cmds[i] = op.send(ctx, p)
		}
		return nil
	})
	if err == nil {
		if b.failing.CompareAndSwap(true, false) {
			b.log.Info("budget: client index writes recovered")
		}
		return nil
	}
	var permanent error
	b.mu.Lock()
	for i, c := range cmds {
		switch cerr := cmdErr(c); {
		case cerr == nil:
		case permanentErr(cerr):
			permanent = cerr // e.g. WRONGTYPE after a hand edit: retrying cannot help
		default:
			ops[i].retry()
		}
	}
	// A failed write may create its key after this flush's PEXPIRE ran: expire again.
	for day, ms := range cur.keepDay {
		raise(b.pending.keepDay, day, ms)
	}
	for month, ms := range cur.keepMonth {
		raise(b.pending.keepMonth, month, ms)
	}
	b.mu.Unlock()
	if permanent != nil {
		b.log.Error("budget: client index write refused; dropped", "error", permanent)
	}
	if b.failing.CompareAndSwap(false, true) {
		b.log.Warn("budget: client index writes failing; retrying", "error", err)
	}
	return unavailable("index flush", err)
}

// cmdErr is the error of a command that may not have been queued.
func cmdErr(c goredis.Cmder) error {
	if c == nil {
		return goredis.ErrClosed
	}
	return c.Err()
}

// permanentErr tells error replies that a retry would only repeat from transient ones
// (connection errors, LOADING, READONLY, CLUSTERDOWN, TRYAGAIN…).
func permanentErr(err error) bool {
	return goredis.HasErrorPrefix(err, "WRONGTYPE") || goredis.HasErrorPrefix(err, "ERR")
}

// zaddOps writes the client index: per key, members in chunks of zaddChunk.
func (b *batcher) zaddOps(cur *batch) []flushOp {
	type member struct {
		pc periodClient
		z  goredis.Z
	}
	byKey := map[string][]member{}
	// Spend scores are -total, so LT keeps the larger total; seen scores are times, so
	// GT keeps the latest; name indexes have score 0 throughout. New members are added
	// in every mode.
	mode := map[string]goredis.ZAddArgs{}
	isDay := map[string]bool{}
	add := func(key string, pc periodClient, score float64, args goredis.ZAddArgs, day bool) {
		byKey[key] = append(byKey[key], member{pc, goredis.Z{Score: score, Member: pc.id}})
		mode[key], isDay[key] = args, day
	}
	for pc, total := range cur.days {
		add(b.r.dayIndexKey(pc.period), pc, float64(-total), goredis.ZAddArgs{LT: true}, true)
		add(b.r.dayNameKey(pc.period), pc, 0, goredis.ZAddArgs{}, true)
	}
	for pc, t := range cur.months {
		add(b.r.monthIndexKey(pc.period), pc, float64(-t.total), goredis.ZAddArgs{LT: true}, false)
		add(b.r.monthNameKey(pc.period), pc, 0, goredis.ZAddArgs{}, false)
		add(b.r.seenKey(pc.period), pc, float64(t.seen), goredis.ZAddArgs{GT: true}, false)
	}
	var ops []flushOp
	for key, ms := range byKey {
		for len(ms) > 0 {
			chunk := ms[:min(len(ms), zaddChunk)]
			ms = ms[len(chunk):]
			zs := make([]goredis.Z, len(chunk))
			for i, m := range chunk {
				zs[i] = m.z
			}
			args := mode[key]
			args.Members = zs
			day := isDay[key]
			ops = append(ops, flushOp{
				send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder { return p.ZAddArgs(ctx, key, args) },
				retry: func() {
					for _, m := range chunk {
						if day {
							b.pending.addDay(m.pc, cur.days[m.pc], &b.dropped)
						} else {
							b.pending.addMonth(m.pc, cur.months[m.pc], &b.dropped)
						}
					}
				},
			})
		}
	}
	return ops
}

// aggOps turns the per-model counters into HINCRBYs on the global day hashes, with the
// field names of a client's day hash (so parseDayHash reads both).
func (b *batcher) aggOps(cur *batch) []flushOp {
	fields := cur.incr
	add := func(day, field string, n int64) {
		if n != 0 {
			fields[aggField{day, field}] += n
		}
	}
	for mk, m := range cur.models {
		add(mk.day, fieldSpent, m.CostNano)
		add(mk.day, fieldRequests, m.Requests)
		add(mk.day, fieldFailed, m.Failed)
		add(mk.day, fieldEstimated, m.Estimated)
		add(mk.day, fieldEstCost, m.EstimatedNano)
		mp := modelPrefix + mk.model + "|"
		for _, mf := range modelFields {
			add(mk.day, mp+mf.counter, *mf.get(m))
		}
	}
	ops := make([]flushOp, 0, len(fields))
	for f, n := range fields {
		ops = append(ops, flushOp{
			send: func(ctx context.Context, p goredis.Pipeliner) goredis.Cmder {
				return p.HIncrBy(ctx, b.r.aggKey(f.day), f.field, n)
			},
			retry: func() { b.pending.incr[f] += n },
		})
	}
	return ops
}
