package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// Store is everything the admin API reads and writes of the shared store: the rules set
// through the API (stored so that every replica sees them), each client's spend and
// history, the client index and analytics, and loop events and cooldowns. In production
// it is budget/blockcache's Store over budget/memory or budget/redis.
type Store interface {
	PutRule(ctx context.Context, r rules.Rule) (created bool, err error)
	GetRule(ctx context.Context, k rules.Key) (rules.Rule, bool, error)
	DeleteRule(ctx context.Context, k rules.Key) (bool, error)

	Spend(ctx context.Context, clientID string, rule rules.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error)
	History(ctx context.Context, clientID string, fromDay, toDay string) ([]budget.DayStats, error)
	ListClients(ctx context.Context, q budget.ClientQuery) (budget.ClientPage, error)
	GlobalHistory(ctx context.Context, fromDay, toDay string) ([]budget.DayStats, error)

	// LoopEvents lists loop events, newest first, of one client or all.
	LoopEvents(ctx context.Context, q budget.LoopQuery) (budget.LoopPage, error)
	// LoopState tells whether a client is in a loop cooldown at now, and until when.
	LoopState(ctx context.Context, clientID string, now time.Time) (until time.Time, inCooldown bool, err error)
	// ClearLoop ends a client's cooldown now; false when there was nothing to clear.
	ClearLoop(ctx context.Context, clientID string) (bool, error)
}

// RuleSet is this replica's view of the rules in force: the file rules merged
// with the API rules (API wins); rules.Dynamic in production.
type RuleSet interface {
	// Resolve returns the rule that applies to a client id.
	Resolve(clientID string) rules.Rule
	// Refresh reloads the API rules from the store now.
	Refresh(ctx context.Context) error
	// Effective lists every rule in force, default rule included.
	Effective() []rules.Rule
	// Source tells where the rule in force for k comes from: "api", "file" or "".
	Source(k rules.Key) string
}

// ServiceOptions wires a Service. Store and Rules are required.
type ServiceOptions struct {
	Store    Store
	Rules    RuleSet
	Calendar budget.Calendar
	// Concurrency bounds the store reads of one client page (default 16).
	Concurrency int
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service is the admin API as plain Go methods. The REST handler and the gRPC
// server are thin adapters over it, so the two cannot drift.
type Service struct {
	opts ServiceOptions
}

// NewService checks the options and returns the service.
func NewService(opts ServiceOptions) (*Service, error) {
	var errs []error
	if opts.Store == nil {
		errs = append(errs, errors.New("admin: ServiceOptions.Store is required"))
	}
	if opts.Rules == nil {
		errs = append(errs, errors.New("admin: ServiceOptions.Rules is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	return &Service{opts: opts}, nil
}

// refreshTimeout bounds the reload of the rules after a write.
const refreshTimeout = 2 * time.Second

// Errors of the Service besides *rules.FieldError (bad input, naming the field: OpenAI's
// "param"); the front doors map them to HTTP statuses and gRPC codes.
var (
	// ErrNotFound: no such budget rule.
	ErrNotFound = errors.New("admin: not found")
	// ErrFileRule: the rule comes from the config file and cannot be deleted
	// through the API.
	ErrFileRule = errors.New("admin: rule is defined in the config file")
)

// kindError is an error shown to API callers as is, classified by a sentinel.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// errorf returns an error that errors.Is kind, with a message for callers.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// fieldErr is bad input in param.
func fieldErr(param, format string, args ...any) *rules.FieldError {
	return &rules.FieldError{Field: param, Msg: fmt.Sprintf(format, args...)}
}

// unavailable logs a store error and returns it wrapped as budget.ErrUnavailable
// unless it already says what it is.
func (s *Service) unavailable(op string, err error) error {
	s.opts.Logger.Error("admin: "+op+" failed", "err", err)
	if errors.Is(err, budget.ErrUnavailable) || errors.Is(err, budget.ErrInvalid) {
		return fmt.Errorf("admin: %s: %w", op, err)
	}
	return fmt.Errorf("admin: %s: %w: %w", op, budget.ErrUnavailable, err)
}

// ruleChanged applies a write on this replica right away: the next request
// resolves with the new rule (and the store forgot its refusals when it saw
// the write).
func (s *Service) ruleChanged(ctx context.Context) {
	// The write is done: apply it even if the caller hung up meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	if err := s.opts.Rules.Refresh(ctx); err != nil {
		// The write is stored; the periodic refresh will pick it up.
		s.opts.Logger.Warn("admin: refreshing rules after a write failed", "err", err)
	}
}
