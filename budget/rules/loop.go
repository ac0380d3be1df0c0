package rules

import (
	"errors"
	"math"
	"time"

	"github.com/proxide/proxide/internal/loop"
)

// Loop detection modes of a rule (LoopSettings.Mode); "" inherits the global setting.
const (
	LoopModeOff   = "off"   // never observe this rule's clients (an eval harness sampling on purpose)
	LoopModeBlock = "block" // detect; a loop and its cooldown refuse requests
	LoopModeAlert = "alert" // detect and record; never refuse
)

// The bounds of a rule's loop overrides. They are loop.Config.Validate's, so a valid
// override never makes an invalid effective config.
const (
	MaxLoopWindow   = 24 * time.Hour
	MaxLoopCooldown = 7 * 24 * time.Hour
	// MaxLoopRepeats is the most earlier requests a window can compare with.
	MaxLoopRepeats = loop.MaxEntries - 1
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

// Validate reports every problem of s as a *FieldError, joined, each naming its field as
// in the config file (loop_detection.mode, .window, .max_repeats, .similarity, .cooldown).
func (s LoopSettings) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldErr("loop_detection."+field, format, args...))
	}
	switch s.Mode {
	case "", LoopModeOff, LoopModeBlock, LoopModeAlert:
	default:
		bad("mode", "unknown mode %q (want %q, %q or %q)", truncate(s.Mode, 32), LoopModeOff, LoopModeBlock, LoopModeAlert)
	}
	if s.Window != 0 {
		switch {
		case s.Window < time.Millisecond || s.Window > MaxLoopWindow:
			bad("window", "must be between 1ms and %s, got %s", MaxLoopWindow, s.Window)
		case s.Window%time.Millisecond != 0:
			bad("window", "must be whole milliseconds, got %s", s.Window)
		}
	}
	if s.MaxRepeats < 0 || s.MaxRepeats > MaxLoopRepeats {
		bad("max_repeats", "must be between 1 and %d (0 inherits), got %d", MaxLoopRepeats, s.MaxRepeats)
	}
	if math.IsNaN(s.Similarity) || s.Similarity < 0 || s.Similarity > 1 {
		bad("similarity", "must be in (0, 1] (0 inherits), got %v", s.Similarity)
	}
	if s.Cooldown != 0 {
		switch {
		case s.Cooldown < 0 || s.Cooldown > MaxLoopCooldown:
			bad("cooldown", "must be between 1ms and %s (0 inherits), got %s", MaxLoopCooldown, s.Cooldown)
		case s.Cooldown%time.Millisecond != 0:
			bad("cooldown", "must be whole milliseconds, got %s", s.Cooldown)
		}
	}
	return errors.Join(errs...)
}

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
