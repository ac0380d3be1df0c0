package budget

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxide/proxide/loop"
)

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// Retention keeps day and month data this long after the period ends (default 90 days).
	Retention time.Duration
}

// defaultShards spreads clients over independent mutexes; see BenchmarkMemoryParallel for
// the measurement against a single mutex.
const defaultShards = 64

// sweepEvery is how often (by request time) Memory drops expired data of all clients.
const sweepEvery = time.Hour

// Memory is the embedded single-replica Ledger. It has the same semantics as Redis and is
// safe for concurrent use: clients are spread over shards, each with its own mutex, and
// every operation on one client is atomic under its shard's lock.
type Memory struct {
	retention time.Duration
	shards    []memShard
	nextSweep atomic.Int64 // request-clock unix ms of the next global sweep

	// loopMu guards loops; taken under a shard lock, never the other way round.
	loopMu sync.Mutex
	loops  memLoops

	rulesMu  sync.RWMutex
	rules    map[RuleKey]Rule
	rulesVer int64
	maxRules int // MaxStoredRules; lowered by tests
}

var _ Ledger = (*Memory)(nil)

type memShard struct {
	mu      sync.Mutex
	clients map[string]*memClient
	// agg sums the settlements of this shard's clients per day, for GlobalHistory;
	// dayIdx and monthIdx list the clients of each period for ListClients. Kept per shard
	// so Settle needs no lock beyond the shard's own.
	agg              map[string]*memDay
	dayIdx, monthIdx map[string]*periodIndex
}

// NewMemory returns an empty in-memory ledger.
func NewMemory(opts MemoryOptions) *Memory { return newMemory(opts, defaultShards) }

func newMemory(opts MemoryOptions, shards int) *Memory {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	m := &Memory{retention: opts.Retention, shards: make([]memShard, shards), rules: make(map[RuleKey]Rule), maxRules: MaxStoredRules}
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
func (m *Memory) lock(clientID string, create bool) (*memShard, *memClient) {
	h := uint32(2166136261) // FNV-1a, inline to avoid allocating a hasher per call
	for i := 0; i < len(clientID); i++ {
		h = (h ^ uint32(clientID[i])) * 16777619
	}
	sh := &m.shards[h%uint32(len(m.shards))]
	sh.mu.Lock()
	c := sh.clients[clientID]
	if c == nil && create {
		c = newMemClient()
		sh.clients[clientID] = c
	}
	return sh, c
}

// Reserve implements Ledger.
func (m *Memory) Reserve(ctx context.Context, r ReserveRequest) (Admission, error) {
	ttl, err := r.validate()
	if err != nil {
		return Admission{}, err
	}
	if err := ctx.Err(); err != nil {
		return Admission{}, fmt.Errorf("%w: reserve: %w", ErrUnavailable, err)
	}
	now := r.Now.UnixMilli()
	m.maybeSweep(now)
	sh, c := m.lock(r.ClientID, true)
	defer sh.mu.Unlock()
	m.expire(sh, c, now)

	if _, settled := c.done[r.ID]; settled {
		return Admission{}, fmt.Errorf("%w: reserve: id %q was already settled", ErrInvalid, r.ID)
	}
	day, month := c.spend(r.Rule, r.Periods)
	if _, dup := c.res[r.ID]; dup {
		a := admission(r.Periods, day, month, true, false, r.EstimateNano, r.Rule.Strict())
		a.Duplicate = true
		return a, nil
	}
	var lv loop.Verdict
	if r.Loop != nil { // before the budget check, like lua/reserve.lua
		lv = m.observeLoop(c, r, now)
		if lv.Loop && r.Loop.Block {
			return Admission{Day: day, Month: month, Loop: lv}, nil
		}
	}
	ok := admits(r.Rule, day, month, r.EstimateNano)
	if ok {
		c.reserve(r.ID, memRes{amount: r.EstimateNano, day: r.Periods.Day.Key, month: r.Periods.Month.Key,
			expiry: now + ttl.Milliseconds(), periods: r.Periods, clientID: r.ClientID})
	}
	a := admission(r.Periods, day, month, ok, ok, r.EstimateNano, r.Rule.Strict())
	a.Loop = lv
	return a, nil
}

// Settle implements Ledger.
func (m *Memory) Settle(ctx context.Context, s SettleRequest) (SettleResult, error) {
	if err := s.validate(); err != nil {
		return SettleResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return SettleResult{}, fmt.Errorf("%w: settle: %w", ErrUnavailable, err)
	}
	now := s.Now.UnixMilli()
	m.maybeSweep(now)
	sh, c := m.lock(s.ClientID, true)
	defer sh.mu.Unlock()
	m.expire(sh, c, now)

	if _, settled := c.done[s.ID]; settled {
		day, month := c.spend(s.Rule, s.Periods)
		return SettleResult{Duplicate: true, Day: day, Month: month}, nil
	}
	if _, held := c.res[s.ID]; s.OnlyIfHeld && !held {
		day, month := c.spend(s.Rule, s.Periods)
		return SettleResult{NotHeld: true, Day: day, Month: month}, nil
	}
	c.release(s.ID)
	d, mo := m.account(sh, c, s, now)
	for _, rm := range s.Remember {
		c.remember(rm, now)
	}

	var res SettleResult
	for _, mk := range s.Rule.marks() {
		spent, marks := d.spent, d.marks
		if mk.kind == Monthly {
			spent, marks = mo.spent, mo.marks
		}
		if key := (markKey{mk.ppm, mk.limit}); spent >= mk.amount && !marks[key] {
			marks[key] = true
			res.Crossings = append(res.Crossings, Crossing{Kind: mk.kind, Threshold: mk.fraction, SpentNano: spent, LimitNano: mk.limit})
		}
	}
	c.markSettled(s.ID, now)
	res.Day, res.Month = c.spend(s.Rule, s.Periods)
	return res, nil
}

// account charges a settlement to its periods and stats; the caller holds the shard lock.
func (m *Memory) account(sh *memShard, c *memClient, s SettleRequest, now int64) (*memDay, *memMonth) {
	d := c.day(s.Periods.Day, m.retention)
	mo := c.month(s.Periods.Month, m.retention)
	d.spent = addSat(d.spent, s.ActualNano)
	mo.spent = addSat(mo.spent, s.ActualNano)
	model := modelName(s.Model)
	d.count(s, model)
	mo.lastSeen = max(mo.lastSeen, now)
	sh.indexSettled(s, model, d, mo, m.retention)
	return d, mo
}

// expire releases the client's expired in-flight reservations and charges its expired
// pending ones (held background responses and batches whose result was never seen), as
// estimated charges to the periods they were taken in; the caller holds the shard lock.
func (m *Memory) expire(sh *memShard, c *memClient, now int64) {
	for _, p := range c.sweepReservations(now) {
		m.account(sh, c, SettleRequest{ID: p.id, ClientID: p.clientID, Periods: p.periods, ActualNano: p.amount,
			Model: p.model, Estimated: true, Now: time.UnixMilli(now)}, now)
		c.markSettled(p.id, now)
	}
}

// Spend implements Ledger.
func (m *Memory) Spend(ctx context.Context, clientID string, rule Rule, p Periods, now time.Time) (ClientSpend, error) {
	if err := validateSpend(clientID, rule, p, now); err != nil {
		return ClientSpend{}, err
	}
	if err := ctx.Err(); err != nil {
		return ClientSpend{}, fmt.Errorf("%w: spend: %w", ErrUnavailable, err)
	}
	out := ClientSpend{ClientID: clientID, Day: PeriodSpend{Limit: rule.Daily}, Month: PeriodSpend{Limit: rule.Monthly}, Today: DayStats{Day: p.Day.Key}}
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

// History implements Ledger.
func (m *Memory) History(ctx context.Context, clientID string, fromDay, toDay string) ([]DayStats, error) {
	days, err := historyDays(clientID, fromDay, toDay)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: history: %w", ErrUnavailable, err)
	}
	out := make([]DayStats, len(days))
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	for i, key := range days {
		out[i] = DayStats{Day: key}
		if c == nil {
			continue
		}
		if d := c.days[key]; d != nil {
			out[i] = d.stats(key)
		}
	}
	return out, nil
}

// Close implements Ledger; Memory holds no external resources.
func (m *Memory) Close() error { return nil }

// maybeSweep drops expired data of every client at most once per sweepEvery of request
// time, so that clients who never come back do not keep memory forever.
func (m *Memory) maybeSweep(now int64) {
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
