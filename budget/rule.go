package budget

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Action says what happens when a client's budget is exhausted.
type Action string

const (
	// ActionBlock refuses requests once a limit is reached (HTTP 402).
	ActionBlock Action = "block"
	// ActionAlert never refuses; it only reports threshold crossings.
	ActionAlert Action = "alert"
)

// AdmissionMode says how a request's estimate is checked against the room left.
type AdmissionMode string

const (
	// AdmissionSoft (the default) admits while spent + reserved < limit: concurrent
	// requests cannot all slip past a nearly spent budget, and the overshoot is bounded
	// by one request's worst case.
	AdmissionSoft AdmissionMode = "soft"
	// AdmissionStrict admits only when spent + reserved + estimate <= limit, so spend
	// never passes the limit; a request whose worst case does not fit is refused.
	AdmissionStrict AdmissionMode = "strict"
)

// EndpointPolicy says what happens to paid endpoints an ext_proc sidecar cannot meter
// (realtime sessions, fine-tuning jobs, …).
type EndpointPolicy string

const (
	// UnmeteredInherit ("") takes the global endpoints.unmetered setting.
	UnmeteredInherit EndpointPolicy = ""
	// UnmeteredRefuse answers 403 endpoint_not_metered.
	UnmeteredRefuse EndpointPolicy = "refuse"
	// UnmeteredAllow lets the call through, counted per client and endpoint.
	UnmeteredAllow EndpointPolicy = "allow"
)

// MaxClientIDBytes is the longest accepted client id, in bytes.
const MaxClientIDBytes = 256

// maxThreshold bounds alert thresholds: 10× the limit is already far past any budget.
const maxThreshold = 10

// Rule is the budget of the clients it applies to. Set exactly one of ClientID (an exact
// rule) or Match (a prefix pattern), or neither for the default rule.
type Rule struct {
	// ClientID makes an exact rule for this one client id.
	ClientID string
	// Match is a prefix pattern ending in a single trailing "*", e.g. "user-*"; "*" alone
	// matches every client.
	Match string
	// Daily and Monthly are the limits per calendar day and month; the zero value is unlimited.
	Daily, Monthly Limit
	// Action is ActionBlock or ActionAlert; "" means block.
	Action Action
	// AlertThresholds are fractions of a limit in (0, 10] whose crossing is reported once
	// per period. nil means the default [0.8, 1.0]; an empty non-nil slice means none.
	AlertThresholds []float64
	// Loop overrides the global loop-detection settings for this rule's clients; the
	// zero value inherits them.
	Loop LoopSettings
	// Admission is AdmissionSoft ("" too) or AdmissionStrict.
	Admission AdmissionMode
	// Unmetered overrides the global policy for unmeterable paid endpoints; ""
	// inherits it.
	Unmetered EndpointPolicy
}

// Strict reports whether the rule admits only requests whose estimate fits.
func (r Rule) Strict() bool { return r.Admission == AdmissionStrict }

// Blocks reports whether an exhausted budget refuses requests (Action block or "").
func (r Rule) Blocks() bool { return r.Action != ActionAlert }

// Thresholds returns the alert thresholds in effect: the rule's own, or the default
// [0.8, 1.0] when AlertThresholds is nil. The result is a fresh slice.
func (r Rule) Thresholds() []float64 {
	if r.AlertThresholds == nil {
		return []float64{0.8, 1.0}
	}
	return append([]float64(nil), r.AlertThresholds...)
}

// Validate reports every problem of r, joined, each naming its field as in the config
// file (client_id, match, daily_limit_usd, monthly_limit_usd, action, alert_thresholds,
// loop_detection.*).
func (r Rule) Validate() error {
	var errs []error
	if r.ClientID != "" {
		if err := ValidClientID(r.ClientID); err != nil {
			errs = append(errs, fmt.Errorf("client_id: %w", err))
		}
	}
	if r.Match != "" {
		if err := validPattern(r.Match); err != nil {
			errs = append(errs, fmt.Errorf("match: %w", err))
		}
	}
	if r.ClientID != "" && r.Match != "" {
		errs = append(errs, errors.New("client_id and match: set only one of them"))
	}
	if r.Daily.Nano < 0 {
		errs = append(errs, fmt.Errorf("daily_limit_usd: must not be negative (got %d nano-USD)", r.Daily.Nano))
	}
	if r.Monthly.Nano < 0 {
		errs = append(errs, fmt.Errorf("monthly_limit_usd: must not be negative (got %d nano-USD)", r.Monthly.Nano))
	}
	switch r.Action {
	case "", ActionBlock, ActionAlert:
	default:
		errs = append(errs, fmt.Errorf("action: unknown action %q (want %q or %q)", string(r.Action), ActionBlock, ActionAlert))
	}
	switch r.Admission {
	case "", AdmissionSoft, AdmissionStrict:
	default:
		errs = append(errs, fmt.Errorf("admission: unknown mode %q (want %q or %q)", string(r.Admission), AdmissionSoft, AdmissionStrict))
	}
	switch r.Unmetered {
	case UnmeteredInherit, UnmeteredRefuse, UnmeteredAllow:
	default:
		errs = append(errs, fmt.Errorf("endpoints.unmetered: unknown policy %q (want %q or %q)", string(r.Unmetered), UnmeteredRefuse, UnmeteredAllow))
	}
	seen := make(map[int64]bool, len(r.AlertThresholds))
	for i, f := range r.AlertThresholds {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			errs = append(errs, fmt.Errorf("alert_thresholds[%d]: must be a finite number", i))
		case f <= 0 || f > maxThreshold:
			errs = append(errs, fmt.Errorf("alert_thresholds[%d]: %g is outside (0, %d]", i, f, maxThreshold))
		case seen[thresholdPPM(f)]:
			errs = append(errs, fmt.Errorf("alert_thresholds[%d]: duplicate threshold %g", i, f))
		default:
			seen[thresholdPPM(f)] = true
		}
	}
	if err := r.Loop.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidClientID reports why id is not a valid client id, or nil: it must be 1–256 bytes of
// valid UTF-8 without control characters. Shared by extproc and the admin API.
func ValidClientID(id string) error {
	if id == "" {
		return errors.New("client id is empty")
	}
	if len(id) > MaxClientIDBytes {
		return fmt.Errorf("client id is %d bytes, at most %d allowed", len(id), MaxClientIDBytes)
	}
	return validText(id, "client id")
}

// validText checks UTF-8 validity and the absence of control characters.
func validText(s, what string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i, c := range s {
		if unicode.IsControl(c) {
			return fmt.Errorf("%s has a control character at byte %d", what, i)
		}
	}
	return nil
}

// validPattern checks a prefix pattern: a valid client-id prefix followed by one "*".
func validPattern(p string) error {
	prefix, ok := strings.CutSuffix(p, "*")
	if !ok {
		return fmt.Errorf("pattern %q must end in a trailing \"*\"", p)
	}
	if strings.Contains(prefix, "*") {
		return fmt.Errorf("pattern %q may contain only one \"*\", at the end", p)
	}
	if len(prefix) > MaxClientIDBytes {
		return fmt.Errorf("pattern prefix is %d bytes, at most %d allowed", len(prefix), MaxClientIDBytes)
	}
	return validText(prefix, "pattern")
}
