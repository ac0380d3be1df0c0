package memory

import (
	"context"
	"fmt"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// PutRule implements rules.Store.
func (m *Store) PutRule(ctx context.Context, r rules.Rule) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, fmt.Errorf("%w: put rule: %w", budget.ErrInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: put rule: %w", budget.ErrUnavailable, err)
	}
	k := r.Key()
	m.storedMu.Lock()
	defer m.storedMu.Unlock()
	_, exists := m.stored[k]
	if !exists && len(m.stored) >= m.maxRules {
		return false, fmt.Errorf("%w: put rule: the store holds the maximum of %d rules", budget.ErrInvalid, m.maxRules)
	}
	m.stored[k] = r.Clone()
	m.storedVer++
	return !exists, nil
}

// GetRule implements rules.Store.
func (m *Store) GetRule(ctx context.Context, k rules.Key) (rules.Rule, bool, error) {
	if err := k.Validate(); err != nil {
		return rules.Rule{}, false, fmt.Errorf("%w: get rule: rule key: %w", budget.ErrInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		return rules.Rule{}, false, fmt.Errorf("%w: get rule: %w", budget.ErrUnavailable, err)
	}
	m.storedMu.RLock()
	defer m.storedMu.RUnlock()
	r, ok := m.stored[k]
	return r.Clone(), ok, nil
}

// DeleteRule implements rules.Store.
func (m *Store) DeleteRule(ctx context.Context, k rules.Key) (bool, error) {
	if err := k.Validate(); err != nil {
		return false, fmt.Errorf("%w: delete rule: rule key: %w", budget.ErrInvalid, err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: delete rule: %w", budget.ErrUnavailable, err)
	}
	m.storedMu.Lock()
	defer m.storedMu.Unlock()
	if _, ok := m.stored[k]; !ok {
		return false, nil
	}
	delete(m.stored, k)
	m.storedVer++
	return true, nil
}

// ListRules implements rules.Store.
func (m *Store) ListRules(ctx context.Context) ([]rules.Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: list rules: %w", budget.ErrUnavailable, err)
	}
	m.storedMu.RLock()
	out := make([]rules.Rule, 0, len(m.stored))
	for _, r := range m.stored {
		out = append(out, r.Clone())
	}
	m.storedMu.RUnlock()
	rules.Sort(out)
	return out, nil
}

// RulesVersion implements rules.Store.
func (m *Store) RulesVersion(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: rules version: %w", budget.ErrUnavailable, err)
	}
	m.storedMu.RLock()
	defer m.storedMu.RUnlock()
	return m.storedVer, nil
}
