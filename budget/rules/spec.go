package rules

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// Spec is a budget rule as people write it. The config file (YAML, budgets.default and
// budgets.rules[]) and the admin API (the JSON body of POST /v1/budgets) use the same
// keys; the gRPC API maps its fields onto it. Rule converts it: the one place where
// dollars become nano-dollars and a rule is checked.
type Spec struct {
	// ClientID makes an exact rule, Match a prefix pattern ("user-*"); Default (admin API
	// only: the config file has budgets.default) addresses the default rule.
	ClientID string `json:"client_id,omitempty" mapstructure:"client_id"`
	Match    string `json:"match,omitempty" mapstructure:"match"`
	Default  bool   `json:"default,omitempty" mapstructure:"-"`
	// Limits in USD; absent (or JSON null) is unlimited.
	DailyLimitUSD   *float64 `json:"daily_limit_usd,omitempty" mapstructure:"daily_limit_usd"`
	MonthlyLimitUSD *float64 `json:"monthly_limit_usd,omitempty" mapstructure:"monthly_limit_usd"`
	// DailyLimitNano and MonthlyLimitNano give a limit in exact nano-USD instead (the gRPC
	// API's *_nano fields); set at most one of each pair. Not keys of the file or the
	// REST API.
	DailyLimitNano   *int64 `json:"-" mapstructure:"-"`
	MonthlyLimitNano *int64 `json:"-" mapstructure:"-"`
	// Action is "block" (or "") or "alert".
	Action string `json:"action,omitempty" mapstructure:"action"`
	// AlertThresholds absent or null is the default [0.8, 1.0]; [] is none.
	AlertThresholds []float64 `json:"alert_thresholds" mapstructure:"alert_thresholds"`
	// LoopDetection absent inherits every loop setting.
	LoopDetection *LoopSpec `json:"loop_detection,omitempty" mapstructure:"loop_detection"`
	// Admission is "soft" (or "") or "strict".
	Admission string `json:"admission,omitempty" mapstructure:"admission"`
	// Endpoints holds the rule's policy for paid endpoints Proxide cannot meter.
	Endpoints *EndpointsSpec `json:"endpoints,omitempty" mapstructure:"endpoints"`
}

// LoopSpec is a rule's loop detection as people write it. Every field is optional: absent
// or zero inherits the global loop_detection setting. Durations are Go duration strings
// ("60s", "5m", "1h30m").
type LoopSpec struct {
	// Mode is off, block or alert.
	Mode       string  `json:"mode,omitempty" mapstructure:"mode"`
	Window     string  `json:"window,omitempty" mapstructure:"window"`
	MaxRepeats int     `json:"max_repeats,omitempty" mapstructure:"max_repeats"`
	Similarity float64 `json:"similarity,omitempty" mapstructure:"similarity"`
	Cooldown   string  `json:"cooldown,omitempty" mapstructure:"cooldown"`
}

// EndpointsSpec is a policy for paid endpoints Proxide cannot meter: unmetered "refuse" or
// "allow"; in a rule, "" (or absent) inherits the global endpoints.unmetered.
type EndpointsSpec struct {
	Unmetered string `json:"unmetered" mapstructure:"unmetered"`
}

// Rule converts s and checks the result. Every problem is a *FieldError named by its key
// (daily_limit_usd, loop_detection.window, …), all joined. Which of ClientID, Match and
// Default must be set depends on where the spec comes from, so the caller checks that.
// The rule is canonical: action "" is stored as block, admission soft as "".
func (s Spec) Rule() (Rule, error) {
	var errs []error
	daily, err := limitOf("daily_limit", s.DailyLimitUSD, s.DailyLimitNano)
	errs = append(errs, err)
	monthly, err := limitOf("monthly_limit", s.MonthlyLimitUSD, s.MonthlyLimitNano)
	errs = append(errs, err)
	r := Rule{ClientID: s.ClientID, Match: s.Match, Daily: daily, Monthly: monthly, Action: Action(s.Action),
		AlertThresholds: slices.Clone(s.AlertThresholds), Admission: AdmissionMode(s.Admission)}
	if s.Endpoints != nil {
		r.Unmetered = EndpointPolicy(s.Endpoints.Unmetered)
	}
	if s.LoopDetection != nil {
		r.Loop, err = s.LoopDetection.settings()
		errs = append(errs, err)
	}
	if r.Action == "" {
		r.Action = ActionBlock
	}
	if r.Admission == AdmissionSoft {
		r.Admission = ""
	}
	if s.Match == CatchAll {
		errs = append(errs, fieldErr("match", `"*" matches every client: that is the default rule; set it with "default": true `+
			`(admin API) or budgets.default (config file)`))
	}
	errs = append(errs, r.Validate())
	if err := errors.Join(errs...); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// CatchAll is the pattern that matches every client. People may not write it:
// it would take over the default rule without saying so (and apply to ids the
// default rule was meant for), so the default rule is addressed explicitly.
// Rules stored before it was refused still load and can be deleted.
const CatchAll = "*"

// limitOf converts one limit, given in dollars or in nano-dollars; name is the key without
// its unit ("daily_limit").
func limitOf(name string, usd *float64, nano *int64) (Limit, error) {
	switch {
	case usd != nil && nano != nil:
		return Limit{}, fieldErr(name+"_usd", "set %s_usd or %s_nano, not both", name, name)
	case usd != nil:
		return limitFromUSD(name+"_usd", *usd)
	case nano != nil:
		return limitFromNano(name+"_nano", *nano)
	}
	return Limit{}, nil
}

// settings parses the durations; Rule.Validate checks the ranges.
func (l LoopSpec) settings() (LoopSettings, error) {
	s := LoopSettings{Mode: l.Mode, MaxRepeats: l.MaxRepeats, Similarity: l.Similarity}
	w, err1 := parseDuration("window", l.Window)
	c, err2 := parseDuration("cooldown", l.Cooldown)
	s.Window, s.Cooldown = w, c
	return s, errors.Join(err1, err2)
}

func parseDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fieldErr("loop_detection."+field, "%q is not a duration (want e.g. 60s, 5m or 1h30m)", v)
	}
	return d, nil
}

// LoopSpecOf shows a rule's loop settings; nil when it inherits all of them.
func LoopSpecOf(s LoopSettings) *LoopSpec {
	if s.IsZero() {
		return nil
	}
	return &LoopSpec{Mode: s.Mode, Window: FormatDuration(s.Window), MaxRepeats: s.MaxRepeats,
		Similarity: s.Similarity, Cooldown: FormatDuration(s.Cooldown)}
}

// FormatDuration writes d as a Go duration string without zero trailing units ("1m"
// rather than "1m0s"); "" for zero.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
