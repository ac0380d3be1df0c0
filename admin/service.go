package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxide/proxide/budget"
)

// RuleStore keeps the budget rules set through the API (in the ledger, so that
// every replica sees them).
type RuleStore interface {
	PutRule(ctx context.Context, r budget.Rule) (created bool, err error)
	GetRule(ctx context.Context, k budget.RuleKey) (budget.Rule, bool, error)
	DeleteRule(ctx context.Context, k budget.RuleKey) (bool, error)
}

// RuleSet is this replica's view of the rules in force: the file rules merged
// with the API rules (API wins).
type RuleSet interface {
	// Resolve returns the rule that applies to a client id.
	Resolve(clientID string) budget.Rule
	// Refresh reloads the API rules from the store now.
	Refresh(ctx context.Context) error
	// Effective lists every rule in force, default rule included.
	Effective() []budget.Rule
	// Source tells where the rule in force for k comes from: "api", "file" or "".
	Source(k budget.RuleKey) string
}

// Ledger is what the admin API reads from the budget ledger.
type Ledger interface {
	Spend(ctx context.Context, clientID string, rule budget.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error)
	History(ctx context.Context, clientID string, fromDay, toDay string) ([]budget.DayStats, error)
}

// ClientIndex lists the clients seen and their spend across all clients.
type ClientIndex interface {
	ListClients(ctx context.Context, q budget.ClientQuery) (budget.ClientPage, error)
	GlobalHistory(ctx context.Context, fromDay, toDay string) ([]budget.DayStats, error)
}

// LoopStore is what the admin API reads and clears of loop detection
// (budget.Memory, budget.Redis, budget.Resilient).
type LoopStore interface {
	// LoopEvents lists loop events, newest first, of one client or all.
	LoopEvents(ctx context.Context, q budget.LoopQuery) (budget.LoopPage, error)
	// LoopState tells whether a client is in a loop cooldown at now, and until when.
	LoopState(ctx context.Context, clientID string, now time.Time) (until time.Time, inCooldown bool, err error)
	// ClearLoop ends a client's cooldown now; false when there was nothing to clear.
	ClearLoop(ctx context.Context, clientID string) (bool, error)
}

// ServiceOptions wires a Service. Store, Rules, Ledger and Index are required.
type ServiceOptions struct {
	Store    RuleStore
	Rules    RuleSet
	Ledger   Ledger
	Index    ClientIndex
	Calendar budget.Calendar
	// OnRuleChange runs after every successful rule write, e.g. to drop caches
	// that remember a client as blocked under the old rule.
	OnRuleChange func()
	// Loops, when set, adds the loop_cooldown state and recent loop events to
	// clients and serves /v1/loops. nil: no client is ever in cooldown and
	// there are no loop events.
	Loops LoopStore
	// Concurrency bounds the ledger reads of one client page (default 16).
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
	if opts.Ledger == nil {
		errs = append(errs, errors.New("admin: ServiceOptions.Ledger is required"))
	}
	if opts.Index == nil {
		errs = append(errs, errors.New("admin: ServiceOptions.Index is required"))
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

// Errors of the Service besides *FieldError; the front doors map them to
// HTTP statuses and gRPC codes.
var (
	// ErrInvalidArgument is wrapped by every *FieldError.
	ErrInvalidArgument = errors.New("admin: invalid argument")
	// ErrNotFound: no such budget rule.
	ErrNotFound = errors.New("admin: not found")
	// ErrFileRule: the rule comes from the config file and cannot be deleted
	// through the API.
	ErrFileRule = errors.New("admin: rule is defined in the config file")
)

// FieldError is bad input, naming the field (OpenAI's "param").
type FieldError struct {
	Param   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Param == "" {
		return e.Message
	}
	return e.Param + ": " + e.Message
}

// Unwrap makes errors.Is(err, ErrInvalidArgument) true.
func (e *FieldError) Unwrap() error { return ErrInvalidArgument }

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

func fieldErr(param, format string, args ...any) *FieldError {
	return &FieldError{Param: param, Message: fmt.Sprintf(format, args...)}
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
// resolves with the new rule.
func (s *Service) ruleChanged(ctx context.Context) {
	// The write is done: apply it even if the caller hung up meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	if err := s.opts.Rules.Refresh(ctx); err != nil {
		// The write is stored; the periodic refresh will pick it up.
		s.opts.Logger.Warn("admin: refreshing rules after a write failed", "err", err)
	}
	if s.opts.OnRuleChange != nil {
		s.opts.OnRuleChange()
	}
}
