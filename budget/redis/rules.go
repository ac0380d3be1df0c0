package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// rulesKey and rulesVerKey share the {rules} hash tag, so the scripts that write both
// stay in one Redis Cluster slot. ("rules" is 5 characters, never a valid base64url
// client tag, so no client's keys can share these names.)
func (r *Store) rulesKey() string    { return r.prefix + ":{rules}" }
func (r *Store) rulesVerKey() string { return r.prefix + ":{rules}:ver" }

// versionSeed starts a missing version; see lua/rules.lua. Unix nanoseconds: a restarted
// store would return to a version a replica saw only after a billion writes per second.
// Only uniqueness matters, so the wall clock is fine here (periods never depend on it).
func versionSeed() string { return itoa(time.Now().UnixNano()) }

// PutRule implements rules.Store in one round trip (lua/rule_put.lua).
func (r *Store) PutRule(ctx context.Context, rule rules.Rule) (bool, error) {
	if err := rule.Validate(); err != nil {
		return false, fmt.Errorf("%w: put rule: %w", budget.ErrInvalid, err)
	}
	v, err := rules.Encode(rule)
	if err != nil {
		return false, fmt.Errorf("%w: put rule: %w", budget.ErrInvalid, err)
	}
	args := newArgv(rulePutArgSeed, 0)
	args.set(rulePutArgKey, rule.Key().String())
	args.set(rulePutArgValue, v)
	args.set(rulePutArgMax, strconv.Itoa(r.maxRules))
	args.set(rulePutArgSeed, versionSeed())
	n, err := r.scripts.rulePut.Run(ctx, r.c, []string{r.rulesKey(), r.rulesVerKey()}, args...).Int64()
	if err != nil {
		return false, unavailable("put rule", err)
	}
	switch n {
	case rulePutReplaced, rulePutCreated:
		return n == rulePutCreated, nil
	case rulePutFull:
		return false, fmt.Errorf("%w: put rule: the store holds the maximum of %d rules", budget.ErrInvalid, r.maxRules)
	}
	return false, unavailable("put rule", fmt.Errorf("unexpected reply %d", n))
}

// GetRule implements rules.Store. A stored entry that does not decode to a valid rule of
// k is reported as budget.ErrUnavailable (the store is damaged, the request is fine).
func (r *Store) GetRule(ctx context.Context, k rules.Key) (rules.Rule, bool, error) {
	if err := k.Validate(); err != nil {
		return rules.Rule{}, false, fmt.Errorf("%w: get rule: rule key: %w", budget.ErrInvalid, err)
	}
	v, err := r.c.HGet(ctx, r.rulesKey(), k.String()).Result()
	if errors.Is(err, goredis.Nil) {
		return rules.Rule{}, false, nil
	}
	if err != nil {
		return rules.Rule{}, false, unavailable("get rule", err)
	}
	rule, err := rules.Decode(k.String(), v)
	if err != nil {
		return rules.Rule{}, false, unavailable("get rule", err)
	}
	return rule, true, nil
}

// DeleteRule implements rules.Store in one round trip (lua/rule_del.lua).
func (r *Store) DeleteRule(ctx context.Context, k rules.Key) (bool, error) {
	if err := k.Validate(); err != nil {
		return false, fmt.Errorf("%w: delete rule: rule key: %w", budget.ErrInvalid, err)
	}
	args := newArgv(ruleDelArgSeed, 0)
	args.set(ruleDelArgKey, k.String())
	args.set(ruleDelArgSeed, versionSeed())
	n, err := r.scripts.ruleDel.Run(ctx, r.c, []string{r.rulesKey(), r.rulesVerKey()}, args...).Int64()
	if err != nil {
		return false, unavailable("delete rule", err)
	}
	return n == ruleDelDeleted, nil
}

// ListRules implements rules.Store with one HGETALL. Entries that do not decode to a valid
// rule of their own key (hand-edited, corrupt) are logged and skipped, so one bad entry
// cannot take every other rule down with it.
func (r *Store) ListRules(ctx context.Context) ([]rules.Rule, error) {
	h, err := r.c.HGetAll(ctx, r.rulesKey()).Result()
	if err != nil {
		return nil, unavailable("list rules", err)
	}
	out := make([]rules.Rule, 0, len(h))
	for k, v := range h {
		rule, err := rules.Decode(k, v)
		if err != nil {
			r.log.Error("budget/redis: skipping a stored rule", "key", truncate(k, 300), "error", err)
			continue
		}
		out = append(out, rule)
	}
	rules.Sort(out)
	return out, nil
}

// RulesVersion implements rules.Store with one GET (0 before the first write).
func (r *Store) RulesVersion(ctx context.Context) (int64, error) {
	n, err := r.c.Get(ctx, r.rulesVerKey()).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("rules version", err)
	}
	return n, nil
}
