package budget

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/proxide/proxide/loop"
)

// Loop detection modes of a rule (LoopSettings.Mode); "" inherits the global setting.
const (
	LoopModeOff   = "off"   // never observe this rule's clients (an eval harness sampling on purpose)
	LoopModeBlock = "block" // detect; a loop and its cooldown refuse requests
	LoopModeAlert = "alert" // detect and record; never refuse
)

// LoopSettings are a rule's loop-detection overrides; the zero value inherits everything
// from LoopDefaults. Durations are whole milliseconds (they travel to Lua as ms).
type LoopSettings struct {
	// Mode is "" (inherit), LoopModeOff, LoopModeBlock or LoopModeAlert.
	Mode string
	// Window overrides loop.Config.Window; 0 inherits.
	Window time.Duration
	// MaxRepeats overrides loop.Config.MaxRepeats; 0 inherits.
	MaxRepeats int
	// Similarity overrides loop.Config.Similarity, in (0, 1]; 0 inherits.
	Similarity float64
	// Cooldown overrides loop.Config.Cooldown; 0 inherits (a rule cannot set a zero
	// cooldown over a non-zero default).
	Cooldown time.Duration
}

// IsZero reports whether s inherits everything.
func (s LoopSettings) IsZero() bool { return s == LoopSettings{} }

// Validate reports every problem of s, joined, each naming its field as in the config
// file (loop_detection.mode, .window, .max_repeats, .similarity, .cooldown). The bounds
// are loop.Config's, so a valid override never makes an invalid effective config.
func (s LoopSettings) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("loop_detection.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch s.Mode {
	case "", LoopModeOff, LoopModeBlock, LoopModeAlert:
	default:
		bad("mode", "unknown mode %q (want %q, %q or %q)", truncate(s.Mode, 32), LoopModeOff, LoopModeBlock, LoopModeAlert)
	}
	if s.Window != 0 {
		switch {
		case s.Window < time.Millisecond || s.Window > maxLoopWindow:
			bad("window", "must be between 1ms and %s, got %s", maxLoopWindow, s.Window)
		case s.Window%time.Millisecond != 0:
			bad("window", "must be whole milliseconds, got %s", s.Window)
		}
	}
	if s.MaxRepeats < 0 || s.MaxRepeats >= loop.MaxEntries {
		bad("max_repeats", "must be between 1 and %d (0 inherits), got %d", loop.MaxEntries-1, s.MaxRepeats)
	}
	if math.IsNaN(s.Similarity) || s.Similarity < 0 || s.Similarity > 1 {
		bad("similarity", "must be in (0, 1] (0 inherits), got %v", s.Similarity)
	}
	if s.Cooldown != 0 {
		switch {
		case s.Cooldown < 0 || s.Cooldown > maxLoopCooldown:
			bad("cooldown", "must be between 1ms and %s (0 inherits), got %s", maxLoopCooldown, s.Cooldown)
		case s.Cooldown%time.Millisecond != 0:
			bad("cooldown", "must be whole milliseconds, got %s", s.Cooldown)
		}
	}
	return errors.Join(errs...)
}

// maxLoopWindow and maxLoopCooldown are loop.Config.Validate's bounds.
const (
	maxLoopWindow   = 24 * time.Hour
	maxLoopCooldown = 7 * 24 * time.Hour
)

// LoopDefaults is the global loop_detection config.
type LoopDefaults struct {
	// Enabled turns detection on for rules whose Mode is "".
	Enabled bool
	// Block is the action of rules whose Mode is "": refuse (true) or only record.
	Block bool
	// Config is the window, repeats, similarity and cooldown rules inherit.
	Config loop.Config
}

// Effective merges s over d: every non-zero field of s replaces d.Config's. Detection is
// off when Mode is "off", or Mode is "" and d is not Enabled; Mode "block" or "alert"
// turns it on with that action whatever d says. block is false whenever enabled is.
func (s LoopSettings) Effective(d LoopDefaults) (cfg loop.Config, enabled, block bool) {
	cfg = d.Config
	if s.Window != 0 {
		cfg.Window = s.Window
	}
	if s.MaxRepeats != 0 {
		cfg.MaxRepeats = s.MaxRepeats
	}
	if s.Similarity != 0 {
		cfg.Similarity = s.Similarity
	}
	if s.Cooldown != 0 {
		cfg.Cooldown = s.Cooldown
	}
	switch s.Mode {
	case LoopModeOff:
		return cfg, false, false
	case LoopModeBlock:
		return cfg, true, true
	case LoopModeAlert:
		return cfg, true, false
	}
	return cfg, d.Enabled, d.Enabled && d.Block
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
