package admin

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/proxide/proxide/budget/rules"
)

// Budget is a rule in force and where it comes from.
type Budget struct {
	Rule   rules.Rule
	Source string // rules.SourceAPI or rules.SourceFile
}

// ruleOf checks a rule written through the API (REST or gRPC) and converts it: exactly
// one of client_id, match and default addresses it, then rules.Spec.Rule checks every
// field. A problem is a *rules.FieldError naming the first bad field, its message listing
// every problem.
func ruleOf(spec rules.Spec) (rules.Rule, error) {
	targets := 0
	for _, set := range []bool{spec.ClientID != "", spec.Match != "", spec.Default} {
		if set {
			targets++
		}
	}
	if targets != 1 {
		return rules.Rule{}, fieldErr("client_id", `set exactly one of client_id, match or "default": true`)
	}
	r, err := spec.Rule()
	if err != nil {
		return rules.Rule{}, validationErr(err)
	}
	return r, nil
}

// validationErr turns joined field problems into one FieldError naming the first field
// and listing every problem.
func validationErr(err error) *rules.FieldError {
	fes := rules.FieldErrors(err)
	msgs := make([]string, 0, len(fes))
	for i, fe := range fes {
		if i == 0 {
			msgs = append(msgs, fe.Msg)
			continue
		}
		msgs = append(msgs, fe.Error())
	}
	return &rules.FieldError{Field: fes[0].Field, Msg: strings.Join(msgs, "; ")}
}

// ParseBudgetKey parses the key of GET/DELETE /v1/budgets/{key}: "default",
// "match:<pattern>", "client:<id>" or a bare client id. A client id that is
// literally "default" or starts with "client:" or "match:" needs the
// "client:" form.
func ParseBudgetKey(s string) (rules.Key, error) {
	if s == "default" || strings.HasPrefix(s, "client:") || strings.HasPrefix(s, "match:") {
		k, err := rules.ParseKey(s)
		if err != nil {
			return rules.Key{}, fieldErr("key", "%v (want a client id, client:<id>, match:<pattern> or default)", err)
		}
		return k, nil
	}
	if err := rules.ValidClientID(s); err != nil {
		return rules.Key{}, fieldErr("key", "%v", err)
	}
	return rules.Key{ClientID: s}, nil
}

// SetBudget validates and stores an API rule (upsert) and applies it on this
// replica at once. created is false when an API rule with the key existed.
func (s *Service) SetBudget(ctx context.Context, spec rules.Spec) (b Budget, created bool, err error) {
	rule, err := ruleOf(spec)
	if err != nil {
		return Budget{}, false, err
	}
	created, err = s.opts.Store.PutRule(ctx, rule)
	if err != nil {
		return Budget{}, false, s.unavailable("storing a rule", err)
	}
	s.opts.Logger.Info("admin: budget rule set", "key", rule.Key().String(), "created", created)
	s.ruleChanged(ctx)
	return Budget{Rule: rule, Source: rules.SourceAPI}, created, nil
}

// GetBudget returns the rule in force for k: the stored API rule (read from
// the store, so a write on another replica shows at once), else the file rule.
func (s *Service) GetBudget(ctx context.Context, k rules.Key) (Budget, error) {
	r, ok, err := s.opts.Store.GetRule(ctx, k)
	if err != nil {
		return Budget{}, s.unavailable("reading a rule", err)
	}
	if ok {
		return Budget{Rule: r, Source: rules.SourceAPI}, nil
	}
	if b, ok := s.fileRule(k); ok {
		return b, nil
	}
	return Budget{}, errorf(ErrNotFound, "no budget rule %s", k)
}

// fileRule finds the file rule in force for k, if any.
func (s *Service) fileRule(k rules.Key) (Budget, bool) {
	if s.opts.Rules.Source(k) != rules.SourceFile {
		return Budget{}, false
	}
	for _, r := range s.opts.Rules.Effective() {
		if r.Key() == k {
			return Budget{Rule: r, Source: rules.SourceFile}, true
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

// ListBudgets lists the rules in force on this replica in the order of
// rules.Compare: the default rule, then patterns, then client ids, each by
// key. The cursor is the (encoded) last key of the previous page.
func (s *Service) ListBudgets(_ context.Context, q PageQuery) (BudgetPage, error) {
	limit, err := pageLimit(q.Limit, DefaultBudgetPage)
	if err != nil {
		return BudgetPage{}, err
	}
	var after *rules.Key
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		k, kerr := rules.ParseKey(string(raw))
		if err != nil || kerr != nil {
			return BudgetPage{}, fieldErr("cursor", "not a cursor returned by this API")
		}
		after = &k
	}
	effective := s.opts.Rules.Effective()
	rules.Sort(effective)
	var page BudgetPage
	for _, r := range effective {
		k := r.Key()
		if after != nil && rules.Compare(k, *after) <= 0 {
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

// DeleteResult tells what a delete did.
type DeleteResult struct {
	Key rules.Key
	// Fallback is the file rule in force for the key after the delete, if any.
	Fallback *Budget
}

// DeleteBudget deletes an API rule. A file rule with the same key applies
// again; a rule that exists only in the file is ErrFileRule.
func (s *Service) DeleteBudget(ctx context.Context, k rules.Key) (DeleteResult, error) {
	deleted, err := s.opts.Store.DeleteRule(ctx, k)
	if err != nil {
		return DeleteResult{}, s.unavailable("deleting a rule", err)
	}
	if !deleted {
		if s.opts.Rules.Source(k) == rules.SourceFile {
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
