package redis

import (
	"context"
	"fmt"
	"time"
)

// Claim takes key once across every replica on this Redis: true for the
// first caller while the claim lives (ttl), false for the rest. Alert
// webhooks claim the events that only one replica may send.
func (r *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := r.c.SetNX(ctx, r.prefix+":claim:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("budget/redis: claim: %w", err)
	}
	return ok, nil
}
