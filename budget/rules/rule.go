package rules

import (
	"errors"
	"math"
	"slices"
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

// MaxThreshold bounds alert thresholds: 10× the limit is already far past any budget.
const MaxThreshold = 10

// defaultThresholds apply when a rule sets none (AlertThresholds nil).
var defaultThresholds = [...]float64{0.8, 1.0}

// DefaultThresholds are the alert thresholds of a rule that sets none, ascending. An
// array, so that reading them allocates nothing on the settle path.
func DefaultThresholds() [len(defaultThresholds)]float64 { return defaultThresholds }

// ppmScale is the fixed-point scale of alert thresholds: 0.8 becomes 800000.
const ppmScale = 1_000_000

// PPM converts a threshold fraction to parts per million, never 0 so that a tiny
// threshold still needs some spend to fire. Two thresholds with the same PPM are the same.
func PPM(f float64) int64 { return max(1, int64(math.Round(f*ppmScale))) }

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
		return slices.Clone(defaultThresholds[:])
	}
	return slices.Clone(r.AlertThresholds)
}

// Clone returns a copy of r that shares no memory with it (the thresholds slice), so a
// rule handed out cannot change one kept.
func (r Rule) Clone() Rule {
	if r.AlertThresholds != nil {
		r.AlertThresholds = append(make([]float64, 0, len(r.AlertThresholds)), r.AlertThresholds...)
	}
	return r
}

// Validate reports every problem of r as a *FieldError, joined, each naming its field as
// in the config file and the admin API (client_id, match, daily_limit_usd,
// monthly_limit_usd, action, admission, endpoints.unmetered, alert_thresholds[i],
// loop_detection.*). Limits must be in [0, MaxLimitUSD].
func (r Rule) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if r.ClientID != "" {
		if err := ValidClientID(r.ClientID); err != nil {
			add(fieldErr("client_id", "%v", err))
		}
	}
	if r.Match != "" {
		if err := validPattern(r.Match); err != nil {
			add(fieldErr("match", "%v", err))
		}
	}
	if r.ClientID != "" && r.Match != "" {
		add(&FieldError{Msg: "client_id and match: set only one of them"})
	}
	add(checkLimit("daily_limit_usd", r.Daily))
	add(checkLimit("monthly_limit_usd", r.Monthly))
	switch r.Action {
	case "", ActionBlock, ActionAlert:
	default:
		add(fieldErr("action", "unknown action %q (want %q or %q)", string(r.Action), ActionBlock, ActionAlert))
	}
	switch r.Admission {
	case "", AdmissionSoft, AdmissionStrict:
	default:
		add(fieldErr("admission", "unknown mode %q (want %q or %q)", string(r.Admission), AdmissionSoft, AdmissionStrict))
	}
	switch r.Unmetered {
	case UnmeteredInherit, UnmeteredRefuse, UnmeteredAllow:
	default:
		add(fieldErr("endpoints.unmetered", "unknown policy %q (want %q or %q)", string(r.Unmetered), UnmeteredRefuse, UnmeteredAllow))
	}
	seen := make(map[int64]bool, len(r.AlertThresholds))
	for i, f := range r.AlertThresholds {
		field := "alert_thresholds[" + itoa(i) + "]"
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			add(fieldErr(field, "must be a finite number"))
		case f <= 0 || f > MaxThreshold:
			add(fieldErr(field, "%g is outside (0, %d]", f, MaxThreshold))
		case seen[PPM(f)]:
			add(fieldErr(field, "duplicate threshold %g", f))
		default:
			seen[PPM(f)] = true
		}
	}
	add(r.Loop.Validate())
	return errors.Join(errs...)
}
