// Package admin serves Proxide's admin API: budget rules (with their loop
// detection settings), per-client spend and state, spend analytics, and loop
// events with their cooldowns. One implementation (Service) has two front doors: the REST
// handler on the admin HTTP port (New, which also serves the health and
// readiness probes and /metrics) and a gRPC service (NewGRPCServer,
// proxide.v1.AdminService). Both need a key with the admin scope.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/proxide/proxide/internal/auth"
)

// Authenticator checks an Authorization header for a scope.
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// Options wires the admin HTTP handler.
type Options struct {
	// Service is the admin API; nil serves only the probes and /metrics.
	Service *Service
	Keys    Authenticator // nil or disabled: the API is open (development only)
	Metrics http.Handler  // served at /metrics when set
	// Ready reports whether this replica can serve traffic (ledger reachable).
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Dashboard is the web UI, served at / (internal/dashboard); nil: / is 404.
	Dashboard http.Handler
	// Sessions lets the signed-in dashboard call the API with its session
	// instead of an Authorization header; nil: keys only.
	Sessions Sessions
	// Activity counts refusals per day for GET /v1/activity; nil: all zero.
	Activity Activity
}

// Sessions checks a request's dashboard session (a cookie, and for a write
// the header that proves it comes from the dashboard's own pages).
type Sessions interface {
	Check(r *http.Request) error
}

// server is the REST front door.
type server struct {
	svc     *Service // nil: probes and metrics only
	keys    Authenticator
	ready   func(ctx context.Context) error
	metrics http.Handler
	log     *slog.Logger

	sessions    Sessions
	activitySrc Activity
}

// New returns the admin HTTP handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{svc: opts.Service, keys: opts.Keys, ready: opts.Ready, metrics: opts.Metrics, log: opts.Logger,
		sessions: opts.Sessions, activitySrc: opts.Activity}
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
	}
	mux.Handle("/v1/", s.adminOnly(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "", "No admin endpoint "+r.Method+" "+r.URL.Path)
	}))
	if opts.Dashboard != nil {
		mux.Handle("/", opts.Dashboard)
	}
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
		err := checkKey(s.keys, r.Header.Get("Authorization"))
		if err != nil && s.sessions != nil && r.Header.Get("Authorization") == "" && s.sessions.Check(r) == nil {
			err = nil // the dashboard, signed in with an admin key
		}
		switch {
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
