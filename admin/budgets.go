package admin

import (
	"context"
	"encoding/base64"
	"math"
	"slices"
	"strings"

	"github.com/proxide/proxide/budget"
)

// MaxLimitUSD is the largest accepted limit: anything above is a typo, not a budget.
const MaxLimitUSD = 1e9

// Budget is a rule in force and where it comes from.
type Budget struct {
	Rule   budget.Rule
	Source string // budget.SourceAPI or budget.SourceFile
}

// LimitInput is a limit as a caller gives it: in dollars (REST, gRPC *_usd) or
// in nano-dollars (gRPC *_nano). Neither set means unlimited.
type LimitInput struct {
	USD  *float64
	Nano *int64
}

// BudgetInput is the body of SetBudget.
type BudgetInput struct {
	// Exactly one of ClientID, Match and Default.
	ClientID, Match string
	Default         bool
	Daily, Monthly  LimitInput
	// Action is "block", "alert" or "" (block).
	Action string
	// AlertThresholds nil means the default [0.8, 1.0]; empty non-nil means none.
	AlertThresholds []float64
	// Loop is the rule's loop detection; zero fields inherit the global setting.
	Loop budget.LoopSettings
	// Admission is "soft", "strict" or "" (soft).
	Admission string
	// Unmetered is "refuse", "allow" or "" (inherit the global endpoints.unmetered).
	Unmetered string
}

// rule validates the input field by field and builds the rule to store.
func (in BudgetInput) rule() (budget.Rule, error) {
	targets := 0
	for _, set := range []bool{in.ClientID != "", in.Match != "", in.Default} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return budget.Rule{}, fieldErr("client_id", `set exactly one of client_id, match or "default": true`)
	}
	daily, err := in.Daily.limit("daily_limit")
	if err != nil {
		return budget.Rule{}, err
	}
	monthly, err := in.Monthly.limit("monthly_limit")
	if err != nil {
		return budget.Rule{}, err
	}
	switch budget.Action(in.Action) {
	case "", budget.ActionBlock, budget.ActionAlert:
	default:
		return budget.Rule{}, fieldErr("action", "unknown action %q (want %q or %q)", in.Action, budget.ActionBlock, budget.ActionAlert)
	}
	// Rule.Validate checks the loop settings, naming loop_detection.<field>.
	switch budget.AdmissionMode(in.Admission) {
	case "", budget.AdmissionSoft, budget.AdmissionStrict:
	default:
		return budget.Rule{}, fieldErr("admission", "unknown mode %q (want %q or %q)", in.Admission, budget.AdmissionSoft, budget.AdmissionStrict)
	}
	switch budget.EndpointPolicy(in.Unmetered) {
	case budget.UnmeteredInherit, budget.UnmeteredRefuse, budget.UnmeteredAllow:
	default:
		return budget.Rule{}, fieldErr("endpoints.unmetered", "unknown policy %q (want %q or %q)", in.Unmetered, budget.UnmeteredRefuse, budget.UnmeteredAllow)
	}
	r := budget.Rule{ClientID: in.ClientID, Match: in.Match, Daily: daily, Monthly: monthly,
		Action: budget.Action(in.Action), AlertThresholds: slices.Clone(in.AlertThresholds), Loop: in.Loop,
		Admission: budget.AdmissionMode(in.Admission), Unmetered: budget.EndpointPolicy(in.Unmetered)}
	if r.Action == "" {
		r.Action = budget.ActionBlock
	}
	if r.Admission == budget.AdmissionSoft {
		r.Admission = "" // stored as the default, shown as "soft"
	}
	if err := r.Validate(); err != nil {
		return budget.Rule{}, validationErr(err)
	}
	return r, nil
}

// limit converts one limit, naming the field it came from.
func (l LimitInput) limit(name string) (budget.Limit, error) {
	switch {
	case l.USD != nil && l.Nano != nil:
		return budget.Limit{}, fieldErr(name+"_usd", "set %s_usd or %s_nano, not both", name, name)
	case l.USD != nil:
		v := *l.USD
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return budget.Limit{}, fieldErr(name+"_usd", "must be a finite number")
		case v < 0:
			return budget.Limit{}, fieldErr(name+"_usd", "must not be negative (got %g)", v)
		case v > MaxLimitUSD:
			return budget.Limit{}, fieldErr(name+"_usd", "must be at most %.0f USD (got %g)", MaxLimitUSD, v)
		}
		return budget.LimitOf(int64(math.Round(v * float64(budget.NanoPerUSD)))), nil
	case l.Nano != nil:
		v := *l.Nano
		if v < 0 || v > budget.MaxLimitNano {
			return budget.Limit{}, fieldErr(name+"_nano", "must be in [0, %d] (got %d)", budget.MaxLimitNano, v)
		}
		return budget.LimitOf(v), nil
	}
	return budget.Limit{}, nil
}

// validationErr turns Rule.Validate's joined "field: problem" errors into a
// FieldError naming the first field and listing every problem.
func validationErr(err error) *FieldError {
	parts := flatten(err)
	msgs := make([]string, 0, len(parts))
	param := ""
	for i, p := range parts {
		field, msg, ok := strings.Cut(p.Error(), ": ")
		if !ok || strings.Contains(field, " ") {
			field, msg = "", p.Error()
		}
		if i == 0 {
			param = field
			msgs = append(msgs, msg)
			continue
		}
		msgs = append(msgs, p.Error())
	}
	return &FieldError{Param: param, Message: strings.Join(msgs, "; ")}
}

// flatten lists the leaves of nested errors.Join trees (Rule.Validate joins
// LoopSettings.Validate's joined problems).
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

// ParseBudgetKey parses the key of GET/DELETE /v1/budgets/{key}: "default",
// "match:<pattern>", "client:<id>" or a bare client id. A client id that is
// literally "default" or starts with "client:" or "match:" needs the
// "client:" form.
func ParseBudgetKey(s string) (budget.RuleKey, error) {
	if s == "default" || strings.HasPrefix(s, "client:") || strings.HasPrefix(s, "match:") {
		k, err := budget.ParseRuleKey(s)
		if err != nil {
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), budget.ErrInvalid.Error()+": "), "rule key: ")
			return budget.RuleKey{}, fieldErr("key", "%s (want a client id, client:<id>, match:<pattern> or default)", msg)
		}
		return k, nil
	}
	if err := budget.ValidClientID(s); err != nil {
		return budget.RuleKey{}, fieldErr("key", "%v", err)
	}
	return budget.RuleKey{ClientID: s}, nil
}

// SetBudget validates and stores an API rule (upsert) and applies it on this
// replica at once. created is false when an API rule with the key existed.
func (s *Service) SetBudget(ctx context.Context, in BudgetInput) (b Budget, created bool, err error) {
	rule, err := in.rule()
	if err != nil {
		return Budget{}, false, err
	}
	created, err = s.opts.Store.PutRule(ctx, rule)
	if err != nil {
		return Budget{}, false, s.unavailable("storing a rule", err)
	}
	s.opts.Logger.Info("admin: budget rule set", "key", rule.Key().String(), "created", created)
	s.ruleChanged(ctx)
	return Budget{Rule: rule, Source: budget.SourceAPI}, created, nil
}

// GetBudget returns the rule in force for k: the stored API rule (read from
// the store, so a write on another replica shows at once), else the file rule.
func (s *Service) GetBudget(ctx context.Context, k budget.RuleKey) (Budget, error) {
	r, ok, err := s.opts.Store.GetRule(ctx, k)
	if err != nil {
		return Budget{}, s.unavailable("reading a rule", err)
	}
	if ok {
		return Budget{Rule: r, Source: budget.SourceAPI}, nil
	}
	if b, ok := s.fileRule(k); ok {
		return b, nil
	}
	return Budget{}, errorf(ErrNotFound, "no budget rule %s", k)
}

// fileRule finds the file rule in force for k, if any.
func (s *Service) fileRule(k budget.RuleKey) (Budget, bool) {
	if s.opts.Rules.Source(k) != budget.SourceFile {
		return Budget{}, false
	}
	for _, r := range s.opts.Rules.Effective() {
		if r.Key() == k {
			return Budget{Rule: r, Source: budget.SourceFile}, true
		}
	}
	return Budget{}, false
}

// PageQuery asks for one page of a list.
type PageQuery struct {
	Cursor string
	Limit  int // 0: the endpoint's default
}

// BudgetPage is one page of ListBudgets.
type BudgetPage struct {
	Budgets    []Budget
	NextCursor string // "" on the last page
}

// Page sizes of ListBudgets.
const (
	DefaultBudgetPage = 100
	MaxPage           = 1000
)

// pageLimit applies the default and checks the bounds.
func pageLimit(limit, def int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 1 || limit > MaxPage {
		return 0, fieldErr("limit", "must be between 1 and %d (got %d)", MaxPage, limit)
	}
	return limit, nil
}

// ListBudgets lists the rules in force on this replica: the default rule,
// then patterns, then client ids, each by key (the order of
// budget.RuleStore.ListRules). The cursor is the (encoded) last key of the
// previous page.
func (s *Service) ListBudgets(_ context.Context, q PageQuery) (BudgetPage, error) {
	limit, err := pageLimit(q.Limit, DefaultBudgetPage)
	if err != nil {
		return BudgetPage{}, err
	}
	var after *budget.RuleKey
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		k, kerr := budget.ParseRuleKey(string(raw))
		if err != nil || kerr != nil {
			return BudgetPage{}, fieldErr("cursor", "not a cursor returned by this API")
		}
		after = &k
	}
	rules := s.opts.Rules.Effective()
	slices.SortFunc(rules, func(a, b budget.Rule) int { return compareKeys(a.Key(), b.Key()) })
	var page BudgetPage
	for _, r := range rules {
		k := r.Key()
		if after != nil && compareKeys(k, *after) <= 0 {
			continue
		}
		if len(page.Budgets) == limit {
			last := page.Budgets[limit-1].Rule.Key().String()
			page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		page.Budgets = append(page.Budgets, Budget{Rule: r, Source: s.opts.Rules.Source(k)})
	}
	return page, nil
}

// compareKeys orders the default rule first, then patterns, then client ids.
func compareKeys(a, b budget.RuleKey) int {
	rank := func(k budget.RuleKey) int {
		switch {
		case k.Default:
			return 0
		case k.Match != "":
			return 1
		}
		return 2
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	return strings.Compare(a.String(), b.String())
}

// DeleteResult tells what a delete did.
type DeleteResult struct {
	Key budget.RuleKey
	// Fallback is the file rule in force for the key after the delete, if any.
	Fallback *Budget
}

// DeleteBudget deletes an API rule. A file rule with the same key applies
// again; a rule that exists only in the file is ErrFileRule.
func (s *Service) DeleteBudget(ctx context.Context, k budget.RuleKey) (DeleteResult, error) {
	deleted, err := s.opts.Store.DeleteRule(ctx, k)
	if err != nil {
		return DeleteResult{}, s.unavailable("deleting a rule", err)
	}
	if !deleted {
		if s.opts.Rules.Source(k) == budget.SourceFile {
			return DeleteResult{}, errorf(ErrFileRule, "budget rule %s is set in the config file: remove it there, or override it with SetBudget (POST /v1/budgets)", k)
		}
		return DeleteResult{}, errorf(ErrNotFound, "no budget rule %s", k)
	}
	s.opts.Logger.Info("admin: budget rule deleted", "key", k.String())
	s.ruleChanged(ctx)
	res := DeleteResult{Key: k}
	if b, ok := s.fileRule(k); ok {
		res.Fallback = &b
	}
	return res, nil
}
