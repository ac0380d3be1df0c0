// Package admin serves Proxide's admin API: budget rules, per-client spend and
// spend analytics. One implementation (Service) has two front doors: the REST
// handler on the admin HTTP port (New, which also serves the health and
// readiness probes and /metrics) and a gRPC service (NewGRPCServer,
// proxide.v1.AdminService). Both need a key with the admin scope.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/proxide/proxide/auth"
	"github.com/proxide/proxide/budget"
)

// Authenticator checks an Authorization header for a scope.
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// RuleResolver finds a client's budget rule.
//
// Deprecated: only for Options.Rules, the read-only wiring of before the
// budget API; set Options.Service instead.
type RuleResolver interface {
	Resolve(clientID string) budget.Rule
}

// Options wires the admin HTTP handler.
type Options struct {
	// Service is the admin API; nil serves only the probes, /metrics and the
	// legacy GET /v1/clients/{client_id} built from Ledger, Rules and Calendar.
	Service *Service
	Keys    Authenticator // nil or disabled: the API is open (development only)
	Metrics http.Handler  // served at /metrics when set
	// Ready reports whether this replica can serve traffic (ledger reachable).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger

	// Deprecated: the read-only wiring of before the budget API, kept so that
	// cmd/proxide builds until it sets Service. Ignored when Service is set.
	Ledger interface {
		Spend(ctx context.Context, clientID string, rule budget.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error)
	}
	Rules    RuleResolver // Deprecated: see Ledger.
	Calendar budget.Calendar
	Now      func() time.Time
}

// server is the REST front door.
type server struct {
	svc     *Service // nil: legacy read-only client endpoint
	legacy  Options
	keys    Authenticator
	ready   func(ctx context.Context) error
	metrics http.Handler
	log     *slog.Logger
}

// New returns the admin HTTP handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &server{svc: opts.Service, legacy: opts, keys: opts.Keys, ready: opts.Ready, metrics: opts.Metrics, log: opts.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if s.svc != nil {
		s.routes(mux)
	} else if opts.Ledger != nil && opts.Rules != nil {
		mux.Handle("GET /v1/clients/{client_id...}", s.adminOnly(s.legacyClient))
	}
	mux.Handle("/v1/", s.adminOnly(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "", "No admin endpoint "+r.Method+" "+r.URL.Path)
	}))
	return mux
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("content-type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// adminOnly requires a key with the admin scope: none or an unknown one is
// 401, a gateway-only key 403.
func (s *server) adminOnly(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch err := checkKey(s.keys, r.Header.Get("Authorization")); {
		case errors.Is(err, auth.ErrMissingScope):
			writeError(w, http.StatusForbidden, "invalid_request_error", "insufficient_scope", "", "This key lacks the admin scope.")
		case err != nil:
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "", "A Proxide key with the admin scope is required.")
		default:
			next(w, r)
		}
	})
}

// checkKey is the one auth rule of both front doors; nil keys or none
// configured leave the API open (development only).
func checkKey(keys Authenticator, authorization string) error {
	if keys == nil || !keys.Enabled() {
		return nil
	}
	_, err := keys.Authenticate(authorization, auth.ScopeAdmin)
	return err
}

// legacyClient is GET /v1/clients/{client_id} without a Service.
func (s *server) legacyClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client_id")
	if err := budget.ValidClientID(id); err != nil {
		s.writeServiceError(w, fieldErr("client_id", "%v", err))
		return
	}
	now := s.legacy.Now()
	periods := s.legacy.Calendar.Periods(now)
	rule := s.legacy.Rules.Resolve(id)
	spend, err := s.legacy.Ledger.Spend(r.Context(), id, rule, periods, now)
	if err != nil {
		s.log.Error("admin: reading spend failed", "client_id", id, "err", err)
		s.writeServiceError(w, fmt.Errorf("%w: %w", budget.ErrUnavailable, err))
		return
	}
	writeJSON(w, http.StatusOK, clientView(ClientReport{ClientID: id, Rule: Budget{Rule: rule}, State: state(rule, spend), Periods: periods, Spend: spend}))
}
