package alerts

import (
	"sync"
	"time"
)

// localClaims remembers the dedup keys this process has queued, so a flood
// of refused requests costs a map lookup each rather than a ledger claim; with
// the memory ledger (a single replica) it is the only claim.
type localClaims struct {
	now func() time.Time

	mu     sync.Mutex
	claims map[string]time.Time // key → expiry
	sweep  time.Time
}

func newLocalClaims(now func() time.Time) *localClaims {
	return &localClaims{now: now, claims: make(map[string]time.Time)}
}

// claim reports whether key was not claimed (or its claim expired), and
// claims it for ttl.
func (l *localClaims) claim(key string, ttl time.Duration) bool {
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
		return false
	}
	l.claims[key] = now.Add(ttl)
	return true
}
