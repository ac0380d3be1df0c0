package budget

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxStoredRules caps the rules a RuleStore holds; PutRule of a new key beyond it fails
// with ErrInvalid. Every replica keeps the whole set in memory, so it must stay bounded.
const MaxStoredRules = 100_000

// MaxLimitNano is the largest limit PutRule accepts: 1e9 USD, like the admin API and the
// config file. Larger values are a typo, and the bound keeps sums far from overflow.
const MaxLimitNano int64 = 1_000_000_000 * NanoPerUSD

// RuleKey addresses one rule: exactly one of ClientID, Match, or Default.
type RuleKey struct {
	ClientID, Match string
	Default         bool
}

// Key returns the key of r, derived from ClientID and Match; with neither it is the
// default rule's key. A rule with both set (invalid) is keyed by its ClientID.
func (r Rule) Key() RuleKey {
	switch {
	case r.ClientID != "":
		return RuleKey{ClientID: r.ClientID}
	case r.Match != "":
		return RuleKey{Match: r.Match}
	}
	return RuleKey{Default: true}
}

const (
	clientKeyPrefix = "client:"
	matchKeyPrefix  = "match:"
	defaultKeyName  = "default"
)

// String returns "client:<id>", "match:<pattern>" or "default" ("" for the zero key).
// ParseRuleKey reverses it.
func (k RuleKey) String() string {
	switch {
	case k.Default:
		return defaultKeyName
	case k.ClientID != "":
		return clientKeyPrefix + k.ClientID
	case k.Match != "":
		return matchKeyPrefix + k.Match
	}
	return ""
}

// ParseRuleKey parses the form String returns; errors wrap ErrInvalid.
func ParseRuleKey(s string) (RuleKey, error) {
	var k RuleKey
	switch {
	case s == defaultKeyName:
		k.Default = true
	case strings.HasPrefix(s, clientKeyPrefix):
		k.ClientID = s[len(clientKeyPrefix):]
	case strings.HasPrefix(s, matchKeyPrefix):
		k.Match = s[len(matchKeyPrefix):]
	default:
		return RuleKey{}, fmt.Errorf("%w: rule key %q: want client:<id>, match:<pattern> or default", ErrInvalid, truncate(s, 64))
	}
	if err := k.validate(); err != nil {
		return RuleKey{}, err
	}
	return k, nil
}

// validate checks that exactly one part of k is set, and set to something valid.
func (k RuleKey) validate() error {
	n := 0
	for _, set := range []bool{k.Default, k.ClientID != "", k.Match != ""} {
		if set {
			n++
		}
	}
	var err error
	switch {
	case n != 1:
		err = errors.New("set exactly one of client_id, match or default")
	case k.ClientID != "":
		if e := ValidClientID(k.ClientID); e != nil {
			err = fmt.Errorf("client_id: %w", e)
		}
	case k.Match != "":
		if e := validPattern(k.Match); e != nil {
			err = fmt.Errorf("match: %w", e)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: rule key: %w", ErrInvalid, err)
	}
	return nil
}

// kindRank orders keys as ListRules does: default, then patterns, then client ids.
func (k RuleKey) kindRank() int {
	switch {
	case k.Default:
		return 0
	case k.Match != "":
		return 1
	}
	return 2
}

// RuleStore keeps the runtime rules that the admin API writes and every replica reads.
// *Memory and *Redis implement it; *Resilient passes it through (rule writes fail with
// ErrUnavailable during an outage, they are never buffered).
type RuleStore interface {
	// PutRule upserts r by r.Key(), after validating it (ErrInvalid, nothing stored), and
	// bumps the version. created is true when no rule had that key.
	PutRule(ctx context.Context, r Rule) (created bool, err error)
	// GetRule returns the rule stored under k.
	GetRule(ctx context.Context, k RuleKey) (Rule, bool, error)
	// DeleteRule removes the rule under k and bumps the version when there was one.
	DeleteRule(ctx context.Context, k RuleKey) (bool, error)
	// ListRules returns every stored rule: the default first, then patterns, then client
	// ids, each group by key string.
	ListRules(ctx context.Context) ([]Rule, error)
	// RulesVersion changes on every write; it is cheap (one GET on Redis) for polling.
	RulesVersion(ctx context.Context) (int64, error)
}

// validateStoredRule checks a rule before PutRule stores it.
func validateStoredRule(r Rule) error {
	errs := []error{r.Validate()}
	for _, l := range []struct {
		field string
		l     Limit
	}{{"daily_limit_usd", r.Daily}, {"monthly_limit_usd", r.Monthly}} {
		if l.l.Set && l.l.Nano > MaxLimitNano {
			errs = append(errs, fmt.Errorf("%s: %d nano-USD is above the maximum of 1e9 USD", l.field, l.l.Nano))
		}
	}
	return invalid("put rule", errs)
}

// sortRules orders rules like ListRules.
func sortRules(rs []Rule) {
	slices.SortFunc(rs, func(a, b Rule) int {
		ka, kb := a.Key(), b.Key()
		if c := cmp.Compare(ka.kindRank(), kb.kindRank()); c != 0 {
			return c
		}
		return strings.Compare(ka.String(), kb.String())
	})
}

// storedRule is the JSON form of a rule in Redis: integer nano limits (no float
// rounding), absent = unlimited. AlertThresholds keeps nil (default thresholds, JSON
// null) apart from empty (no alerts, JSON []).
type storedRule struct {
	ClientID        string    `json:"client_id,omitempty"`
	Match           string    `json:"match,omitempty"`
	DailyNano       *int64    `json:"daily_limit_nano,omitempty"`
	MonthlyNano     *int64    `json:"monthly_limit_nano,omitempty"`
	Action          Action    `json:"action,omitempty"`
	AlertThresholds []float64 `json:"alert_thresholds"`
	// Loop is absent for rules that inherit every loop setting (and in rules stored
	// before loop detection existed, which therefore still decode).
	Loop *storedLoop `json:"loop_detection,omitempty"`
	// Admission and Unmetered are absent for the defaults (and in older rules).
	Admission AdmissionMode  `json:"admission,omitempty"`
	Unmetered EndpointPolicy `json:"unmetered,omitempty"`
}

func encodeRule(r Rule) (string, error) {
	s := storedRule{ClientID: r.ClientID, Match: r.Match, Action: r.Action, AlertThresholds: r.AlertThresholds, Loop: encodeLoop(r.Loop),
		Admission: r.Admission, Unmetered: r.Unmetered}
	if r.Daily.Set {
		s.DailyNano = &r.Daily.Nano
	}
	if r.Monthly.Set {
		s.MonthlyNano = &r.Monthly.Nano
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("%w: encoding rule: %w", ErrInvalid, err)
	}
	return string(b), nil
}

// decodeRule parses a stored rule and checks that it is valid and belongs to key, so a
// hand-edited or corrupt entry is never applied.
func decodeRule(key, v string) (Rule, error) {
	var s storedRule
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Rule{}, fmt.Errorf("stored rule %q: %w", truncate(key, 64), err)
	}
	r := Rule{ClientID: s.ClientID, Match: s.Match, Action: s.Action, AlertThresholds: s.AlertThresholds, Loop: s.Loop.settings(),
		Admission: s.Admission, Unmetered: s.Unmetered}
	if s.DailyNano != nil {
		r.Daily = LimitOf(*s.DailyNano)
	}
	if s.MonthlyNano != nil {
		r.Monthly = LimitOf(*s.MonthlyNano)
	}
	if err := validateStoredRule(r); err != nil {
		return Rule{}, fmt.Errorf("stored rule %q: %w", truncate(key, 64), err)
	}
	if r.Key().String() != key {
		return Rule{}, fmt.Errorf("stored rule %q: holds the rule of %q", truncate(key, 64), truncate(r.Key().String(), 64))
	}
	return r, nil
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
