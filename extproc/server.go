// Package extproc is Proxide's ext_proc server: one state machine per HTTP
// request, driven by Envoy over a bidirectional gRPC stream. It authenticates,
// identifies the client, reserves the worst-case cost before the request goes
// upstream, meters the response as it streams back and settles the real cost.
//
// A request reads top to bottom by phase: request_headers.go (auth, client,
// route), request_body.go (estimate, reserve, reply), estimate.go (the worst
// case), response.go (response headers and chunks), settle.go (what is
// charged, exactly once), leases.go (reservations live as long as their
// requests).
package extproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/blockcache"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/auth"
	"github.com/proxide/proxide/internal/loop"
	"github.com/proxide/proxide/internal/metrics"
	"github.com/proxide/proxide/internal/usage"
	"github.com/proxide/proxide/pricing"
)

// Ledger is the part of the budget ledger a request needs: one round trip to
// admit (check + reserve) and one to settle, lease renewals for requests that
// run long, held charges for results fetched later, remembered context sizes
// for multi-turn requests, and the clients certain to be refused, answered at
// the request headers without a round trip (budget/blockcache).
type Ledger interface {
	Refused(clientID string, now time.Time) (blockcache.Refusal, bool)
	Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error)
	Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error)
	Extend(ctx context.Context, leases []budget.Lease) error
	Hold(ctx context.Context, h budget.HoldRequest) (bool, error)
	Contexts(ctx context.Context, clientID string, keys []string, now time.Time) ([]int64, error)
	Remember(ctx context.Context, clientID string, rs []budget.Remember, now time.Time) error
}

// Pricer resolves a model's prices for one request (tier, long context,
// region), the per-call tool fees, and per-image prices.
type Pricer interface {
	TierFor(model string, q pricing.Quote) (pricing.TierPrice, bool, error) // the prices that apply to q
	Row(model string) (pricing.Price, bool, error)                          // the row, shared: read-only
	Fees() *pricing.ToolFees                                                // shared: read-only
	ImagePrice(model, size, quality string) (int64, bool)
	ImagePriceMax(model string) (int64, bool)
}

// RuleResolver finds the budget rule of a client.
type RuleResolver interface {
	Resolve(clientID string) rules.Rule
}

// Authenticator checks an Authorization header for a scope.
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// AlertSink is told about the events an operator may want pushed (alert
// webhooks); rule is the key of the client's rule ("default",
// "match:user-*", "client:id"). Its methods run on the request path, so they
// must only queue.
type AlertSink interface {
	ThresholdCrossed(clientID, rule string, c budget.Crossing)
	BudgetExceeded(clientID, rule string, ex budget.Exceeded, now time.Time)
	LoopDetected(clientID, rule string, v loop.Verdict, blocked bool, now time.Time)
	UnmeteredAllowed(clientID, rule, endpoint string, day budget.Period, now time.Time)
}

// Options configures a Server. Ledger, Pricer and Rules are required.
type Options struct {
	Ledger   Ledger
	Pricer   Pricer
	Rules    RuleResolver
	Calendar budget.Calendar
	Keys     Authenticator // nil or not Enabled(): no authentication (development only)

	// UpstreamKey replaces the client's Authorization towards OpenAI; empty
	// keeps the client's header (pass-through of the client's own key).
	UpstreamKey string

	ClientIDHeader  string // default "x-proxide-client-id"
	DefaultClientID string // used when the header is missing; "" → 400 missing_client_id
	KeepClientID    bool   // forward the client-id header upstream (default: strip it)
	// NormalizeClientIDs folds ids to Unicode NFKC and refuses invisible,
	// unassigned and mixed-script ids (internal/clientid), so one client
	// cannot name itself many ways.
	NormalizeClientIDs bool
	// ClientIDFromPeer takes the client id from the peer certificate's URI
	// SAN (a SPIFFE id) that Envoy sends as an attribute, not from the
	// header (peer.go).
	ClientIDFromPeer bool

	// PathPrefixes are the API prefixes of :path (default "/openai/v1", "/v1").
	PathPrefixes []string

	// DefaultMaxOutputTokens, when > 0, is reserved for a request that sets no
	// output limit instead of the model's max_output_tokens. Below the model's
	// maximum it breaks the worst-case bound: an explicit opt-in.
	DefaultMaxOutputTokens int64
	// DefaultMaxToolCalls bounds the built-in tool calls of a Responses request
	// that sets no max_tool_calls (default 8).
	DefaultMaxToolCalls int64
	// DefaultServiceTier is the tier a request with service_tier unset, "auto"
	// or "default" is reserved at: the project's configured default
	// ("default"; "priority" for a project that defaults to priority).
	DefaultServiceTier string
	// Region is the data-residency region of the upstream ("eu", "us"; "" for
	// none): prices carry the model's regional uplift.
	Region string
	// ReservationTTL is how long a reservation outlives its sidecar: leases are
	// renewed every third of it while the request runs (default 2m).
	ReservationTTL time.Duration
	// BackgroundTTL is how long a background response's held charge waits for
	// its result before it is charged as estimated (default 6h).
	BackgroundTTL time.Duration
	// ContextTTL is how long a stored response's context size is remembered
	// (default 30 days, as OpenAI keeps stored responses).
	ContextTTL time.Duration
	// BatchTTL is how long a batch's held charge waits for a GET showing it
	// finished before it is charged as estimated (default 48h: the 24h
	// completion window and a day to look).
	BatchTTL      time.Duration
	SettleTimeout time.Duration // bound on the final ledger call once Envoy is gone (default 5s)
	// LedgerTimeout bounds every ledger call made while Envoy waits for a
	// reply (default 500ms): it must end well inside Envoy's ext_proc
	// message_timeout, so a hung ledger gets the failure mode's answer (503,
	// or fail-open) instead of Envoy's bare 504. A settlement that times out
	// is buffered and replayed by the resilient ledger.
	LedgerTimeout time.Duration
	// MaxBodyBytes caps a request body collected from STREAMED pieces
	// (default 16 MiB): past it the request is refused with 413.
	MaxBodyBytes int
	// StreamIdleTimeout closes an ext_proc stream on which Envoy sent nothing
	// for this long (default 10m); it needs InTapHandle on the gRPC server.
	StreamIdleTimeout time.Duration
	// Usage tunes request parsing; New gives it a CountCache when it has
	// none, so the history agents resend is counted once.
	Usage usage.Options
	// Unmetered is the global policy for paid endpoints Proxide cannot meter:
	// rules.UnmeteredRefuse (default) or rules.UnmeteredAllow; rules may
	// override it.
	Unmetered rules.EndpointPolicy

	// Loop holds the global loop_detection settings; each rule may override
	// them (rules.Rule.Loop). LoopStatus is the refusal status (default 429).
	Loop       rules.LoopDefaults
	LoopStatus int

	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// AccessLog writes a line per metered request and refusal (off when its Logger is nil).
	AccessLog AccessLog
	// Tracer, when set, gets a span per request under Envoy's traceparent,
	// with admission and settlement as children (tracing.go).
	Tracer trace.Tracer
	// Alerts, when set, receives threshold crossings, budget refusals, new
	// loops and unmetered calls allowed (alert webhooks).
	Alerts AlertSink
}

// Server implements Envoy's ExternalProcessor service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	opts     Options
	contexts *contextCache
	deep     *deepWork

	leaseMu sync.Mutex
	leases  map[*exchange]struct{} // requests holding a reservation

	untrustedSeen sync.Map // reasons of untrusted upstream answers already logged
}

// New checks the options and fills defaults.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Ledger == nil {
		errs = append(errs, errors.New("extproc: Ledger is required"))
	}
	if opts.Pricer == nil {
		errs = append(errs, errors.New("extproc: Pricer is required"))
	}
	if opts.Rules == nil {
		errs = append(errs, errors.New("extproc: Rules is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.ClientIDHeader == "" {
		opts.ClientIDHeader = "x-proxide-client-id"
	}
	opts.ClientIDHeader = lower(opts.ClientIDHeader)
	if len(opts.PathPrefixes) == 0 {
		opts.PathPrefixes = []string{"/openai/v1", "/v1"}
	}
	if opts.DefaultMaxToolCalls <= 0 {
		opts.DefaultMaxToolCalls = 8
	}
	if opts.DefaultServiceTier == "" {
		opts.DefaultServiceTier = "default"
	}
	if opts.ReservationTTL <= 0 {
		opts.ReservationTTL = 2 * time.Minute
	}
	if opts.BackgroundTTL <= 0 {
		opts.BackgroundTTL = 6 * time.Hour
	}
	if opts.BatchTTL <= 0 {
		opts.BatchTTL = 48 * time.Hour
	}
	if opts.ContextTTL <= 0 {
		opts.ContextTTL = 30 * 24 * time.Hour
	}
	if opts.SettleTimeout <= 0 {
		opts.SettleTimeout = 5 * time.Second
	}
	if opts.LedgerTimeout <= 0 {
		opts.LedgerTimeout = 500 * time.Millisecond
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.StreamIdleTimeout <= 0 {
		opts.StreamIdleTimeout = 10 * time.Minute
	}
	if opts.Usage.Counts == nil {
		opts.Usage.Counts = usage.NewCountCache()
	}
	if opts.Unmetered == rules.UnmeteredInherit {
		opts.Unmetered = rules.UnmeteredRefuse
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LoopStatus == 0 {
		opts.LoopStatus = 429
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Calendar.Location() == nil {
		cal, err := budget.NewCalendar("UTC")
		if err != nil {
			return nil, fmt.Errorf("extproc: default calendar: %w", err)
		}
		opts.Calendar = cal
	}
	return &Server{opts: opts, contexts: newContextCache(100_000), deep: newDeepWork(),
		leases: make(map[*exchange]struct{})}, nil
}

// Process runs one HTTP request's exchange. The exchange's phase advances
// only once its reply was sent: a request whose body reply never reached
// Envoy was never forwarded and is released, not charged. Envoy closing the
// stream (io.EOF, Canceled) is the normal end, not an error: whatever was
// reserved and not yet settled is settled then.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ctx := stream.Context()
	s.opts.Metrics.StreamStarted()
	defer s.opts.Metrics.StreamEnded()
	x := s.newExchange()
	defer x.endTrace()
	defer x.writeAccessLog() // after the settlement, deferred below
	defer x.finish(ctx)
	idle := s.watchIdle(ctx) // idle.go
	defer idle.stop()
	for {
		req, err := stream.Recv()
		if err != nil {
			if idleEnded(ctx) {
				x.logger().Warn("ext_proc stream idle; closed", "idle_timeout", s.opts.StreamIdleTimeout.String(), "phase", x.phase)
				s.opts.Metrics.Request(x.opName(), "stream_idle")
				return nil
			}
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			x.logger().Warn("ext_proc stream receive failed", "err", err)
			return err
		}
		idle.reset()
		start := time.Now()
		resp, next := x.handle(ctx, req)
		if resp == nil {
			return nil
		}
		if err := stream.Send(resp); err != nil {
			// Envoy is gone; finish() settles by the phase reached.
			if x.debugOn() {
				x.logger().Debug("ext_proc stream send failed", "err", err)
			}
			return nil
		}
		s.opts.Metrics.Phase(messageName(req), time.Since(start))
		x.advance(next)
		x.decide(resp)
		x.returnChunkReply() // sent (marshaled) and read: resp is not used again
		if x.phase == phaseDone {
			return nil
		}
	}
}
