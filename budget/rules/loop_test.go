package rules

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/loop"
)

func TestLoopSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    LoopSettings
		errs []string // every substring must appear; nil = valid
	}{
		{"zero inherits", LoopSettings{}, nil},
		{"off", LoopSettings{Mode: LoopModeOff}, nil},
		{"full", LoopSettings{Mode: LoopModeBlock, Window: 24 * time.Hour, MaxRepeats: loop.MaxEntries - 1, Similarity: 1, Cooldown: 7 * 24 * time.Hour}, nil},
		{"smallest", LoopSettings{Mode: LoopModeAlert, Window: time.Millisecond, MaxRepeats: 1, Similarity: 1e-9, Cooldown: time.Millisecond}, nil},
		{"mode", LoopSettings{Mode: "Block"}, []string{`loop_detection.mode: unknown mode "Block"`}},
		{"negative window", LoopSettings{Window: -time.Second}, []string{"loop_detection.window: must be between 1ms and 24h0m0s, got -1s"}},
		{"long window", LoopSettings{Window: 25 * time.Hour}, []string{"loop_detection.window"}},
		{"sub-ms window", LoopSettings{Window: time.Second + time.Microsecond}, []string{"loop_detection.window: must be whole milliseconds"}},
		{"tiny window", LoopSettings{Window: time.Microsecond}, []string{"loop_detection.window: must be between"}},
		{"negative repeats", LoopSettings{MaxRepeats: -1}, []string{"loop_detection.max_repeats"}},
		{"too many repeats", LoopSettings{MaxRepeats: loop.MaxEntries}, []string{"loop_detection.max_repeats: must be between 1 and 31"}},
		{"NaN similarity", LoopSettings{Similarity: math.NaN()}, []string{"loop_detection.similarity"}},
		{"negative similarity", LoopSettings{Similarity: -0.5}, []string{"loop_detection.similarity"}},
		{"similarity above 1", LoopSettings{Similarity: 1.01}, []string{"loop_detection.similarity"}},
		{"infinite similarity", LoopSettings{Similarity: math.Inf(1)}, []string{"loop_detection.similarity"}},
		{"negative cooldown", LoopSettings{Cooldown: -time.Minute}, []string{"loop_detection.cooldown"}},
		{"long cooldown", LoopSettings{Cooldown: 8 * 24 * time.Hour}, []string{"loop_detection.cooldown"}},
		{"sub-ms cooldown", LoopSettings{Cooldown: time.Minute + 1}, []string{"loop_detection.cooldown: must be whole milliseconds"}},
		{"all at once", LoopSettings{Mode: "x", Window: -1, MaxRepeats: -1, Similarity: 2, Cooldown: -1}, []string{
			"loop_detection.mode", "loop_detection.window", "loop_detection.max_repeats", "loop_detection.similarity", "loop_detection.cooldown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			rerr := Rule{Loop: tc.s}.Validate()
			if tc.errs == nil {
				require.NoError(t, err)
				require.NoError(t, rerr)
				return
			}
			for _, want := range tc.errs {
				require.ErrorContains(t, err, want)
				require.ErrorContains(t, rerr, want, "Rule.Validate includes the loop settings")
			}
		})
	}
}

func TestLoopSettingsEffective(t *testing.T) {
	def := loop.DefaultConfig()
	custom := loop.Config{Window: 2 * time.Minute, MaxRepeats: 9, Similarity: 0.8, Cooldown: time.Hour}
	for _, tc := range []struct {
		name           string
		s              LoopSettings
		d              LoopDefaults
		cfg            loop.Config
		enabled, block bool
	}{
		{"inherit enabled block", LoopSettings{}, LoopDefaults{Enabled: true, Block: true, Config: def}, def, true, true},
		{"inherit enabled alert", LoopSettings{}, LoopDefaults{Enabled: true, Config: def}, def, true, false},
		{"inherit disabled", LoopSettings{}, LoopDefaults{Block: true, Config: def}, def, false, false},
		{"off beats enabled", LoopSettings{Mode: LoopModeOff}, LoopDefaults{Enabled: true, Block: true, Config: def}, def, false, false},
		{"block beats disabled", LoopSettings{Mode: LoopModeBlock}, LoopDefaults{Config: def}, def, true, true},
		{"alert beats block", LoopSettings{Mode: LoopModeAlert}, LoopDefaults{Enabled: true, Block: true, Config: def}, def, true, false},
		{"every field", LoopSettings{Window: custom.Window, MaxRepeats: custom.MaxRepeats, Similarity: custom.Similarity, Cooldown: custom.Cooldown},
			LoopDefaults{Enabled: true, Block: true, Config: def}, custom, true, true},
		{"one field", LoopSettings{MaxRepeats: 2, Mode: LoopModeAlert}, LoopDefaults{Config: def},
			loop.Config{Window: def.Window, MaxRepeats: 2, Similarity: def.Similarity, Cooldown: def.Cooldown}, true, false},
		{"settings kept when off", LoopSettings{Mode: LoopModeOff, Window: time.Second}, LoopDefaults{Enabled: true, Config: def},
			loop.Config{Window: time.Second, MaxRepeats: def.MaxRepeats, Similarity: def.Similarity, Cooldown: def.Cooldown}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, enabled, block := tc.s.Effective(tc.d)
			require.Equal(t, tc.cfg, cfg)
			require.Equal(t, [2]bool{tc.enabled, tc.block}, [2]bool{enabled, block}, "[enabled, block]")
			require.NoError(t, cfg.Validate(), "valid overrides on valid defaults stay valid")
		})
	}
}
