package loop

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config (DESIGN.md: loop_detection).
const (
	DefaultWindow     = 60 * time.Second
	DefaultMaxRepeats = 5
	DefaultSimilarity = 0.9
	DefaultCooldown   = 5 * time.Minute
)

// MaxEntries bounds a Window: it keeps at most this many of the most recent
// signatures. MaxRepeats must stay below it.
const MaxEntries = 32

// ErrConfig is wrapped by every error of Config.Validate.
var ErrConfig = errors.New("loop: invalid config")

// Config is one rule's loop-detection settings.
type Config struct {
	// Window is how far back a client's requests are compared.
	Window time.Duration
	// MaxRepeats is how many exact or similar earlier requests are tolerated
	// within Window: the request that would be the (MaxRepeats+1)-th is a
	// loop. A cycle (A,B,A,B… or A,B,C,A,B,C…) is a loop from MaxRepeats+1
	// requests on: as early as an identical repeat.
	MaxRepeats int
	// Similarity is the threshold, in (0, 1], at which two requests count as
	// the same (see Similarity).
	Similarity float64
	// Cooldown is how long a client stays flagged after a loop; 0 flags only
	// the request that completed the loop.
	Cooldown time.Duration
}

// DefaultConfig returns the documented defaults: 60s, 5, 0.9, 5m.
func DefaultConfig() Config {
	return Config{Window: DefaultWindow, MaxRepeats: DefaultMaxRepeats, Similarity: DefaultSimilarity, Cooldown: DefaultCooldown}
}

// Validate returns every problem of c joined, each wrapping ErrConfig, or nil.
// Durations are whole milliseconds at the Lua edge, so sub-millisecond values
// are refused rather than rounded.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.Window < time.Millisecond || c.Window > 24*time.Hour {
		bad("window", "must be between 1ms and 24h, got %s", c.Window)
	} else if c.Window%time.Millisecond != 0 {
		bad("window", "must be whole milliseconds, got %s", c.Window)
	}
	if c.MaxRepeats < 1 || c.MaxRepeats >= MaxEntries {
		bad("max_repeats", "must be between 1 and %d, got %d", MaxEntries-1, c.MaxRepeats)
	}
	if math.IsNaN(c.Similarity) || c.Similarity <= 0 || c.Similarity > 1 {
		bad("similarity", "must be in (0, 1], got %v", c.Similarity)
	}
	if c.Cooldown < 0 || c.Cooldown > 7*24*time.Hour {
		bad("cooldown", "must be between 0 and 168h, got %s", c.Cooldown)
	} else if c.Cooldown%time.Millisecond != 0 {
		bad("cooldown", "must be whole milliseconds, got %s", c.Cooldown)
	}
	return errors.Join(errs...)
}
