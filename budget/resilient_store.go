package budget

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	_ RuleStore   = (*Resilient)(nil)
	_ ClientIndex = (*Resilient)(nil)
	_ LoopStore   = (*Resilient)(nil)
)

// ruleStore returns the inner RuleStore, or an error wrapping ErrUnavailable and
// errors.ErrUnsupported when the inner ledger keeps no rules.
func (r *Resilient) ruleStore() (RuleStore, error) {
	if s, ok := r.inner.(RuleStore); ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: %T stores no rules: %w", ErrUnavailable, r.inner, errors.ErrUnsupported)
}

func (r *Resilient) clientIndex() (ClientIndex, error) {
	if s, ok := r.inner.(ClientIndex); ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: %T keeps no client index: %w", ErrUnavailable, r.inner, errors.ErrUnsupported)
}

func (r *Resilient) loopStore() (LoopStore, error) {
	if s, ok := r.inner.(LoopStore); ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: %T keeps no loop state: %w", ErrUnavailable, r.inner, errors.ErrUnsupported)
}

// PutRule implements RuleStore by passing through. Rule writes are never buffered: during
// an outage they fail with ErrUnavailable, so an operator knows the rule did not apply.
func (r *Resilient) PutRule(ctx context.Context, rule Rule) (bool, error) {
	s, err := r.ruleStore()
	if err != nil {
		return false, err
	}
	return s.PutRule(ctx, rule)
}

// GetRule implements RuleStore by passing through.
func (r *Resilient) GetRule(ctx context.Context, k RuleKey) (Rule, bool, error) {
	s, err := r.ruleStore()
	if err != nil {
		return Rule{}, false, err
	}
	return s.GetRule(ctx, k)
}

// DeleteRule implements RuleStore by passing through (never buffered, like PutRule).
func (r *Resilient) DeleteRule(ctx context.Context, k RuleKey) (bool, error) {
	s, err := r.ruleStore()
	if err != nil {
		return false, err
	}
	return s.DeleteRule(ctx, k)
}

// ListRules implements RuleStore by passing through.
func (r *Resilient) ListRules(ctx context.Context) ([]Rule, error) {
	s, err := r.ruleStore()
	if err != nil {
		return nil, err
	}
	return s.ListRules(ctx)
}

// RulesVersion implements RuleStore by passing through.
func (r *Resilient) RulesVersion(ctx context.Context) (int64, error) {
	s, err := r.ruleStore()
	if err != nil {
		return 0, err
	}
	return s.RulesVersion(ctx)
}

// ListClients implements ClientIndex by passing through.
func (r *Resilient) ListClients(ctx context.Context, q ClientQuery) (ClientPage, error) {
	s, err := r.clientIndex()
	if err != nil {
		return ClientPage{}, err
	}
	return s.ListClients(ctx, q)
}

// GlobalHistory implements ClientIndex by passing through.
func (r *Resilient) GlobalHistory(ctx context.Context, fromDay, toDay string) ([]DayStats, error) {
	s, err := r.clientIndex()
	if err != nil {
		return nil, err
	}
	return s.GlobalHistory(ctx, fromDay, toDay)
}

// FlushIndex writes the inner ledger's pending index updates, if it batches them.
func (r *Resilient) FlushIndex(ctx context.Context) error {
	if f, ok := r.inner.(interface{ FlushIndex(context.Context) error }); ok {
		return f.FlushIndex(ctx)
	}
	return nil
}

// LoopEvents implements LoopStore by passing through.
func (r *Resilient) LoopEvents(ctx context.Context, q LoopQuery) (LoopPage, error) {
	s, err := r.loopStore()
	if err != nil {
		return LoopPage{}, err
	}
	return s.LoopEvents(ctx, q)
}

// LoopState implements LoopStore by passing through.
func (r *Resilient) LoopState(ctx context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	s, err := r.loopStore()
	if err != nil {
		return time.Time{}, false, err
	}
	return s.LoopState(ctx, clientID, now)
}

// ClearLoop implements LoopStore by passing through (never buffered: during an outage it
// fails with ErrUnavailable, so the operator knows the cooldown still runs).
func (r *Resilient) ClearLoop(ctx context.Context, clientID string) (bool, error) {
	s, err := r.loopStore()
	if err != nil {
		return false, err
	}
	return s.ClearLoop(ctx, clientID)
}
