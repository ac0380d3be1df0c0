package budget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FailureMode says what Resilient does with a request when the ledger is unavailable.
type FailureMode string

const (
	// FailClosed refuses requests while the ledger is down (the caller answers 503).
	FailClosed FailureMode = "closed"
	// FailOpen admits requests while the ledger is down, without a budget check.
	FailOpen FailureMode = "open"
)

// ResilientOptions configure NewResilient.
type ResilientOptions struct {
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

// Resilient wraps a Ledger so that an outage loses no spend. A failed Settle is buffered
// in memory and replayed in the background until it succeeds; settlement IDs are
// idempotent, so a replay of a settlement that did reach the store is harmless. A failed
// Reserve is returned (closed) or admitted with Degraded set (open). Invalid requests
// (ErrInvalid) are never buffered or admitted. Spend and History pass through.
type Resilient struct {
	inner        Ledger
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
	req SettleRequest
	at  time.Time
}

var _ Ledger = (*Resilient)(nil)

// NewResilient wraps inner and starts the background replay; Close stops it.
func NewResilient(inner Ledger, opts ResilientOptions) *Resilient {
	r := &Resilient{
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

// Reserve implements Ledger: on a store error it fails (closed) or admits with Degraded
// (open). A degraded admission skips loop detection: Loop is the zero verdict.
func (r *Resilient) Reserve(ctx context.Context, req ReserveRequest) (Admission, error) {
	// Validate here too: an inner ledger that fails before validating must not turn a bad
	// request into a blind admission.
	if _, err := req.validate(); err != nil {
		return Admission{}, err
	}
	a, err := r.inner.Reserve(ctx, req)
	if err == nil {
		r.recovered()
		return a, nil
	}
	if errors.Is(err, ErrInvalid) {
		return a, err
	}
	r.failing("reserve", err)
	if r.mode != FailOpen {
		return Admission{}, err
	}
	return Admission{
		Admitted: true,
		Degraded: true,
		Day:      PeriodSpend{Limit: req.Rule.Daily},
		Month:    PeriodSpend{Limit: req.Rule.Monthly},
	}, nil
}

// Settle implements Ledger: on a store error the settlement is buffered for replay and
// success is returned with Degraded set, in either mode.
func (r *Resilient) Settle(ctx context.Context, s SettleRequest) (SettleResult, error) {
	if err := s.validate(); err != nil { // never buffer what can never succeed
		return SettleResult{}, err
	}
	res, err := r.inner.Settle(ctx, s)
	if err == nil {
		r.recovered()
		return res, nil
	}
	if errors.Is(err, ErrInvalid) {
		return res, err
	}
	r.failing("settle", err)
	r.mu.Lock()
	full := len(r.buf) >= r.maxBuffered
	if !full {
		s.Rule = cloneRule(s.Rule)
		r.buf = append(r.buf, buffered{req: s, at: r.now()})
	}
	n := len(r.buf)
	r.mu.Unlock()
	if full {
		r.log.Error("budget: settlement LOST, replay buffer full", "id", s.ID, "client_id", s.ClientID,
			"actual_nano", s.ActualNano, "day", s.Periods.Day.Key, "buffered", n, "error", err)
		return SettleResult{}, fmt.Errorf("%w: replay buffer full (%d): %w", ErrUnavailable, n, err)
	}
	return SettleResult{Degraded: true, Day: PeriodSpend{Limit: s.Rule.Daily}, Month: PeriodSpend{Limit: s.Rule.Monthly}}, nil
}

// Spend implements Ledger by passing through.
func (r *Resilient) Spend(ctx context.Context, clientID string, rule Rule, p Periods, now time.Time) (ClientSpend, error) {
	return r.inner.Spend(ctx, clientID, rule, p, now)
}

// History implements Ledger by passing through.
func (r *Resilient) History(ctx context.Context, clientID string, fromDay, toDay string) ([]DayStats, error) {
	return r.inner.History(ctx, clientID, fromDay, toDay)
}

// Extend implements Ledger by passing through: a lease that cannot be renewed during an
// outage only lets the reservation expire early, and its settlement still charges.
func (r *Resilient) Extend(ctx context.Context, leases []Lease) error {
	return r.inner.Extend(ctx, leases)
}

// Hold implements Ledger by passing through; the caller charges the reservation at once
// when it fails, so nothing is lost.
func (r *Resilient) Hold(ctx context.Context, h HoldRequest) (bool, error) {
	return r.inner.Hold(ctx, h)
}

// Contexts implements Ledger by passing through; the caller falls back to the model's
// context window when it fails.
func (r *Resilient) Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error) {
	return r.inner.Contexts(ctx, clientID, keys, now)
}

// Remember implements Ledger by passing through: a lost estimate only makes
// the next estimate that needs it fall back to its worst case (or a refusal).
func (r *Resilient) Remember(ctx context.Context, clientID string, rs []Remember, now time.Time) error {
	return r.inner.Remember(ctx, clientID, rs, now)
}

// Buffered returns the number of settlements waiting for replay.
func (r *Resilient) Buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// Flush replays buffered settlements in order until the buffer is empty, the store fails
// again, or ctx ends. It returns nil when nothing is left.
func (r *Resilient) Flush(ctx context.Context) error {
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
		if err != nil && !errors.Is(err, ErrInvalid) {
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

// Close stops the replay loop, flushes what it can within CloseTimeout, logs every
// settlement that could not be flushed (so it can be reconciled by hand), and closes the
// inner ledger.
func (r *Resilient) Close() error {
	var err error
	r.closed.Do(func() {
		close(r.stop)
		<-r.stopped
		ctx, cancel := context.WithTimeout(context.Background(), r.closeTimeout)
		defer cancel()
		var flushErr error
		if ferr := r.Flush(ctx); ferr != nil {
			r.mu.Lock()
			left := r.buf
			r.buf = nil
			r.mu.Unlock()
			for _, b := range left {
				r.log.Error("budget: settlement not flushed", "id", b.req.ID, "client_id", b.req.ClientID,
					"actual_nano", b.req.ActualNano, "day", b.req.Periods.Day.Key, "buffered_at", b.at)
			}
			flushErr = fmt.Errorf("%w: %d settlements not flushed: %w", ErrUnavailable, len(left), ferr)
		}
		err = errors.Join(flushErr, r.inner.Close())
	})
	return err
}

func (r *Resilient) loop() {
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
func (r *Resilient) failing(op string, err error) {
	if r.degraded.CompareAndSwap(false, true) {
		r.log.Warn("budget: ledger unavailable", "op", op, "mode", string(r.mode), "error", err)
	}
}

// recovered logs the end of an outage once.
func (r *Resilient) recovered() {
	if r.degraded.CompareAndSwap(true, false) {
		r.log.Info("budget: ledger available again", "buffered", r.Buffered())
	}
}
