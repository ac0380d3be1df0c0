package alerts

import (
	"context"
	"sync"
	"time"
)

// LocalDeduper claims keys in this process only: enough with the memory
// ledger, which serves a single replica anyway.
type LocalDeduper struct {
	now func() time.Time

	mu     sync.Mutex
	claims map[string]time.Time // key → expiry
	sweep  time.Time
}

// NewLocalDeduper returns an empty LocalDeduper on the clock now (time.Now when nil).
func NewLocalDeduper(now func() time.Time) *LocalDeduper {
	if now == nil {
		now = time.Now
	}
	return &LocalDeduper{now: now, claims: make(map[string]time.Time)}
}

// Claim implements Deduper.
func (l *LocalDeduper) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.sweep) { // forget expired claims now and then, not on every call
		for k, exp := range l.claims {
			if !now.Before(exp) {
				delete(l.claims, k)
			}
		}
		l.sweep = now.Add(time.Minute)
	}
	if exp, ok := l.claims[key]; ok && now.Before(exp) {
		return false, nil
	}
	l.claims[key] = now.Add(ttl)
	return true, nil
}
