// Package resilient keeps the request path of a store working through an outage: a
// failed settlement is buffered and replayed, a failed admission is refused (failure_mode
// closed) or admitted blindly (open). It wraps the request path only (budget.Ledger): the
// admin API's reads and rule writes go to the store directly and fail while it is down,
// so an operator knows a change did not apply.
package resilient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
)

// FailureMode says what Ledger does with a request when the store is unavailable.
type FailureMode string

const (
	// FailClosed refuses requests while the ledger is down (the caller answers 503).
	FailClosed FailureMode = "closed"
	// FailOpen admits requests while the ledger is down, without a budget check.
	FailOpen FailureMode = "open"
)

// Options configure New.
type Options struct {
	// Mode is FailClosed ("" too) or FailOpen.
	Mode FailureMode
	// Logger receives outage and replay events (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock used to age buffered settlements (default time.Now).
	Now func() time.Time
	// RetryEvery is the replay interval of buffered settlements (default 1s).
	RetryEvery time.Duration
	// MaxBuffered caps buffered settlements held in memory (default 100000); past it they
	// live in SpillDir only, or, without one, Settle fails and the settlement is lost.
	MaxBuffered int
	// CloseTimeout bounds the final flush in Close (default 5s).
	CloseTimeout time.Duration
	// ProbeTimeout bounds one probe of the store while the breaker is open, and the
	// ping of Ready (default 500ms).
	ProbeTimeout time.Duration
	// SpillDir, when set, keeps every buffered settlement on disk too (spill.go): past
	// MaxBuffered nothing is dropped, and what a killed or stopped process had not
	// replayed is replayed by the next one started on the same directory. New fails when
	// another process holds it.
	SpillDir string
}

// Ledger wraps a budget.Ledger so that an outage loses no spend. A failed Settle is
// buffered in memory and replayed in the background until it succeeds; settlement IDs are
// idempotent, so a replay of a settlement that did reach the store is harmless. A failed
// Reserve is returned (closed) or admitted with Degraded set (open). Invalid requests
// (budget.ErrInvalid) are never buffered or admitted. The other calls of the request path
// pass through.
type Ledger struct {
	inner        budget.Ledger
	mode         FailureMode
	log          *slog.Logger
	now          func() time.Time
	every        time.Duration
	maxBuffered  int
	closeTimeout time.Duration

	mu  sync.Mutex
	buf []buffered // oldest first; only flush removes, from the front

	flushMu sync.Mutex // one replay at a time, so buf[0] stays put while it is sent
	// brk answers at once while the store is down (breaker.go); pinger probes it.
	brk          breaker
	pinger       Pinger
	probeTimeout time.Duration
	spill        *spill // nil without SpillDir; guarded by mu
	stop         chan struct{}
	stopped      chan struct{}
	// probeNow asks the loop to probe at once: the call that opened the breaker
	// may have timed out on a store that is only slow for a moment (a burst of
	// settlements, a starved CPU), and waiting for the next tick would refuse
	// requests for up to RetryEvery for nothing.
	probeNow chan struct{}
	closed   sync.Once
}

type buffered struct {
	req budget.SettleRequest
	at  time.Time
}

var _ budget.Ledger = (*Ledger)(nil)

// New wraps inner and starts the background replay; Close stops it. It keeps buffered
// settlements in memory only (it ignores SpillDir): Open is New with a spill directory.
func New(inner budget.Ledger, opts Options) *Ledger {
	opts.SpillDir = ""
	r, _ := Open(inner, opts) // fails only on SpillDir
	return r
}

// Open is New with Options.SpillDir; it fails when the directory cannot be used (or
// another process holds it).
func Open(inner budget.Ledger, opts Options) (*Ledger, error) {
	r := &Ledger{
		inner:        inner,
		mode:         opts.Mode,
		log:          opts.Logger,
		now:          opts.Now,
		every:        opts.RetryEvery,
		maxBuffered:  opts.MaxBuffered,
		closeTimeout: opts.CloseTimeout,
		probeTimeout: opts.ProbeTimeout,
		stop:         make(chan struct{}),
		stopped:      make(chan struct{}),
		probeNow:     make(chan struct{}, 1),
	}
	if r.mode == "" {
		r.mode = FailClosed
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.every <= 0 {
		r.every = time.Second
	}
	if r.maxBuffered <= 0 {
		r.maxBuffered = 100000
	}
	if r.closeTimeout <= 0 {
		r.closeTimeout = 5 * time.Second
	}
	if r.probeTimeout <= 0 {
		r.probeTimeout = defaultProbeTimeout
	}
	r.pinger, _ = inner.(Pinger)
	if opts.SpillDir != "" {
		sp, err := openSpill(opts.SpillDir)
		if err != nil {
			return nil, err
		}
		r.spill = sp
		if n := sp.diskOnly(); n > 0 {
			r.log.Warn("budget: settlements left by a previous process will be replayed", "count", n, "dir", opts.SpillDir)
		}
	}
	go r.loop()
	return r, nil
}

// Reserve implements budget.Ledger: on a store error it fails (closed) or admits with
// Degraded (open). A degraded admission skips loop detection: Loop is the zero verdict.
func (r *Ledger) Reserve(ctx context.Context, req budget.ReserveRequest) (budget.Admission, error) {
	// Validate here too: an inner ledger that fails before validating must not turn a bad
	// request into a blind admission.
	if _, err := req.Validate(); err != nil {
		return budget.Admission{}, err
	}
	if !r.allow() {
		return r.unavailable(req, circuitOpen("reserve"))
	}
	a, err := r.inner.Reserve(ctx, req)
	if err == nil {
		r.recovered()
		return a, nil
	}
	if errors.Is(err, budget.ErrInvalid) {
		return a, err
	}
	if r.mode != FailOpen {
		// A hung store may still run the reserve when it wakes up, leaving a reservation
		// nobody settles (it would hold budget until its TTL). A failed settlement under
		// the same ID, replayed once the store is back, releases it or, when the store
		// never saw the reserve, makes a late one a refused duplicate. (Failing open, the
		// caller settles the ID itself.)
		r.buffer(budget.SettleRequest{ID: req.ID, ClientID: req.ClientID, Rule: req.Rule, Periods: req.Periods,
			Failed: true, Model: "budget_unavailable", Now: req.Now})
	}
	r.trip("reserve", err) // after buffering: the probe it asks for replays what is buffered
	return r.unavailable(req, err)
}

// unavailable answers a Reserve the store could not: an error (closed) or a blind
// admission (open).
func (r *Ledger) unavailable(req budget.ReserveRequest, err error) (budget.Admission, error) {
	if r.mode != FailOpen {
		return budget.Admission{}, err
	}
	return budget.Admission{
		Admitted: true,
		Degraded: true,
		Day:      budget.PeriodSpend{Limit: req.Rule.Daily},
		Month:    budget.PeriodSpend{Limit: req.Rule.Monthly},
	}, nil
}

// Settle implements budget.Ledger: on a store error the settlement is buffered for replay
// and success is returned with Degraded set, in either mode.
func (r *Ledger) Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error) {
	if err := s.Validate(); err != nil { // never buffer what can never succeed
		return budget.SettleResult{}, err
	}
	var err error
	failed := false // the store failed this call (rather than the breaker refusing it)
	if r.allow() {
		var res budget.SettleResult
		res, err = r.inner.Settle(ctx, s)
		if err == nil {
			r.recovered()
			return res, nil
		}
		if errors.Is(err, budget.ErrInvalid) {
			return res, err
		}
		failed = true
	} else {
		err = circuitOpen("settle")
	}
	full, n := r.buffer(s)
	if failed {
		r.trip("settle", err) // after buffering: the probe it asks for replays s
	}
	if full {
		r.log.Error("budget: settlement LOST, replay buffer full", "id", s.ID, "client_id", s.ClientID,
			"actual_nano", s.ActualNano, "day", s.Periods.Day.Key, "buffered", n, "error", err)
		return budget.SettleResult{}, fmt.Errorf("%w: replay buffer full (%d): %w", budget.ErrUnavailable, n, err)
	}
	return budget.SettleResult{Degraded: true, Day: budget.PeriodSpend{Limit: s.Rule.Daily}, Month: budget.PeriodSpend{Limit: s.Rule.Monthly}}, nil
}

// Extend implements budget.Ledger by passing through (failing at once while the breaker
// is open): a lease that cannot be renewed during an outage only lets the reservation
// expire early, and its settlement still charges.
func (r *Ledger) Extend(ctx context.Context, leases []budget.Lease) error {
	if !r.allow() {
		return circuitOpen("extend")
	}
	return r.passed("extend", r.inner.Extend(ctx, leases))
}

// Hold implements budget.Ledger by passing through (failing at once while the breaker
// is open); the caller charges the reservation at once when it fails, so nothing is lost.
func (r *Ledger) Hold(ctx context.Context, h budget.HoldRequest) (bool, error) {
	if !r.allow() {
		return false, circuitOpen("hold")
	}
	ok, err := r.inner.Hold(ctx, h)
	return ok, r.passed("hold", err)
}

// Contexts implements budget.Ledger by passing through (failing at once while the breaker
// is open); the caller falls back to the model's context window when it fails.
func (r *Ledger) Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error) {
	if !r.allow() {
		return nil, circuitOpen("contexts")
	}
	v, err := r.inner.Contexts(ctx, clientID, keys, now)
	return v, r.passed("contexts", err)
}

// Remember implements budget.Ledger by passing through (failing at once while the
// breaker is open): a lost estimate only makes the next estimate that needs it fall back
// to its worst case (or a refusal).
func (r *Ledger) Remember(ctx context.Context, clientID string, rs []budget.Remember, now time.Time) error {
	if !r.allow() {
		return circuitOpen("remember")
	}
	return r.passed("remember", r.inner.Remember(ctx, clientID, rs, now))
}

// passed updates the breaker with the outcome of a passed-through call.
func (r *Ledger) passed(op string, err error) error {
	if err == nil {
		r.recovered()
		return nil
	}
	r.trip(op, err)
	return err
}

// Buffered returns the number of settlements waiting for replay, in memory and on disk.
func (r *Ledger) Buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.buf)
	if r.spill != nil {
		n += r.spill.diskOnly()
	}
	return n
}

// Flush replays buffered settlements in order until the buffer is empty, the store fails
// again, or ctx ends. It returns nil when nothing is left.
func (r *Ledger) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	replayed := 0
	defer func() {
		if replayed > 0 {
			r.log.Info("budget: replayed buffered settlements", "count", replayed, "left", r.Buffered())
		}
	}()
	for {
		r.mu.Lock()
		if len(r.buf) == 0 {
			n, err := r.flushDiskLocked(ctx)
			replayed += n
			return err // flushDiskLocked unlocked mu
		}
		b := r.buf[0]
		r.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.replay(ctx, b); err != nil {
			return err
		}
		r.mu.Lock()
		r.buf[0] = buffered{} // let the request be collected
		r.buf = r.buf[1:]
		r.mu.Unlock()
		replayed++
		r.recovered()
	}
}

// Close stops the replay loop, flushes what it can within CloseTimeout and logs every
// settlement that could not be flushed (so it can be reconciled by hand). The inner
// ledger stays open: its owner closes it after this.
func (r *Ledger) Close() error {
	var err error
	r.closed.Do(func() {
		close(r.stop)
		<-r.stopped
		ctx, cancel := context.WithTimeout(context.Background(), r.closeTimeout)
		defer cancel()
		ferr := r.Flush(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.spill != nil {
			defer r.spill.close()
		}
		if ferr == nil {
			return
		}
		left := r.buf
		r.buf = nil
		if r.spill != nil {
			// Every buffered settlement is in the spill directory already.
			n := len(left) + r.spill.diskOnly()
			r.log.Error("budget: settlements not flushed; kept on disk for the next start", "count", n, "dir", r.spill.dir, "error", ferr)
			err = fmt.Errorf("%w: %d settlements not flushed (kept in %s): %w", budget.ErrUnavailable, n, r.spill.dir, ferr)
			return
		}
		for _, b := range left {
			r.log.Error("budget: settlement not flushed", "id", b.req.ID, "client_id", b.req.ClientID,
				"actual_nano", b.req.ActualNano, "day", b.req.Periods.Day.Key, "buffered_at", b.at)
		}
		err = fmt.Errorf("%w: %d settlements not flushed: %w", budget.ErrUnavailable, len(left), ferr)
	})
	return err
}

func (r *Ledger) loop() {
	defer close(r.stopped)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.syncSpill()
			r.retry()
		case <-r.probeNow:
			r.retry()
		}
	}
}

// retry probes the store while the breaker is open and replays what is buffered once it
// answers.
func (r *Ledger) retry() {
	r.probe()
	if r.Buffered() == 0 || (r.brk.open.Load() && r.pinger != nil) {
		// Nothing to replay, or the store did not answer the probe.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.every)
	_ = r.Flush(ctx) // failures are retried on the next tick
	cancel()
}
