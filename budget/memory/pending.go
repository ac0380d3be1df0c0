package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/proxide/proxide/budget"
)

// Extend implements budget.Ledger.
func (m *Store) Extend(ctx context.Context, leases []budget.Lease) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: extend: %w", budget.ErrUnavailable, err)
	}
	if err := budget.ValidateLeases(leases); err != nil {
		return err
	}
	for _, l := range leases {
		sh, c := m.lock(l.ClientID, false)
		if c != nil {
			if r, ok := c.res[l.ID]; ok && !r.pending {
				r.expiry = l.Expiry.UnixMilli()
				c.res[l.ID] = r
				c.minExp = min(c.minExp, r.expiry)
			}
		}
		sh.mu.Unlock()
	}
	return nil
}

// Hold implements budget.Ledger.
func (m *Store) Hold(ctx context.Context, h budget.HoldRequest) (bool, error) {
	if err := h.Validate(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("%w: hold: %w", budget.ErrUnavailable, err)
	}
	now := h.Now.UnixMilli()
	sh, c := m.lock(h.ClientID, true)
	defer sh.mu.Unlock()
	m.expire(sh, c, now)
	old, hadOld := c.res[h.ID]
	c.release(h.ID)
	if _, settled := c.done[h.NewID]; settled {
		return false, nil
	}
	if _, held := c.res[h.NewID]; held {
		return false, nil
	}
	r := memRes{amount: h.EstimateNano, day: h.Periods.Day.Key, month: h.Periods.Month.Key,
		expiry: h.Expiry.UnixMilli(), pending: true, model: h.Model, periods: h.Periods, clientID: h.ClientID}
	if hadOld {
		// Charged, if ever, where it was reserved (also across midnight).
		r.amount, r.day, r.month, r.periods = old.amount, old.day, old.month, old.periods
	}
	c.reserve(h.NewID, r)
	return true, nil
}

// Remember implements budget.Ledger.
func (m *Store) Remember(ctx context.Context, clientID string, rs []budget.Remember, now time.Time) error {
	if err := budget.ValidateRemember(clientID, rs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: remember: %w", budget.ErrUnavailable, err)
	}
	sh, c := m.lock(clientID, true)
	defer sh.mu.Unlock()
	for _, rm := range rs {
		c.remember(rm, now.UnixMilli())
	}
	return nil
}

// Contexts implements budget.Ledger.
func (m *Store) Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error) {
	if err := budget.ValidateClient("contexts", clientID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: contexts: %w", budget.ErrUnavailable, err)
	}
	out := make([]int64, len(keys))
	sh, c := m.lock(clientID, false)
	defer sh.mu.Unlock()
	if c == nil {
		return out, nil
	}
	for i, k := range keys {
		out[i] = c.context(k, now.UnixMilli())
	}
	return out, nil
}
