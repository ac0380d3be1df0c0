// Package admin serves Proxide's admin HTTP port: health and readiness probes,
// Prometheus metrics and the admin API (per-client spend).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/proxide/proxide/auth"
	"github.com/proxide/proxide/budget"
)

// Ledger is what the admin API reads from the budget ledger.
type Ledger interface {
	Spend(ctx context.Context, clientID string, rule budget.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error)
}

// RuleResolver finds a client's budget rule.
type RuleResolver interface {
	Resolve(clientID string) budget.Rule
}

// Authenticator checks an Authorization header for a scope.
type Authenticator interface {
	Enabled() bool
	Authenticate(authorization, scope string) (auth.Key, error)
}

// Options wires the admin server.
type Options struct {
	Ledger   Ledger
	Rules    RuleResolver
	Calendar budget.Calendar
	Keys     Authenticator // nil or disabled: the API is open (development only)
	Metrics  http.Handler  // served at /metrics when set
	// Ready reports whether this replica can serve traffic (ledger reachable).
	Ready  func(ctx context.Context) error
	Now    func() time.Time
	Logger *slog.Logger
}

type server struct {
	opts Options
}

// New returns the admin HTTP handler.
func New(opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	mux.Handle("GET /v1/clients/{client_id}", s.adminOnly(s.getClient))
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "No admin endpoint "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
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
		if s.opts.Keys != nil && s.opts.Keys.Enabled() {
			if _, err := s.opts.Keys.Authenticate(r.Header.Get("Authorization"), auth.ScopeAdmin); err != nil {
				if errors.Is(err, auth.ErrMissingScope) {
					writeError(w, http.StatusForbidden, "invalid_request_error", "insufficient_scope", "This key lacks the admin scope.")
					return
				}
				writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "A Proxide key with the admin scope is required.")
				return
			}
		}
		next(w, r)
	})
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, errType, code, message string) {
	var b errorBody
	b.Error.Message, b.Error.Type = message, errType
	if code != "" {
		b.Error.Code = &code
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
