package budget

import (
	"context"
	"fmt"
)

var _ RuleStore = (*Memory)(nil)

// PutRule implements RuleStore.
func (m *Memory) PutRule(ctx context.Context, r Rule) (bool, error) {
	if err := validateStoredRule(r); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: put rule: %w", ErrUnavailable, err)
	}
	k := r.Key()
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	_, exists := m.rules[k]
	if !exists && len(m.rules) >= m.maxRules {
		return false, fmt.Errorf("%w: put rule: the store holds the maximum of %d rules", ErrInvalid, m.maxRules)
	}
	m.rules[k] = cloneRule(r)
	m.rulesVer++
	return !exists, nil
}

// GetRule implements RuleStore.
func (m *Memory) GetRule(ctx context.Context, k RuleKey) (Rule, bool, error) {
	if err := k.validate(); err != nil {
		return Rule{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return Rule{}, false, fmt.Errorf("%w: get rule: %w", ErrUnavailable, err)
	}
	m.rulesMu.RLock()
	defer m.rulesMu.RUnlock()
	r, ok := m.rules[k]
	return cloneRule(r), ok, nil
}

// DeleteRule implements RuleStore.
func (m *Memory) DeleteRule(ctx context.Context, k RuleKey) (bool, error) {
	if err := k.validate(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: delete rule: %w", ErrUnavailable, err)
	}
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	if _, ok := m.rules[k]; !ok {
		return false, nil
	}
	delete(m.rules, k)
	m.rulesVer++
	return true, nil
}

// ListRules implements RuleStore.
func (m *Memory) ListRules(ctx context.Context) ([]Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: list rules: %w", ErrUnavailable, err)
	}
	m.rulesMu.RLock()
	out := make([]Rule, 0, len(m.rules))
	for _, r := range m.rules {
		out = append(out, cloneRule(r))
	}
	m.rulesMu.RUnlock()
	sortRules(out)
	return out, nil
}

// RulesVersion implements RuleStore.
func (m *Memory) RulesVersion(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: rules version: %w", ErrUnavailable, err)
	}
	m.rulesMu.RLock()
	defer m.rulesMu.RUnlock()
	return m.rulesVer, nil
}
