// Package admintest has hand-written fakes of the storage the admin API
// consumes (rule store, rule set, ledger, client index, loops), for the tests
// of package admin and of the CLI in admin/client. It imports only budget and
// budget/rules, so package admin's own tests can use it.
package admintest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// RuleStore is an in-memory rule store that records every write.
type RuleStore struct {
	mu     sync.Mutex
	stored map[rules.Key]rules.Rule
	// Writes lists the successful writes in order: "put <key>" or "delete <key>".
	writes []string
	// Err, when set, fails every call.
	Err error
}

// NewRuleStore returns an empty store.
func NewRuleStore() *RuleStore { return &RuleStore{stored: map[rules.Key]rules.Rule{}} }

// Writes returns the successful writes so far.
func (s *RuleStore) Writes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// PutRule stores r by its key.
func (s *RuleStore) PutRule(_ context.Context, r rules.Rule) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return false, s.Err
	}
	if err := r.Validate(); err != nil {
		return false, fmt.Errorf("%w: %w", budget.ErrInvalid, err)
	}
	_, existed := s.stored[r.Key()]
	s.stored[r.Key()] = r
	s.writes = append(s.writes, "put "+r.Key().String())
	return !existed, nil
}

// GetRule returns the rule under k.
func (s *RuleStore) GetRule(_ context.Context, k rules.Key) (rules.Rule, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return rules.Rule{}, false, s.Err
	}
	r, ok := s.stored[k]
	return r, ok, nil
}

// DeleteRule removes the rule under k.
func (s *RuleStore) DeleteRule(_ context.Context, k rules.Key) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return false, s.Err
	}
	if _, ok := s.stored[k]; !ok {
		return false, nil
	}
	delete(s.stored, k)
	s.writes = append(s.writes, "delete "+k.String())
	return true, nil
}

// ListRules returns the stored rules by key.
func (s *RuleStore) ListRules(context.Context) ([]rules.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	out := make([]rules.Rule, 0, len(s.stored))
	for _, r := range s.stored {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b rules.Rule) int { return strings.Compare(a.Key().String(), b.Key().String()) })
	return out, nil
}

// Rules merges file rules with the store's rules (the store wins) like
// rules.Dynamic, but only when Refresh is called.
type Rules struct {
	store *RuleStore
	file  map[rules.Key]rules.Rule

	mu        sync.Mutex
	api       map[rules.Key]rules.Rule
	effective []rules.Rule
	resolver  *rules.Set
	refreshes int
	// RefreshErr, when set, fails Refresh (the old rules stay).
	RefreshErr error
}

// NewRules returns the rule set of file rules (a rule without client id and
// match is the default) over store, already refreshed once.
func NewRules(store *RuleStore, file ...rules.Rule) (*Rules, error) {
	r := &Rules{store: store, file: map[rules.Key]rules.Rule{}}
	for _, f := range file {
		r.file[f.Key()] = f
	}
	if err := r.Refresh(context.Background()); err != nil {
		return nil, err
	}
	r.refreshes = 0
	return r, nil
}

// Refreshes counts the calls of Refresh.
func (r *Rules) Refreshes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshes
}

// Refresh rebuilds the merged rules from the store.
func (r *Rules) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshes++
	if r.RefreshErr != nil {
		return r.RefreshErr
	}
	stored, err := r.store.ListRules(ctx)
	if err != nil {
		return err
	}
	api := map[rules.Key]rules.Rule{}
	merged := map[rules.Key]rules.Rule{}
	for k, f := range r.file {
		merged[k] = f
	}
	for _, s := range stored {
		api[s.Key()] = s
		merged[s.Key()] = s
	}
	var def rules.Rule
	others := []rules.Rule{}
	effective := []rules.Rule{}
	for k, m := range merged {
		effective = append(effective, m)
		if k.Default {
			def = m
			continue
		}
		others = append(others, m)
	}
	res, err := rules.NewSet(def, others)
	if err != nil {
		return err
	}
	r.api, r.effective, r.resolver = api, effective, res
	return nil
}

// Resolve returns the rule of a client: exact > longest prefix > default.
func (r *Rules) Resolve(clientID string) rules.Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolver.Resolve(clientID)
}

// Effective lists the merged rules, in no particular order.
func (r *Rules) Effective() []rules.Rule {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.effective)
}

// Source is "api", "file" or "".
func (r *Rules) Source(k rules.Key) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.api[k]; ok {
		return rules.SourceAPI
	}
	if _, ok := r.file[k]; ok {
		return rules.SourceFile
	}
	return ""
}
