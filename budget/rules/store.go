package rules

import "context"

// MaxStored caps the rules a Store holds; PutRule of a new key beyond it fails. Every
// replica keeps the whole set in memory, so it must stay bounded.
const MaxStored = 100_000

// Store keeps the runtime rules that the admin API writes and every replica reads. The
// ledger backends implement it (budget/memory, budget/redis) and pass one contract suite
// (budget/ledgertest.RunRuleStore). Rule writes are never buffered: with the store down
// they fail, so an operator knows the change did not apply.
type Store interface {
	// PutRule upserts r by r.Key(), after validating it (nothing stored when invalid), and
	// bumps the version. created is true when no rule had that key.
	PutRule(ctx context.Context, r Rule) (created bool, err error)
	// GetRule returns the rule stored under k.
	GetRule(ctx context.Context, k Key) (Rule, bool, error)
	// DeleteRule removes the rule under k and bumps the version when there was one.
	DeleteRule(ctx context.Context, k Key) (bool, error)
	// ListRules returns every stored rule, ordered by Compare.
	ListRules(ctx context.Context) ([]Rule, error)
	// RulesVersion changes on every write; it is cheap (one GET on Redis) for polling.
	RulesVersion(ctx context.Context) (int64, error)
}
