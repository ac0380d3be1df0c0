// Package rules is what a budget rule is and which one applies to a client.
//
// A Rule holds a client's limits (nano-USD per calendar day and month), what an exhausted
// budget does (action block or alert), how admission checks an estimate (soft or strict),
// the alert thresholds, the rule's loop-detection overrides and its policy for paid
// endpoints Proxide cannot meter. A rule is addressed by its Key: an exact client id, a
// prefix pattern ("user-*") or the default rule; Set resolves a client id to its rule:
// exact id > longest matching prefix > default.
//
// People write rules as a Spec: the config file (YAML) and the admin API (JSON) use the
// same keys, and Spec.Rule is the one conversion from dollars to nano-dollars and the one
// validation. Problems are *FieldError values naming the field ("daily_limit_usd",
// "loop_detection.window"), which errors.As finds.
//
// Rules written through the admin API live in a Store (the ledger backends implement it)
// in the JSON form of codec.go; Dynamic overlays them on the config file's rules and
// polls the store's version, so every replica applies a change within a second.
package rules
