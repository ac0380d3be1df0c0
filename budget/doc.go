// Package budget is the core of Proxide's spend accounting: calendar periods, money in
// nano-USD, the requests and answers of the store, and the pure admission decisions.
//
// The store is split by concern into packages below this one:
//
//	budget/rules       what a rule is, which one applies to a client, the rules of the
//	                   config file overlaid with the admin API's (Dynamic)
//	budget/memory      the embedded single-replica store
//	budget/redis       the shared store on Redis or Redis Cluster, one Lua script a call
//	budget/ledgertest  the one contract suite both stores pass
//	budget/resilient   the request path through a store outage (buffer and replay)
//	budget/blockcache  certain refusals answered locally, forgotten on rule writes,
//	                   rules-version changes and loop clears
//
// Ledger is the request path (Reserve, Settle, leases, held charges, remembered
// contexts); Store is everything one backend keeps: the request path, each client's
// spend and history, the client index (ClientIndex), loop events and cooldowns
// (LoopStore) and the rules written through the admin API (rules.Store).
//
// Money is int64 nano-USD (1e-9 USD) everywhere inside the store; alert thresholds are
// compared with integer math. A request is admitted when spent + reserved < limit for
// every set limit of its rule (Admits; strict rules: while the estimate Fits), then its
// estimate is reserved; Settle replaces the reservation with the actual cost. Both are one
// atomic step (one Lua script on Redis), so concurrent requests cannot all slip past a
// nearly spent budget: the overshoot is bounded by one request's cost plus estimation
// error. PeriodSpend.Exhausted, Fits and AlertReached are the same decisions for anyone
// who shows a client's state.
//
// Reserve also runs loop detection (package loop) when the request carries a LoopCheck:
// the client's window observes the request first, in the same step, a new loop is
// recorded as a LoopEvent, and with action block a loop or its cooldown refuses the
// request without reserving anything.
//
// Time always comes from the request (Now, Periods), never from the store, so periods,
// TTLs and retention are testable with a fake clock. README.md next to this file describes
// the semantics and the Redis key layout.
package budget
