// Package alerts pushes budget and loop events to operators' webhooks: a
// client crossing an alert threshold, refused for its budget, caught in a
// loop, or using a paid endpoint that is allowed unmetered.
//
// Delivery never runs on the request path. Notify only enqueues into a
// bounded queue (a full queue drops the event and counts it); a few workers
// POST each event to every configured URL, signed with HMAC-SHA256 over a
// timestamp and the body (Sign, Verify), and retry failures with exponential
// backoff. Each event is sent at most once across replicas: threshold
// crossings are already reported once per threshold and period by the
// ledger's settlement; the other events are claimed in the ledger (Deduper)
// under a key naming the client and the period (or the loop's cooldown)
// before they are queued.
package alerts
