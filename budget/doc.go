// Package budget holds Proxide's budget rules, calendar periods and the Ledger that keeps
// per-client spend: an embedded in-memory ledger (Memory) and a shared one on Redis or
// Redis Cluster (Redis), with the same semantics checked by one contract suite
// (budget/ledgertest). Resilient wraps either to survive a store outage.
//
// Both also keep the runtime rules of the admin API (RuleStore), which DynamicRules
// overlays on the config file's rules for every replica, and a per-period index of clients
// by spend plus global per-day totals (ClientIndex) for analytics.
//
// Reserve also runs loop detection (package loop) when the request carries a LoopCheck:
// the client's window observes the request first, in the same step (the same Lua script
// on Redis), a new loop is recorded as a LoopEvent, and with action block a loop or its
// cooldown refuses the request without reserving anything. LoopStore lists the events and
// clears cooldowns; LoopSettings are a rule's overrides of the global LoopDefaults.
//
// Money is int64 nano-USD (1e-9 USD) everywhere inside the ledger; alert thresholds are
// compared with integer math. A request is admitted when spent + reserved < limit for
// every set limit of its rule, then its estimate is reserved; Settle replaces the
// reservation with the actual cost. Both are one atomic step (one Lua script on Redis),
// so concurrent requests cannot all slip past a nearly spent budget: the overshoot is
// bounded by one request's cost plus estimation error.
//
// Time always comes from the request (Now, Periods), never from the store, so periods,
// TTLs and retention are testable with a fake clock. The Redis key layout is described in
// README.md next to this file.
package budget
