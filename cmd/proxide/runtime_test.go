package main

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTuneRuntime: GOGC is Proxide's (400 for a small live set) unless the
// environment sets it, and stop puts it back; GOMEMLIMIT set in the
// environment keeps the soft limit off (so the test leaves the process's own
// limit alone).
func TestTuneRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(123))
	log := slog.New(slog.DiscardHandler)
	env := func(gogc string) func(string) string {
		return func(k string) string {
			return map[string]string{"GOGC": gogc, "GOMEMLIMIT": "1GiB"}[k]
		}
	}

	stop := tuneRuntime(env("123"), log)
	require.Equal(t, 123, debug.SetGCPercent(123), "GOGC from the environment is kept")
	stop()
	require.Equal(t, 123, debug.SetGCPercent(123))

	stop = tuneRuntime(env(""), log)
	require.Equal(t, 400, debug.SetGCPercent(400), "Proxide's GOGC while the live set is small")
	stop()
	require.Equal(t, 123, debug.SetGCPercent(123), "stop puts GOGC back")
}
