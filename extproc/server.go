// Package extproc is Proxide's ext_proc server: one state machine per HTTP
// request, driven by Envoy over a bidirectional gRPC stream. It authenticates,
// identifies the client, reserves the estimated cost before the request goes
// upstream, meters the response as it streams back and settles the real cost.
package extproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/proxide/proxide/auth"
	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/metrics"
	"github.com/proxide/proxide/pricing"
	"github.com/proxide/proxide/usage"
)

// Ledger is the part of the budget ledger a request needs: one round trip to
// admit (check + reserve) and one to settle.
type Ledger interface {
	Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Admission, error)
	Settle(ctx context.Context, s budget.SettleRequest) (budget.SettleResult, error)
}

// Pricer resolves a model's price for a service tier.
type Pricer interface {
	Lookup(model, serviceTier string) (pricing.TierPrice, pricing.Price, bool, error)
}

// RuleResolver finds the budget rule of a client.
type RuleResolver interface {
	Resolve(clientID string) budget.Rule
}

// Authenticator checks an Authorization header for a scope.
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// AlertFunc is told about every alert threshold a client crosses.
type AlertFunc func(clientID string, c budget.Crossing)

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

	// PathPrefixes are removed from :path before matching an endpoint
	// (default "/openai/v1", "/v1").
	PathPrefixes []string

	DefaultMaxOutputTokens int64         // reserved when a request sets no max (default 4096)
	ReservationTTL         time.Duration // a dead sidecar's reservation is released after this (default 10m)
	BlockCacheTTL          time.Duration // how long a settled-over-limit client is refused at the headers without a ledger call (default 1s)
	SettleTimeout          time.Duration // bound on the final ledger call once Envoy is gone (default 5s)
	Usage                  usage.Options

	// Loop holds the global loop_detection settings; each rule may override
	// them (budget.Rule.Loop). LoopStatus is the refusal status (default 429).
	Loop       budget.LoopDefaults
	LoopStatus int

	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	OnAlert AlertFunc
}

// Server implements Envoy's ExternalProcessor service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	opts     Options
	prefixes []string
	blocked  *blockCache
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
	opts.ClientIDHeader = strings.ToLower(opts.ClientIDHeader)
	if len(opts.PathPrefixes) == 0 {
		opts.PathPrefixes = []string{"/openai/v1", "/v1"}
	}
	if opts.DefaultMaxOutputTokens <= 0 {
		opts.DefaultMaxOutputTokens = 4096
	}
	if opts.ReservationTTL <= 0 {
		opts.ReservationTTL = 10 * time.Minute
	}
	if opts.BlockCacheTTL == 0 {
		opts.BlockCacheTTL = time.Second
	}
	if opts.SettleTimeout <= 0 {
		opts.SettleTimeout = 5 * time.Second
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
	// Longest prefix first, without trailing slashes, so "/openai/v1" wins over "/v1".
	prefixes := make([]string, 0, len(opts.PathPrefixes))
	for _, p := range opts.PathPrefixes {
		prefixes = append(prefixes, strings.TrimRight(p, "/"))
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	return &Server{opts: opts, prefixes: prefixes, blocked: newBlockCache(100_000)}, nil
}

// ForgetAllBlocked empties the local refusal cache: the rules changed, so
// every client's next request is decided by the ledger again.
func (s *Server) ForgetAllBlocked() { s.blocked.forgetAll() }

// ForgetBlocked drops a client from the local refusal cache, e.g. after its
// rule changed, so the very next request is decided by the ledger again.
func (s *Server) ForgetBlocked(clientID string) { s.blocked.forget(clientID) }

// Process runs one HTTP request's exchange. Envoy closing the stream (io.EOF,
// Canceled) is the normal end, not an error: whatever was reserved and not yet
// settled is settled then.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ctx := stream.Context()
	s.opts.Metrics.StreamStarted()
	defer s.opts.Metrics.StreamEnded()
	x := s.newExchange()
	defer x.finish(ctx)
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled || ctx.Err() != nil {
				return nil
			}
			x.log.Warn("ext_proc stream receive failed", "err", err)
			return err
		}
		resp := x.handle(ctx, req)
		if resp == nil {
			return nil
		}
		if err := stream.Send(resp); err != nil {
			// Envoy is gone; finish() settles what was used.
			x.log.Debug("ext_proc stream send failed", "err", err)
			return nil
		}
		if x.ended {
			return nil
		}
	}
}

// route maps a request path to an endpoint; ok is false outside the prefixes.
func (s *Server) route(path string) (usage.Endpoint, bool) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/') {
			return usage.EndpointFor(path[len(p):]), true
		}
	}
	return usage.Other, false
}
