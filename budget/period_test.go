package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustCal(t *testing.T, tz string) Calendar {
	t.Helper()
	c, err := NewCalendar(tz)
	require.NoError(t, err)
	return c
}

func TestNewCalendar(t *testing.T) {
	require.Equal(t, time.UTC, mustCal(t, "").Location())
	require.Equal(t, "Europe/Berlin", mustCal(t, "Europe/Berlin").Location().String())
	_, err := NewCalendar("Mars/Olympus_Mons")
	require.ErrorContains(t, err, `"Mars/Olympus_Mons"`)
	require.Equal(t, time.UTC, Calendar{}.Location(), "the zero calendar is UTC")
}

func TestCalendarPeriods(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tz       string
		now      time.Time // interpreted as given (any zone)
		day      string
		dayLen   time.Duration
		month    string
		monthEnd string // RFC 3339 in the zone
	}{
		{"utc midday", "", time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), "2026-11-28", 24 * time.Hour, "2026-11", "2026-12-01T00:00:00Z"},
		{"utc midnight starts the day", "UTC", time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), "2026-11-29", 24 * time.Hour, "2026-11", "2026-12-01T00:00:00Z"},
		{"last nanosecond of the year", "UTC", time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC), "2026-12-31", 24 * time.Hour, "2026-12", "2027-01-01T00:00:00Z"},
		{"leap day", "UTC", time.Date(2028, 2, 29, 8, 0, 0, 0, time.UTC), "2028-02-29", 24 * time.Hour, "2028-02", "2028-03-01T00:00:00Z"},
		{"zone shifts the date", "America/New_York", time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC), "2026-11-28", 24 * time.Hour, "2026-11", "2026-12-01T00:00:00-05:00"},
		{"new york spring forward: 23h", "America/New_York", time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), "2026-03-08", 23 * time.Hour, "2026-03", "2026-04-01T00:00:00-04:00"},
		{"new york fall back: 25h", "America/New_York", time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), "2026-11-01", 25 * time.Hour, "2026-11", "2026-12-01T00:00:00-05:00"},
		{"berlin spring forward: 23h", "Europe/Berlin", time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), "2026-03-29", 23 * time.Hour, "2026-03", "2026-04-01T00:00:00+02:00"},
		{"berlin fall back: 25h", "Europe/Berlin", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), "2026-10-25", 25 * time.Hour, "2026-10", "2026-11-01T00:00:00+01:00"},
		{"santiago skips midnight: 23h day starting 01:00", "America/Santiago", time.Date(2026, 9, 6, 12, 0, 0, 0, time.UTC), "2026-09-06", 23 * time.Hour, "2026-09", "2026-10-01T00:00:00-03:00"},
		{"day before santiago's skipped midnight", "America/Santiago", time.Date(2026, 9, 6, 2, 59, 0, 0, time.UTC), "2026-09-05", 24 * time.Hour, "2026-09", "2026-10-01T00:00:00-03:00"},
		{"auckland ahead of utc", "Pacific/Auckland", time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), "2026-12-01", 24 * time.Hour, "2026-12", "2027-01-01T00:00:00+13:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cal := mustCal(t, tc.tz)
			p := cal.Periods(tc.now)
			require.Equal(t, Daily, p.Day.Kind)
			require.Equal(t, Monthly, p.Month.Kind)
			require.Equal(t, tc.day, p.Day.Key)
			require.Equal(t, tc.month, p.Month.Key)
			require.Equal(t, tc.dayLen, p.Day.End.Sub(p.Day.Start))
			require.Equal(t, tc.monthEnd, p.Month.End.Format(time.RFC3339))
			// [Start, End) contains now, and the neighbours belong to other days.
			require.False(t, tc.now.Before(p.Day.Start))
			require.True(t, tc.now.Before(p.Day.End))
			require.NotEqual(t, tc.day, cal.Periods(p.Day.Start.Add(-time.Nanosecond)).Day.Key)
			require.Equal(t, tc.day, cal.Periods(p.Day.Start).Day.Key)
			require.Equal(t, tc.day, cal.Periods(p.Day.End.Add(-time.Nanosecond)).Day.Key)
			require.NotEqual(t, tc.day, cal.Periods(p.Day.End).Day.Key)
			require.Equal(t, cal.Periods(p.Day.End).Day.Start, p.Day.End, "days tile without gaps")
			require.Equal(t, p.Day.Start.Location(), cal.Location())
			require.NoError(t, p.Validate())
		})
	}
}

func TestRetryAfter(t *testing.T) {
	end := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	p := Period{End: end}
	require.Equal(t, 90*time.Second, p.RetryAfter(end.Add(-90*time.Second)))
	require.Equal(t, 2*time.Second, p.RetryAfter(end.Add(-1500*time.Millisecond)), "rounded up")
	require.Equal(t, time.Second, p.RetryAfter(end.Add(-time.Millisecond)))
	require.Equal(t, time.Second, p.RetryAfter(end.Add(time.Hour)), "at least 1s")
}

func TestPeriodsValidate(t *testing.T) {
	good := mustCal(t, "").Periods(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	require.NoError(t, good.Validate())
	bad := good
	bad.Day.Key = "2026-11-28x"
	bad.Month.Kind = Daily
	err := bad.Validate()
	require.ErrorContains(t, err, "periods.day.key")
	require.ErrorContains(t, err, "periods.month.kind")
	require.Error(t, Periods{}.Validate())
}
