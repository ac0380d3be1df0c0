// Package blockcache answers certain refusals locally, like envoyproxy/ratelimit's local
// over-limit cache: a client whose settled spend alone reached a limit, or who is in a
// loop cooldown, is refused again without a round trip to the store until the period or
// the cooldown ends, or at most Options.TTL (so a change made on another replica applies
// within it).
//
// Store decorates the store as the gateway and the admin API use it, so it sees what can
// end a refusal early on this replica itself: rule writes, a changed rules version (the
// poll of rules.Dynamic goes through it) and loop clears. Nobody else clears it.
package blockcache

import (
	"context"
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// Defaults of Options.
const (
	DefaultTTL        = time.Second
	DefaultMaxClients = 100_000
)

// Options configure New.
type Options struct {
	// TTL bounds how long a refusal is answered locally (default 1s; negative: never).
	TTL time.Duration
	// MaxClients bounds the clients remembered (default 100,000).
	MaxClients int
}

// Refusal is why a client is certain to be refused: a budget (Exceeded) or a loop or its
// cooldown (Loop, detected over Window, so the answer needs no rule lookup).
type Refusal struct {
	Exceeded *budget.Exceeded
	Loop     *loop.Verdict
	Window   time.Duration
}

// Store is a budget.Store whose request path goes through ledger (the outage wrapper)
// and whose certain refusals are answered locally. Everything else passes through to the
// store, the calls that can end a refusal (PutRule, DeleteRule, RulesVersion, ClearLoop)
// forgetting it on the way.
type Store struct {
	budget.Store
	ledger budget.Ledger
	ttl    time.Duration
	max    int

	mu      sync.Mutex
	entries map[string]entry
	// gen counts the forgets: a refusal decided while one happened is not remembered, as
	// it may predate what was forgotten.
	gen uint64

	verMu   sync.Mutex
	version int64
	seen    bool
}

// entry is a remembered refusal: the ledger's answer (for Reserve) and its reason (for
// Refused), until the refusal may end.
type entry struct {
	adm     budget.Admission
	refusal Refusal
	until   time.Time
}

var _ budget.Store = (*Store)(nil)

// New returns store with its request path through ledger (nil: the store's own) and
// certain refusals answered locally.
func New(store budget.Store, ledger budget.Ledger, opts Options) *Store {
	if ledger == nil {
		ledger = store
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	return &Store{Store: store, ledger: ledger, ttl: opts.TTL, max: opts.MaxClients, entries: make(map[string]entry)}
}

// Refused tells whether clientID is certain to be refused at now, without a round trip.
func (s *Store) Refused(clientID string, now time.Time) (Refusal, bool) {
	e, ok := s.get(clientID, now)
	if !ok {
		return Refusal{}, false
	}
	r := e.refusal
	if r.Exceeded != nil {
		ex := *r.Exceeded
		r.Exceeded = &ex
	}
	if r.Loop != nil {
		v := *r.Loop
		r.Loop = &v
	}
	return r, true
}

// Reserve implements budget.Ledger: a client certain to be refused gets the answer that
// refused it; otherwise the ledger decides, and a certain refusal is remembered.
func (s *Store) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error) {
	if e, ok := s.get(r.ClientID, r.Now); ok {
		return copyAdmission(e.adm), nil
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	a, err := s.ledger.Reserve(ctx, r)
	if err == nil && !a.Admitted {
		s.remember(r, a, gen)
	}
	return a, err
}

// remember keeps a certain refusal: a loop or its cooldown (until it ends), or a period
// whose settled spend alone reached the limit (until the period ends); never past the TTL.
func (s *Store) remember(r budget.ReserveRequest, a budget.Admission, gen uint64) {
	e := entry{adm: copyAdmission(a)}
	switch {
	case (a.Loop.Loop || a.Loop.Cooldown) && r.Loop != nil:
		v := a.Loop
		e.refusal, e.until = Refusal{Loop: &v, Window: r.Loop.Config.Window}, v.Until
	case a.Exceeded != nil && a.Exceeded.SettledOnly:
		e.refusal, e.until = Refusal{Exceeded: e.adm.Exceeded}, a.Exceeded.Period.End
	default:
		return
	}
	if s.ttl < 0 || e.until.IsZero() {
		return
	}
	if limit := r.Now.Add(s.ttl); limit.Before(e.until) {
		e.until = limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if len(s.entries) >= s.max {
		// A flood of distinct blocked clients: start over rather than grow; the ledger
		// still refuses them, only one round trip slower.
		clear(s.entries)
	}
	s.entries[r.ClientID] = e
}

func (s *Store) get(clientID string, now time.Time) (entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[clientID]
	if !ok {
		return entry{}, false
	}
	if !now.Before(e.until) {
		delete(s.entries, clientID)
		return entry{}, false
	}
	return e, true
}

// forget drops clientID's refusal, or every refusal when clientID is "".
func (s *Store) forget(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if clientID == "" {
		clear(s.entries)
		return
	}
	delete(s.entries, clientID)
}

// copyAdmission copies the Exceeded a caller may keep or change.
func copyAdmission(a budget.Admission) budget.Admission {
	if a.Exceeded != nil {
		ex := *a.Exceeded
		a.Exceeded = &ex
	}
	return a
}

// Settle implements budget.Ledger through the ledger.
func (s *Store) Settle(ctx context.Context, r budget.SettleRequest) (budget.SettleResult, error) {
	return s.ledger.Settle(ctx, r)
}

// Extend implements budget.Ledger through the ledger.
func (s *Store) Extend(ctx context.Context, leases []budget.Lease) error {
	return s.ledger.Extend(ctx, leases)
}

// Hold implements budget.Ledger through the ledger.
func (s *Store) Hold(ctx context.Context, h budget.HoldRequest) (bool, error) {
	return s.ledger.Hold(ctx, h)
}

// Contexts implements budget.Ledger through the ledger.
func (s *Store) Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error) {
	return s.ledger.Contexts(ctx, clientID, keys, now)
}

// Remember implements budget.Ledger through the ledger.
func (s *Store) Remember(ctx context.Context, clientID string, rs []budget.Remember, now time.Time) error {
	return s.ledger.Remember(ctx, clientID, rs, now)
}

// PutRule implements rules.Store: a written rule may end any refusal.
func (s *Store) PutRule(ctx context.Context, r rules.Rule) (bool, error) {
	created, err := s.Store.PutRule(ctx, r)
	if err == nil {
		s.forget("")
	}
	return created, err
}

// DeleteRule implements rules.Store: the rule that applies instead may end any refusal.
func (s *Store) DeleteRule(ctx context.Context, k rules.Key) (bool, error) {
	deleted, err := s.Store.DeleteRule(ctx, k)
	if err == nil && deleted {
		s.forget("")
	}
	return deleted, err
}

// RulesVersion implements rules.Store: a changed version (a rule written through another
// replica, seen by this replica's poll) may end any refusal.
func (s *Store) RulesVersion(ctx context.Context) (int64, error) {
	v, err := s.Store.RulesVersion(ctx)
	if err != nil {
		return v, err
	}
	s.verMu.Lock()
	changed := s.seen && v != s.version
	s.version, s.seen = v, true
	s.verMu.Unlock()
	if changed {
		s.forget("")
	}
	return v, nil
}

// ClearLoop implements budget.LoopStore: the client's very next request is decided by
// the store again.
func (s *Store) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	cleared, err := s.Store.ClearLoop(ctx, clientID)
	if err == nil {
		s.forget(clientID)
	}
	return cleared, err
}
