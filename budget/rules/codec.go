package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// storedRule is the JSON form of a rule in a Store (the Redis rules hash): integer nano
// limits (no float rounding), absent = unlimited; AlertThresholds keeps nil (default
// thresholds, JSON null) apart from empty (no alerts, JSON []). It differs from Spec on
// purpose and must not change: replicas of older versions read the same entries.
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

// storedLoop is the JSON form of LoopSettings inside a stored rule (durations in ms);
// absent fields inherit.
type storedLoop struct {
	Mode       string  `json:"mode,omitempty"`
	WindowMS   int64   `json:"window_ms,omitempty"`
	MaxRepeats int     `json:"max_repeats,omitempty"`
	Similarity float64 `json:"similarity,omitempty"`
	CooldownMS int64   `json:"cooldown_ms,omitempty"`
}

// Encode returns the stored JSON form of r.
func Encode(r Rule) (string, error) {
	s := storedRule{ClientID: r.ClientID, Match: r.Match, Action: r.Action, AlertThresholds: r.AlertThresholds,
		Loop: encodeLoop(r.Loop), Admission: r.Admission, Unmetered: r.Unmetered}
	if r.Daily.Set {
		s.DailyNano = &r.Daily.Nano
	}
	if r.Monthly.Set {
		s.MonthlyNano = &r.Monthly.Nano
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding rule: %w", err)
	}
	return string(b), nil
}

// Decode parses a stored rule and checks that it is valid and belongs to key (its
// Key().String()), so a hand-edited or corrupt entry is never applied.
func Decode(key, v string) (Rule, error) {
	var s storedRule
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Rule{}, fmt.Errorf("stored rule %q: %w", truncate(key, 64), err)
	}
	r := Rule{ClientID: s.ClientID, Match: s.Match, Action: s.Action, AlertThresholds: s.AlertThresholds,
		Loop: s.Loop.settings(), Admission: s.Admission, Unmetered: s.Unmetered}
	if s.DailyNano != nil {
		r.Daily = LimitOf(*s.DailyNano)
	}
	if s.MonthlyNano != nil {
		r.Monthly = LimitOf(*s.MonthlyNano)
	}
	if err := r.Validate(); err != nil {
		return Rule{}, fmt.Errorf("stored rule %q: %w", truncate(key, 64), err)
	}
	if r.Key().String() != key {
		return Rule{}, fmt.Errorf("stored rule %q: holds the rule of %q", truncate(key, 64), truncate(r.Key().String(), 64))
	}
	return r, nil
}

// encodeLoop returns nil for the zero settings, so rules without overrides keep the JSON
// they had before loop detection existed.
func encodeLoop(s LoopSettings) *storedLoop {
	if s.IsZero() {
		return nil
	}
	return &storedLoop{Mode: s.Mode, WindowMS: s.Window.Milliseconds(), MaxRepeats: s.MaxRepeats,
		Similarity: s.Similarity, CooldownMS: s.Cooldown.Milliseconds()}
}

func (s *storedLoop) settings() LoopSettings {
	if s == nil {
		return LoopSettings{}
	}
	return LoopSettings{Mode: s.Mode, Window: msDuration(s.WindowMS), MaxRepeats: s.MaxRepeats,
		Similarity: s.Similarity, Cooldown: msDuration(s.CooldownMS)}
}

// msDuration converts stored milliseconds; a value that would overflow becomes -1ns, which
// Validate refuses, instead of wrapping around into something valid.
func msDuration(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) || ms < math.MinInt64/int64(time.Millisecond) {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}
