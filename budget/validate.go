package budget

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/proxide/proxide/budget/rules"
)

// invalid wraps problems as ErrInvalid, or returns nil when there are none.
func invalid(op string, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, op, err)
	}
	return nil
}

func validID(id string) error {
	if id == "" {
		return errors.New("id: empty")
	}
	if len(id) > MaxIDBytes {
		return fmt.Errorf("id: %d bytes, at most %d allowed", len(id), MaxIDBytes)
	}
	if err := rules.ValidText(id, "id"); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	return nil
}

func validAmount(field string, n int64) error {
	if n < 0 || n > MaxAmountNano {
		return fmt.Errorf("%s: %d is outside [0, %d] nano-USD", field, n, MaxAmountNano)
	}
	return nil
}

// common checks the fields every ledger call shares.
func common(clientID string, rule rules.Rule, p Periods, now time.Time) []error {
	var errs []error
	if err := rules.ValidClientID(clientID); err != nil {
		errs = append(errs, fmt.Errorf("client_id: %w", err))
	}
	if err := rule.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("rule: %w", err))
	}
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	if now.IsZero() {
		errs = append(errs, errors.New("now: zero time"))
	}
	return errs
}

// Validate checks r and returns its TTL with the default applied. Every backend calls it
// first; a problem wraps ErrInvalid and nothing changes.
func (r ReserveRequest) Validate() (time.Duration, error) {
	errs := common(r.ClientID, r.Rule, r.Periods, r.Now)
	if err := validID(r.ID); err != nil {
		errs = append(errs, err)
	}
	if err := validAmount("estimate", r.EstimateNano); err != nil {
		errs = append(errs, err)
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = DefaultReservationTTL
	}
	if ttl < 0 || ttl > MaxReservationTTL {
		errs = append(errs, fmt.Errorf("ttl: %v is outside (0, %v]", r.TTL, MaxReservationTTL))
	}
	if err := r.Loop.validate(); err != nil {
		errs = append(errs, err)
	}
	return ttl, invalid("reserve", errs)
}

// Validate checks s; a problem wraps ErrInvalid.
func (s SettleRequest) Validate() error {
	errs := common(s.ClientID, s.Rule, s.Periods, s.Now)
	if err := validID(s.ID); err != nil {
		errs = append(errs, err)
	}
	if err := validAmount("actual", s.ActualNano); err != nil {
		errs = append(errs, err)
	}
	for _, t := range [...]struct {
		name string
		n    int64
	}{{"prompt", s.Tokens.Prompt}, {"cached", s.Tokens.Cached}, {"completion", s.Tokens.Completion}, {"reasoning", s.Tokens.Reasoning}} {
		if t.n < 0 {
			errs = append(errs, fmt.Errorf("tokens.%s: negative", t.name))
		}
	}
	errs = append(errs, validRemember(s.Remember)...)
	return invalid("settle", errs)
}

// ValidateSpend checks the arguments of Store.Spend.
func ValidateSpend(clientID string, rule rules.Rule, p Periods, now time.Time) error {
	return invalid("spend", common(clientID, rule, p, now))
}

// HistoryDays validates the arguments of Store.History and returns the range's day keys
// in order.
func HistoryDays(clientID, fromDay, toDay string) ([]string, error) {
	var errs []error
	if err := rules.ValidClientID(clientID); err != nil {
		errs = append(errs, fmt.Errorf("client_id: %w", err))
	}
	days, rangeErrs := dayRange(fromDay, toDay)
	if err := invalid("history", append(errs, rangeErrs...)); err != nil {
		return nil, err
	}
	return days, nil
}

// dayRange checks a from/to pair of day keys and lists the days between, inclusive.
func dayRange(fromDay, toDay string) ([]string, []error) {
	var errs []error
	from, err1 := time.Parse(dayKeyLayout, fromDay)
	if err1 != nil || from.Format(dayKeyLayout) != fromDay {
		errs = append(errs, fmt.Errorf("from: %q is not a day key like 2026-11-28", truncate(fromDay, 32)))
	}
	to, err2 := time.Parse(dayKeyLayout, toDay)
	if err2 != nil || to.Format(dayKeyLayout) != toDay {
		errs = append(errs, fmt.Errorf("to: %q is not a day key like 2026-11-28", truncate(toDay, 32)))
	}
	if len(errs) == 0 {
		switch n := int(to.Sub(from).Hours()/24) + 1; {
		case n < 1:
			errs = append(errs, fmt.Errorf("from: %s is after to %s", fromDay, toDay))
		case n > MaxHistoryDays:
			errs = append(errs, fmt.Errorf("to: range of %d days, at most %d allowed", n, MaxHistoryDays))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var days []string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(dayKeyLayout))
	}
	return days, nil
}

// maxModelBytes bounds the model name kept in stats.
const maxModelBytes = 128

// ModelName normalises the model label of stats instead of rejecting the settlement: a
// garbled upstream model name must never lose spend. "" is "unknown"; '|' (the Redis
// field separator) and control characters become '_'; at most 128 bytes.
func ModelName(m string) string {
	if m == "" {
		return "unknown"
	}
	m = strings.ToValidUTF8(m, "\uFFFD")
	m = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '|' {
			return '_'
		}
		return r
	}, m)
	if len(m) > maxModelBytes {
		cut := maxModelBytes
		for cut > 0 && !utf8.RuneStart(m[cut]) {
			cut--
		}
		m = m[:cut]
	}
	return m
}

// Validate checks h; a problem wraps ErrInvalid.
func (h HoldRequest) Validate() error {
	errs := common(h.ClientID, rules.Rule{}, h.Periods, h.Now)
	if err := validID(h.ID); err != nil {
		errs = append(errs, err)
	}
	if err := validID(h.NewID); err != nil {
		errs = append(errs, fmt.Errorf("new_%w", err))
	}
	if err := validAmount("estimate", h.EstimateNano); err != nil {
		errs = append(errs, err)
	}
	if d := h.Expiry.Sub(h.Now); d <= 0 || d > MaxHoldTTL {
		errs = append(errs, fmt.Errorf("expiry: %v from now is outside (0, %v]", d, MaxHoldTTL))
	}
	return invalid("hold", errs)
}

// validRemember checks the contexts a settlement remembers.
func validRemember(rs []Remember) []error {
	var errs []error
	for i, r := range rs {
		if err := validID(r.Key); err != nil {
			errs = append(errs, fmt.Errorf("remember[%d].key: %w", i, err))
		}
		if r.Tokens < 0 {
			errs = append(errs, fmt.Errorf("remember[%d].tokens: negative", i))
		}
		if r.TTL <= 0 || r.TTL > MaxContextTTL {
			errs = append(errs, fmt.Errorf("remember[%d].ttl: %v is outside (0, %v]", i, r.TTL, MaxContextTTL))
		}
	}
	return errs
}

// ValidateLeases checks the arguments of Ledger.Extend.
func ValidateLeases(leases []Lease) error {
	for _, l := range leases {
		if err := validID(l.ID); err != nil {
			return fmt.Errorf("%w: extend: %w", ErrInvalid, err)
		}
		if err := rules.ValidClientID(l.ClientID); err != nil {
			return fmt.Errorf("%w: extend: %w", ErrInvalid, err)
		}
	}
	return nil
}

// ValidateRemember checks the arguments of Ledger.Remember.
func ValidateRemember(clientID string, rs []Remember) error {
	if err := ValidateClient("remember", clientID); err != nil {
		return err
	}
	return invalid("remember", validRemember(rs))
}

// ValidateClient checks the client id of the call op; a problem wraps ErrInvalid.
func ValidateClient(op, clientID string) error {
	if err := rules.ValidClientID(clientID); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, op, err)
	}
	return nil
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
