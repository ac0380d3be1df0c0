package resilient

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/proxide/proxide/budget"
)

// ErrCircuitOpen is returned (wrapped in budget.ErrUnavailable) for calls made while the
// breaker is open: the store failed recently and has not answered a probe since.
var ErrCircuitOpen = errors.New("ledger circuit open: the store failed and has not answered a probe since")

// Pinger is the optional part of the wrapped ledger that lets the breaker probe the store
// without a request paying for it (budget.Store has it).
type Pinger interface {
	Ping(ctx context.Context) error
}

// breaker keeps a dead or hung store from costing every request a full deadline: the
// first call that fails opens it, and while it is open the request path answers at once
// (Reserve by the failure mode, Settle into the replay buffer) instead of waiting on the
// store. The replay loop probes the store at once when the breaker opens (a store that
// was only slow for a moment closes it again within a ping; at most once per RetryEvery)
// and then every RetryEvery
// (Ping, bounded by ProbeTimeout), and closes the breaker when it answers. Without a Pinger one real call is
// let through per RetryEvery instead (half-open).
type breaker struct {
	open        atomic.Bool
	openedAt    atomic.Int64 // unix nanoseconds of the last trip or failed probe
	recoveredAt atomic.Int64 // unix nanoseconds of the last close
	probing     atomic.Bool  // a half-open call is in flight (no Pinger)
	trips       atomic.Int64
}

// allow reports whether a call may go to the store now.
func (r *Ledger) allow() bool {
	if !r.brk.open.Load() {
		return true
	}
	if r.pinger != nil {
		return false // the replay loop probes
	}
	// Half-open: one call per RetryEvery tries the store.
	if r.now().UnixNano()-r.brk.openedAt.Load() < int64(r.every) {
		return false
	}
	return r.brk.probing.CompareAndSwap(false, true)
}

// trip opens the breaker after a store failure. A caller that gave up (context.Canceled:
// Envoy closed the stream) says nothing about the store and trips nothing.
func (r *Ledger) trip(op string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, budget.ErrInvalid) {
		return
	}
	r.brk.openedAt.Store(r.now().UnixNano())
	r.brk.probing.Store(false)
	if r.brk.open.CompareAndSwap(false, true) {
		r.brk.trips.Add(1)
		r.log.Warn("budget: ledger unavailable; circuit open, answering without it until a probe succeeds",
			"op", op, "mode", string(r.mode), "error", err)
		// The probe at once is for a store that was slow for a moment. One
		// that closed the breaker less than RetryEvery ago and failed again
		// (it answers PING but refuses writes: out of memory, a read-only
		// replica; or it flaps) waits for the tick, or replay and probe
		// would follow each other without pause.
		if r.pinger != nil && r.now().UnixNano()-r.brk.recoveredAt.Load() >= int64(r.every) {
			select {
			case r.probeNow <- struct{}{}:
			default: // a probe is already asked for
			}
		}
	}
}

// recovered closes the breaker once the store answered.
func (r *Ledger) recovered() {
	r.brk.probing.Store(false)
	if r.brk.open.CompareAndSwap(true, false) {
		r.brk.recoveredAt.Store(r.now().UnixNano())
		r.log.Info("budget: ledger available again; circuit closed", "buffered", r.Buffered())
	}
}

// circuitOpen is the error of a call refused by the open breaker.
func circuitOpen(op string) error {
	return fmt.Errorf("%w: %s: %w", budget.ErrUnavailable, op, ErrCircuitOpen)
}

// probe pings the store while the breaker is open (from the replay loop).
func (r *Ledger) probe() {
	if !r.brk.open.Load() || r.pinger == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.probeTimeout)
	defer cancel()
	if err := r.pinger.Ping(ctx); err != nil {
		r.brk.openedAt.Store(r.now().UnixNano())
		return
	}
	r.recovered()
}

// Open reports whether the breaker is open (the store is considered down).
func (r *Ledger) Open() bool { return r.brk.open.Load() }

// Trips counts how often the breaker opened since New.
func (r *Ledger) Trips() int64 { return r.brk.trips.Load() }

// Ready is the readiness of the request path. With FailClosed it fails while the breaker
// is open (the replica could only answer 503) or, when the breaker is closed, when the
// store does not answer a ping within ProbeTimeout (that opens the breaker too). With
// FailOpen it never fails: the replica keeps admitting, and taking every replica out of
// its Service at once would turn "admit without a budget check" into "no service" —
// the outage shows in the logs and in proxide_ledger_circuit_open instead.
func (r *Ledger) Ready(ctx context.Context) error {
	if r.mode == FailOpen {
		return nil
	}
	if r.brk.open.Load() {
		return circuitOpen("ready")
	}
	if r.pinger == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.probeTimeout)
	defer cancel()
	if err := r.pinger.Ping(ctx); err != nil {
		r.trip("ping", err)
		return err
	}
	return nil
}

// defaultProbeTimeout bounds one probe when Options.ProbeTimeout is unset.
const defaultProbeTimeout = 500 * time.Millisecond
