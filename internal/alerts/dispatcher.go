package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Deduper claims a key once across every replica sharing the ledger: the
// first Claim of a live key returns true, later ones false until ttl passes.
type Deduper interface {
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Metrics counts deliveries; nil counts nothing.
type Metrics interface {
	// WebhookDelivery counts one attempt's outcome: "delivered", "retried"
	// (failed, another attempt is scheduled) or "failed" (given up).
	WebhookDelivery(result string)
	// WebhookDropped counts an event or retry dropped because its queue was full.
	WebhookDropped()
}

// Payload formats.
const (
	FormatJSON  = "json"  // the Event itself
	FormatSlack = "slack" // {"text": "..."} for a Slack-compatible incoming webhook
)

// Options configure a Dispatcher.
type Options struct {
	// Webhooks are the URLs every event is POSTed to.
	Webhooks []string
	// Secret signs each delivery (HeaderSignature); empty sends unsigned.
	Secret []byte
	// Format is FormatJSON (default) or FormatSlack.
	Format string
	// QueueSize bounds the events waiting for a worker, and separately the
	// retries waiting for theirs (default 1000 each).
	QueueSize int
	Workers   int // default 2
	// MaxAttempts per event and URL (default 8); BaseBackoff doubles after
	// each failure up to MaxBackoff (defaults 1s, 5m).
	MaxAttempts             int
	BaseBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt (default 5s).
	Timeout time.Duration
	Client  *http.Client // default: a client with Timeout
	Dedup   Deduper      // nil: this process's own claim only (a single replica)
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics Metrics
}

// Validate reports every problem of the options.
func (o Options) Validate() error {
	var errs []error
	for i, u := range o.Webhooks {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("alerts.webhooks[%d]: %q is not an http(s) URL", i, u))
		}
	}
	if o.Format != "" && o.Format != FormatJSON && o.Format != FormatSlack {
		errs = append(errs, fmt.Errorf("alerts.format: %q must be json or slack", o.Format))
	}
	if o.QueueSize < 0 || o.Workers < 0 || o.MaxAttempts < 0 || o.BaseBackoff < 0 || o.MaxBackoff < 0 || o.Timeout < 0 {
		errs = append(errs, errors.New("alerts: queue_size, workers, max_attempts, backoff and timeout must not be negative"))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatJSON
	}
	if o.QueueSize == 0 {
		o.QueueSize = 1000
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.BaseBackoff == 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// delivery is one event's body on its way to one URL.
type delivery struct {
	url, eventID string
	body         []byte
	attempt      int // attempts made so far
}

// Dispatcher delivers events to the webhooks off the request path.
type Dispatcher struct {
	opts    Options
	events  chan Event
	retries chan delivery

	mu      sync.Mutex
	closed  bool
	pending map[*time.Timer]struct{} // retries waiting for their backoff
	stop    chan struct{}
	done    sync.WaitGroup
	drops   atomic.Int64
	local   *localClaims
}

// New starts a Dispatcher's workers; Close stops them.
func New(opts Options) (*Dispatcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	d := &Dispatcher{opts: opts, events: make(chan Event, opts.QueueSize), retries: make(chan delivery, opts.QueueSize),
		pending: make(map[*time.Timer]struct{}), stop: make(chan struct{}), local: newLocalClaims(opts.Now)}
	for range opts.Workers {
		d.done.Add(1)
		go d.work()
	}
	return d, nil
}

// Notify queues ev without blocking; a full queue drops it (counted). Its
// ID and Time are filled in when empty.
func (d *Dispatcher) Notify(ev Event) {
	if d == nil || len(d.opts.Webhooks) == 0 {
		return
	}
	if ev.dedupKey != "" {
		if !d.local.claim(ev.dedupKey, ev.dedupTTL) {
			return
		}
	}
	if ev.ID == "" {
		ev.ID = newID()
	}
	if ev.Time.IsZero() {
		ev.Time = d.opts.Now().UTC()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	select {
	case d.events <- ev:
	default:
		d.dropped("event", ev.ID)
	}
}

// Close stops accepting events, sends what is queued (one attempt each,
// bounded by ctx) and abandons scheduled retries.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for t := range d.pending {
		if t.Stop() {
			d.dropped("retry", "")
		}
	}
	close(d.stop)
	d.mu.Unlock()
	finished := make(chan struct{})
	go func() { d.done.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dispatcher) work() {
	defer d.done.Done()
	for {
		select {
		case ev := <-d.events:
			d.send(ev)
		case dl := <-d.retries:
			d.attempt(dl)
		case <-d.stop:
			for {
				select {
				case ev := <-d.events:
					d.send(ev)
				default:
					return
				}
			}
		}
	}
}

// send claims ev (when it has a dedup key) and makes the first attempt to
// each webhook.
func (d *Dispatcher) send(ev Event) {
	if ev.dedupKey != "" && d.opts.Dedup != nil {
		ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
		first, err := d.opts.Dedup.Claim(ctx, ev.dedupKey, ev.dedupTTL)
		cancel()
		switch {
		case err != nil:
			// A duplicate alert is better than a lost one.
			d.opts.Logger.Warn("alerts: cannot claim the event in the ledger; sending it anyway", "event_id", ev.ID, "err", err)
		case !first:
			return // another replica (or an earlier request) sent it
		}
	}
	body, err := d.payload(ev)
	if err != nil {
		d.opts.Logger.Error("alerts: cannot encode event", "event_id", ev.ID, "err", err)
		return
	}
	for _, u := range d.opts.Webhooks {
		d.attempt(delivery{url: u, eventID: ev.ID, body: body})
	}
}

func (d *Dispatcher) payload(ev Event) ([]byte, error) {
	if d.opts.Format == FormatSlack {
		return json.Marshal(map[string]string{"text": SlackText(ev)})
	}
	return json.Marshal(ev)
}

// attempt POSTs dl once and schedules its retry when it failed in a way a
// retry can fix.
func (d *Dispatcher) attempt(dl delivery) {
	dl.attempt++
	retry, err := d.post(dl)
	switch {
	case err == nil:
		d.count("delivered")
		return
	case !retry || dl.attempt >= d.opts.MaxAttempts:
		d.count("failed")
		d.opts.Logger.Warn("alerts: webhook delivery failed", "url", redactURL(dl.url), "event_id", dl.eventID,
			"attempts", dl.attempt, "err", err)
		return
	}
	d.count("retried")
	d.schedule(dl, d.backoff(dl.attempt))
}

// backoff is the wait after the n-th failed attempt.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.opts.BaseBackoff
	for i := 1; i < n && b < d.opts.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.opts.MaxBackoff)
}

func (d *Dispatcher) schedule(dl delivery, after time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.dropped("retry", dl.eventID)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(after, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		delete(d.pending, t)
		if d.closed {
			return
		}
		select {
		case d.retries <- dl:
		default:
			d.dropped("retry", dl.eventID)
		}
	})
	d.pending[t] = struct{}{}
}

// post makes one attempt; retry says whether another may succeed.
func (d *Dispatcher) post(dl delivery) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.url, bytes.NewReader(dl.body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "proxide-alerts/1")
	req.Header.Set(HeaderEventID, dl.eventID)
	if len(d.opts.Secret) > 0 {
		ts := d.opts.Now()
		req.Header.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()))
		req.Header.Set(HeaderSignature, Sign(d.opts.Secret, ts, dl.body))
	}
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return true, fmt.Errorf("status %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("status %d (not retried)", resp.StatusCode)
	}
}

func (d *Dispatcher) count(result string) {
	if d.opts.Metrics != nil {
		d.opts.Metrics.WebhookDelivery(result)
	}
}

func (d *Dispatcher) dropped(what, eventID string) {
	if d.opts.Metrics != nil {
		d.opts.Metrics.WebhookDropped()
	}
	// A flood would log a line per event: log the first drop and every 1000th.
	if n := d.drops.Add(1); n == 1 || n%1000 == 0 {
		d.opts.Logger.Warn("alerts: queue full; dropped", "what", what, "event_id", eventID, "dropped_so_far", n)
	}
}

// redactURL keeps a webhook URL's scheme and host: Slack-style URLs carry
// their secret in the path.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return p.Scheme + "://" + p.Host + "/…"
}
