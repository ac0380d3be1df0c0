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
	"sync/atomic"
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
	// MaxBuffered caps buffered settlements (default 100000); past it Settle fails.
	MaxBuffered int
	// CloseTimeout bounds the final flush in Close (default 5s).
	CloseTimeout time.Duration
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

	flushMu  sync.Mutex // one replay at a time, so buf[0] stays put while it is sent
	degraded atomic.Bool
	stop     chan struct{}
	stopped  chan struct{}
	closed   sync.Once
}

type buffered struct {
	req budget.SettleRequest
	at  time.Time
}

var _ budget.Ledger = (*Ledger)(nil)

// New wraps inner and starts the background replay; Close stops it.
func New(inner budget.Ledger, opts Options) *Ledger {
	r := &Ledger{
		inner:        inner,
		mode:         opts.Mode,
		log:          opts.Logger,
		now:          opts.Now,
		every:        opts.RetryEvery,
		maxBuffered:  opts.MaxBuffered,
		closeTimeout: opts.CloseTimeout,
		stop:         make(chan struct{}),
		stopped:      make(chan struct{}),
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
	go r.loop()
	return r
}

// Reserve implements budget.Ledger: on a store error it fails (closed) or admits with
// Degraded (open). A degraded admission skips loop detection: Loop is the zero verdict.
func (r *Ledger) Reserve(ctx context.Context, req budget.ReserveRequest) (budget.Admission, error) {
	// Validate here too: an inner ledger that fails before validating must not turn a bad
	// request into a blind admission.
	if _, err := req.Validate(); err != nil {
		return budget.Admission{}, err
	}
	a, err := r.inner.Reserve(ctx, req)
	if err == nil {
		r.recovered()
		return a, nil
	}
	if errors.Is(err, budget.ErrInvalid) {
		return a, err
	}
	r.failing("reserve", err)
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
	res, err := r.inner.Settle(ctx, s)
	if err == nil {
		r.recovered()
		return res, nil
	}
	if errors.Is(err, budget.ErrInvalid) {
		return res, err
	}
	r.failing("settle", err)
	r.mu.Lock()
	full := len(r.buf) >= r.maxBuffered
	if !full {
		s.Rule = s.Rule.Clone()
		r.buf = append(r.buf, buffered{req: s, at: r.now()})
	}
	n := len(r.buf)
	r.mu.Unlock()
	if full {
		r.log.Error("budget: settlement LOST, replay buffer full", "id", s.ID, "client_id", s.ClientID,
			"actual_nano", s.ActualNano, "day", s.Periods.Day.Key, "buffered", n, "error", err)
		return budget.SettleResult{}, fmt.Errorf("%w: replay buffer full (%d): %w", budget.ErrUnavailable, n, err)
	}
	return budget.SettleResult{Degraded: true, Day: budget.PeriodSpend{Limit: s.Rule.Daily}, Month: budget.PeriodSpend{Limit: s.Rule.Monthly}}, nil
}

// Extend implements budget.Ledger by passing through: a lease that cannot be renewed
// during an outage only lets the reservation expire early, and its settlement still
// charges.
func (r *Ledger) Extend(ctx context.Context, leases []budget.Lease) error {
	return r.inner.Extend(ctx, leases)
}

// Hold implements budget.Ledger by passing through; the caller charges the reservation at
// once when it fails, so nothing is lost.
func (r *Ledger) Hold(ctx context.Context, h budget.HoldRequest) (bool, error) {
	return r.inner.Hold(ctx, h)
}

// Contexts implements budget.Ledger by passing through; the caller falls back to the
// model's context window when it fails.
func (r *Ledger) Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error) {
	return r.inner.Contexts(ctx, clientID, keys, now)
}

// Remember implements budget.Ledger by passing through: a lost estimate only makes the
// next estimate that needs it fall back to its worst case (or a refusal).
func (r *Ledger) Remember(ctx context.Context, clientID string, rs []budget.Remember, now time.Time) error {
	return r.inner.Remember(ctx, clientID, rs, now)
}

// Buffered returns the number of settlements waiting for replay.
func (r *Ledger) Buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
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
			r.mu.Unlock()
			return nil
		}
		b := r.buf[0]
		r.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := r.inner.Settle(ctx, b.req)
		if err != nil && !errors.Is(err, budget.ErrInvalid) {
			return err
		}
		if err != nil { // cannot happen for a request that was valid once; never retry it
			r.log.Error("budget: dropping invalid buffered settlement", "id", b.req.ID, "client_id", b.req.ClientID, "error", err)
		}
		for _, c := range res.Crossings {
			r.log.Warn("budget: alert threshold crossed during replay", "client_id", b.req.ClientID,
				"kind", c.Kind, "threshold", c.Threshold, "spent_nano", c.SpentNano, "limit_nano", c.LimitNano)
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
		if ferr := r.Flush(ctx); ferr != nil {
			r.mu.Lock()
			left := r.buf
			r.buf = nil
			r.mu.Unlock()
			for _, b := range left {
				r.log.Error("budget: settlement not flushed", "id", b.req.ID, "client_id", b.req.ClientID,
					"actual_nano", b.req.ActualNano, "day", b.req.Periods.Day.Key, "buffered_at", b.at)
			}
			err = fmt.Errorf("%w: %d settlements not flushed: %w", budget.ErrUnavailable, len(left), ferr)
		}
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
			if r.Buffered() == 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), r.every)
			_ = r.Flush(ctx) // failures are retried on the next tick
			cancel()
		}
	}
}

// failing logs the start of an outage once.
func (r *Ledger) failing(op string, err error) {
	if r.degraded.CompareAndSwap(false, true) {
		r.log.Warn("budget: ledger unavailable", "op", op, "mode", string(r.mode), "error", err)
	}
}

// recovered logs the end of an outage once.
func (r *Ledger) recovered() {
	if r.degraded.CompareAndSwap(true, false) {
		r.log.Info("budget: ledger available again", "buffered", r.Buffered())
	}
}
