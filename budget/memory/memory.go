// Package memory is the embedded single-replica store of Proxide (store.redis_url empty):
// the budget.Store of budget/redis with the same semantics, checked by the same contract
// suite (budget/ledgertest), in process memory.
package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// Options configure New.
type Options struct {
	// Retention keeps day and month data this long after the period ends (default 90 days).
	Retention time.Duration
}

// defaultShards spreads clients over independent mutexes; see BenchmarkMemoryParallel for
// the measurement against a single mutex.
const defaultShards = 64

// sweepEvery is how often (by request time) the store drops expired data of all clients.
const sweepEvery = time.Hour

// Store is the embedded single-replica budget.Store. It has the same semantics as the
// Redis store and is safe for concurrent use: clients are spread over shards, each with
// its own mutex, and every operation on one client is atomic under its shard's lock.
type Store struct {
	retention time.Duration
	shards    []memShard
	nextSweep atomic.Int64 // request-clock unix ms of the next global sweep

	// loopMu guards loops; taken under a shard lock, never the other way round.
	loopMu sync.Mutex
	loops  memLoops

	storedMu  sync.RWMutex
	stored    map[rules.Key]rules.Rule
	storedVer int64
	maxRules  int // rules.MaxStored; lowered by tests
}

var _ budget.Store = (*Store)(nil)

type memShard struct {
	mu      sync.Mutex
	clients map[string]*memClient
	// agg sums the settlements of this shard's clients per day, for GlobalHistory;
	// dayIdx and monthIdx list the clients of each period for ListClients. Kept per shard
	// so Settle needs no lock beyond the shard's own.
	agg              map[string]*memDay
	dayIdx, monthIdx map[string]*periodIndex
}

// New returns an empty in-memory store.
func New(opts Options) *Store { return newStore(opts, defaultShards) }

func newStore(opts Options, shards int) *Store {
	if opts.Retention <= 0 {
		opts.Retention = budget.DefaultRetention
	}
	m := &Store{retention: opts.Retention, shards: make([]memShard, shards), stored: make(map[rules.Key]rules.Rule), maxRules: rules.MaxStored}
	for i := range m.shards {
		m.shards[i].clients = make(map[string]*memClient)
		m.shards[i].agg = make(map[string]*memDay)
		m.shards[i].dayIdx = make(map[string]*periodIndex)
		m.shards[i].monthIdx = make(map[string]*periodIndex)
	}
	return m
}

// lock locks the shard of clientID and returns it with the client's state; create makes
// a missing client. The caller must unlock the shard.
func (m *Store) lock(clientID string, create bool) (*memShard, *memClient) {
	h := uint32(2166136261) // FNV-1a, inline to avoid allocating a hasher per call
	for i := 0; i < len(clientID); i++ {
		h = (h ^ uint32(clientID[i])) * 16777619
	}
	sh := &m.shards[uint64(h)%uint64(len(m.shards))]
	sh.mu.Lock()
	c := sh.clients[clientID]
	if c == nil && create {
		c = newMemClient()
		sh.clients[clientID] = c
	}
	return sh, c
}

// Reserve implements budget.Ledger.
func (m *Store) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	ttl, err := r.Validate()
	if err != nil {
		return budget.Admission{}, err
	}
	if err := ctx.Err(); err != nil {
		return budget.Admission{}, fmt.Errorf("%w: reserve: %w", budget.ErrUnavailable, err)
	}
	now := r.Now.UnixMilli()
	m.maybeSweep(now)
	sh, c := m.lock(r.ClientID, true)
	defer sh.mu.Unlock()
	m.expire(sh, c, now)

	if _, settled := c.done[r.ID]; settled {
		return budget.Admission{}, fmt.Errorf("%w: reserve: id %q was already settled", budget.ErrInvalid, r.ID)
	}
	day, month := c.spend(r.Rule, r.Periods)
	if _, dup := c.res[r.ID]; dup {
		a := budget.NewAdmission(r.Periods, day, month, true, false, r.EstimateNano, r.Rule.Strict())
		a.Duplicate = true
		return a, nil
	}
	var lv loop.Verdict
	if r.Loop != nil { // before the budget check, like lua/reserve.lua
		lv = m.observeLoop(c, r, now)
		if lv.Loop && r.Loop.Block {
			return budget.Admission{Day: day, Month: month, Loop: lv}, nil
		}
	}
	ok := budget.Admits(r.Rule, day, month, r.EstimateNano)
	if ok {
		c.reserve(r.ID, memRes{amount: r.EstimateNano, day: r.Periods.Day.Key, month: r.Periods.Month.Key,
			expiry: now + ttl.Milliseconds(), periods: r.Periods, clientID: r.ClientID})
	}
	a := budget.NewAdmission(r.Periods, day, month, ok, ok, r.EstimateNano, r.Rule.Strict())
	a.Loop = lv
	return a, nil
}

// Settle implements budget.Ledger.
func (m *Store) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	if err := s.Validate(); err != nil {
		return budget.SettleResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return budget.SettleResult{}, fmt.Errorf("%w: settle: %w", budget.ErrUnavailable, err)
	}
	now := s.Now.UnixMilli()
	m.maybeSweep(now)
	sh, c := m.lock(s.ClientID, true)
	defer sh.mu.Unlock()
	m.expire(sh, c, now)

	if _, settled := c.done[s.ID]; settled {
		day, month := c.spend(s.Rule, s.Periods)
		return budget.SettleResult{Duplicate: true, Day: day, Month: month}, nil
	}
	if _, held := c.res[s.ID]; s.OnlyIfHeld && !held {
		day, month := c.spend(s.Rule, s.Periods)
		return budget.SettleResult{NotHeld: true, Day: day, Month: month}, nil
	}
	c.release(s.ID)
	d, mo := m.account(sh, c, s, now)
	for _, rm := range s.Remember {
		c.remember(rm, now)
	}

	var res budget.SettleResult
	for _, mk := range budget.Marks(s.Rule) {
		spent, marks := d.spent, d.marks
		if mk.Kind == budget.Monthly {
			spent, marks = mo.spent, mo.marks
		}
		if key := (markKey{mk.PPM, mk.Limit}); spent >= mk.Amount && !marks[key] {
			marks[key] = true
			res.Crossings = append(res.Crossings, budget.Crossing{Kind: mk.Kind, Threshold: mk.Fraction, SpentNano: spent, LimitNano: mk.Limit,
				Period: s.Periods.Of(mk.Kind)})
		}
	}
	c.markSettled(s.ID, now)
	res.Day, res.Month = c.spend(s.Rule, s.Periods)
	return res, nil
}

// account charges a settlement to its periods and stats; the caller holds the shard lock.
func (m *Store) account(sh *memShard, c *memClient, s budget.SettleRequest, now int64) (*memDay, *memMonth) {
	d := c.day(s.Periods.Day, m.retention)
	mo := c.month(s.Periods.Month, m.retention)
	d.spent = budget.AddSat(d.spent, s.ActualNano)
	mo.spent = budget.AddSat(mo.spent, s.ActualNano)
	model := budget.ModelName(s.Model)
	d.count(s, model)
	mo.lastSeen = max(mo.lastSeen, now)
	sh.indexSettled(s, model, d, mo, m.retention)
	return d, mo
}

// expire releases the client's expired in-flight reservations and charges its expired
// pending ones (held background responses and batches whose result was never seen), as
// estimated charges to the periods they were taken in; the caller holds the shard lock.
func (m *Store) expire(sh *memShard, c *memClient, now int64) {
	for _, p := range c.sweepReservations(now) {
		m.account(sh, c, budget.SettleRequest{ID: p.id, ClientID: p.clientID, Periods: p.periods, ActualNano: p.amount,
			Model: p.model, Estimated: true, Now: time.UnixMilli(now)}, now)
		c.markSettled(p.id, now)
	}
}

// Spend implements budget.Store.
func (m *Store) Spend(ctx context.Context, clientID string, rule rules.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error) {
	if err := budget.ValidateSpend(clientID, rule, p, now); err != nil {
		return budget.ClientSpend{}, err
	}
	if err := ctx.Err(); err != nil {
		return budget.ClientSpend{}, fmt.Errorf("%w: spend: %w", budget.ErrUnavailable, err)
	}
	out := budget.ClientSpend{ClientID: clientID, Day: budget.PeriodSpend{Limit: rule.Daily}, Month: budget.PeriodSpend{Limit: rule.Monthly}, Today: budget.DayStats{Day: p.Day.Key}}
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	if c == nil {
		return out, nil
	}
	m.expire(sh, c, now.UnixMilli())
	out.Day, out.Month = c.spend(rule, p)
	if d := c.days[p.Day.Key]; d != nil {
		out.Today = d.stats(p.Day.Key)
	}
	return out, nil
}

// History implements budget.Store.
func (m *Store) History(ctx context.Context, clientID string, fromDay, toDay string) ([]budget.DayStats, error) {
	days, err := budget.HistoryDays(clientID, fromDay, toDay)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: history: %w", budget.ErrUnavailable, err)
	}
	out := make([]budget.DayStats, len(days))
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	for i, key := range days {
		out[i] = budget.DayStats{Day: key}
		if c == nil {
			continue
		}
		if d := c.days[key]; d != nil {
			out[i] = d.stats(key)
		}
	}
	return out, nil
}

// Close implements budget.Store; the store holds no external resources.
func (m *Store) Close() error { return nil }

// Ping implements budget.Store: memory is always ready.
func (m *Store) Ping(context.Context) error { return nil }

// maybeSweep drops expired data of every client at most once per sweepEvery of request
// time, so that clients who never come back do not keep memory forever.
func (m *Store) maybeSweep(now int64) {
	next := m.nextSweep.Load()
	if now < next || !m.nextSweep.CompareAndSwap(next, now+sweepEvery.Milliseconds()) {
		return
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for id, c := range sh.clients {
			m.expire(sh, c, now)
			if c.prune(now) {
				delete(sh.clients, id)
			}
		}
		sh.pruneIndex(now)
		sh.mu.Unlock()
	}
	m.pruneLoops(now)
}
