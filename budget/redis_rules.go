package budget

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ RuleStore = (*Redis)(nil)

// rulesKey and rulesVerKey share the {rules} hash tag, so the scripts that write both
// stay in one Redis Cluster slot. ("rules" is 5 characters, never a valid base64url
// client tag, so no client's keys can share these names.)
func (r *Redis) rulesKey() string    { return r.prefix + ":{rules}" }
func (r *Redis) rulesVerKey() string { return r.prefix + ":{rules}:ver" }

// versionSeed starts a missing version; see lua/rules.lua. Unix nanoseconds: a restarted
// store would return to a version a replica saw only after a billion writes per second.
// Only uniqueness matters, so the wall clock is fine here (periods never depend on it).
func versionSeed() string { return itoa(time.Now().UnixNano()) }

// PutRule implements RuleStore in one round trip (lua/rule_put.lua).
func (r *Redis) PutRule(ctx context.Context, rule Rule) (bool, error) {
	if err := validateStoredRule(rule); err != nil {
		return false, err
	}
	k := rule.Key()
	v, err := encodeRule(rule)
	if err != nil {
		return false, err
	}
	n, err := r.rulePut.Run(ctx, r.c, []string{r.rulesKey(), r.rulesVerKey()},
		k.String(), v, strconv.Itoa(r.maxRules), versionSeed()).Int64()
	if err != nil {
		return false, unavailable("put rule", err)
	}
	switch n {
	case 0, 1:
		return n == 1, nil
	case -1:
		return false, fmt.Errorf("%w: put rule: the store holds the maximum of %d rules", ErrInvalid, r.maxRules)
	}
	return false, unavailable("put rule", fmt.Errorf("unexpected reply %d", n))
}

// GetRule implements RuleStore. A stored entry that does not decode to a valid rule of
// k is reported as ErrUnavailable (the store is damaged, the request is fine).
func (r *Redis) GetRule(ctx context.Context, k RuleKey) (Rule, bool, error) {
	if err := k.validate(); err != nil {
		return Rule{}, false, err
	}
	v, err := r.c.HGet(ctx, r.rulesKey(), k.String()).Result()
	if errors.Is(err, redis.Nil) {
		return Rule{}, false, nil
	}
	if err != nil {
		return Rule{}, false, unavailable("get rule", err)
	}
	rule, err := decodeRule(k.String(), v)
	if err != nil {
		return Rule{}, false, unavailable("get rule", err)
	}
	return rule, true, nil
}

// DeleteRule implements RuleStore in one round trip (lua/rule_del.lua).
func (r *Redis) DeleteRule(ctx context.Context, k RuleKey) (bool, error) {
	if err := k.validate(); err != nil {
		return false, err
	}
	n, err := r.ruleDel.Run(ctx, r.c, []string{r.rulesKey(), r.rulesVerKey()}, k.String(), versionSeed()).Int64()
	if err != nil {
		return false, unavailable("delete rule", err)
	}
	return n == 1, nil
}

// ListRules implements RuleStore with one HGETALL. Entries that do not decode to a valid
// rule of their own key (hand-edited, corrupt) are logged and skipped, so one bad entry
// cannot take every other rule down with it.
func (r *Redis) ListRules(ctx context.Context) ([]Rule, error) {
	h, err := r.c.HGetAll(ctx, r.rulesKey()).Result()
	if err != nil {
		return nil, unavailable("list rules", err)
	}
	out := make([]Rule, 0, len(h))
	for k, v := range h {
		rule, err := decodeRule(k, v)
		if err != nil {
			r.log.Error("budget: skipping a stored rule", "key", truncate(k, 300), "error", err)
			continue
		}
		out = append(out, rule)
	}
	sortRules(out)
	return out, nil
}

// RulesVersion implements RuleStore with one GET (0 before the first write).
func (r *Redis) RulesVersion(ctx context.Context) (int64, error) {
	n, err := r.c.Get(ctx, r.rulesVerKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("rules version", err)
	}
	return n, nil
}
