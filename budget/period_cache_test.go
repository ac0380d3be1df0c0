package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cached periods must be exactly what a fresh computation gives, across a
// day's end, a month's end and a daylight-saving change, and in either order.
func TestPeriodsCacheMatchesFreshComputation(t *testing.T) {
	cal, err := NewCalendar("America/Santiago")
	require.NoError(t, err)
	start := time.Date(2026, 9, 5, 20, 0, 0, 0, time.UTC) // DST starts in Santiago on 2026-09-06
	instants := []time.Time{}
	for i := range 200 {
		instants = append(instants, start.Add(time.Duration(i)*17*time.Minute))
	}
	instants = append(instants, time.Date(2026, 9, 30, 23, 59, 59, 0, cal.Location()), time.Date(2026, 10, 1, 0, 0, 0, 0, cal.Location()),
		start, time.Date(2026, 9, 30, 23, 59, 59, 999, cal.Location()))
	for _, now := range instants {
		require.Equal(t, cal.periods(now), cal.Periods(now), "at %s", now)
	}
}
