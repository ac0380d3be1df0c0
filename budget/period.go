package budget

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// PeriodKind names a budget period.
type PeriodKind string

const (
	// Daily is the calendar day in the calendar's zone.
	Daily PeriodKind = "daily"
	// Monthly is the calendar month in the calendar's zone.
	Monthly PeriodKind = "monthly"
)

const (
	dayKeyLayout   = "2006-01-02"
	monthKeyLayout = "2006-01"
)

// Period is one calendar day or month. Counters are keyed by Key, so a new period starts
// at zero without any reset job.
type Period struct {
	Kind PeriodKind
	// Key is "2026-11-28" for a day or "2026-11" for a month, in the calendar's zone.
	Key string
	// Start and End bound the period as [Start, End) in the calendar's zone. A day is 23
	// or 25 hours long when daylight saving time starts or ends.
	Start, End time.Time
}

// RetryAfter is the time from now until the period ends, rounded up to whole seconds and
// at least one second, for a retry-after header.
func (p Period) RetryAfter(now time.Time) time.Duration {
	d := p.End.Sub(now)
	if d < time.Second {
		return time.Second
	}
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

// Periods are the day and month that contain one instant.
type Periods struct{ Day, Month Period }

// Of returns the period of kind k.
func (p Periods) Of(k PeriodKind) Period {
	if k == Monthly {
		return p.Month
	}
	return p.Day
}

// Calendar maps instants to budget periods in one time zone.
type Calendar struct {
	loc *time.Location
	// last is the Periods most recently computed, shared by copies of the
	// Calendar: every request asks for the periods of about the same instant,
	// and building them (two keys, four zone conversions) cost 1–2% of a
	// request's CPU. nil for the zero Calendar.
	last *atomic.Pointer[Periods]
}

// NewCalendar returns the calendar of an IANA zone name such as "Europe/Berlin"; "" is UTC.
func NewCalendar(tz string) (Calendar, error) {
	if tz == "" {
		return Calendar{loc: time.UTC, last: new(atomic.Pointer[Periods])}, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return Calendar{}, fmt.Errorf("budget: unknown time zone %q: %w", tz, err)
	}
	return Calendar{loc: loc, last: new(atomic.Pointer[Periods])}, nil
}

// Location returns the calendar's zone (UTC for the zero Calendar).
func (c Calendar) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Periods returns the day and month containing now.
func (c Calendar) Periods(now time.Time) Periods {
	if c.last != nil {
		// A day lies inside its month, so a day that contains now has the right month too.
		if p := c.last.Load(); p != nil && !now.Before(p.Day.Start) && now.Before(p.Day.End) {
			return *p
		}
	}
	p := c.periods(now)
	if c.last != nil {
		c.last.Store(&p)
	}
	return p
}

func (c Calendar) periods(now time.Time) Periods {
	loc := c.Location()
	y, m, d := now.In(loc).Date()
	return Periods{
		Day: Period{
			Kind:  Daily,
			Key:   fmt.Sprintf("%04d-%02d-%02d", y, m, d),
			Start: startOfDay(y, m, d, loc),
			End:   startOfDay(y, m, d+1, loc),
		},
		Month: Period{
			Kind:  Monthly,
			Key:   fmt.Sprintf("%04d-%02d", y, m),
			Start: startOfDay(y, m, 1, loc),
			End:   startOfDay(y, m+1, 1, loc),
		},
	}
}

// startOfDay returns the first instant of a date (normalised like time.Date). Where a DST
// change skips midnight (e.g. America/Santiago), time.Date resolves 00:00 to 23:00 of the
// day before; the day then really begins when the new zone offset starts.
func startOfDay(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	want := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // normalised date, zone-free
	if gy, gm, gd := t.Date(); gy != want.Year() || gm != want.Month() || gd != want.Day() {
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	}
	return t
}

// Validate checks the shape of periods handed to a ledger.
func (p Periods) Validate() error {
	var errs []error
	if p.Day.Kind != Daily {
		errs = append(errs, fmt.Errorf("periods.day.kind: %q, want %q", p.Day.Kind, Daily))
	}
	if p.Month.Kind != Monthly {
		errs = append(errs, fmt.Errorf("periods.month.kind: %q, want %q", p.Month.Kind, Monthly))
	}
	if err := validKey(p.Day.Key, dayKeyLayout); err != nil {
		errs = append(errs, fmt.Errorf("periods.day.key: %w", err))
	}
	if err := validKey(p.Month.Key, monthKeyLayout); err != nil {
		errs = append(errs, fmt.Errorf("periods.month.key: %w", err))
	} else if len(p.Day.Key) == len(dayKeyLayout) && p.Day.Key[:len(monthKeyLayout)] != p.Month.Key {
		errs = append(errs, fmt.Errorf("periods: day %q is not in month %q", p.Day.Key, p.Month.Key))
	}
	for _, x := range [...]Period{p.Day, p.Month} {
		if !x.Start.Before(x.End) {
			errs = append(errs, fmt.Errorf("periods.%s: start must be before end", x.Kind))
		}
	}
	return errors.Join(errs...)
}

// validKey accepts exactly the canonical "2006-01-02" or "2006-01" form of a real date,
// without allocating (it runs on every request).
func validKey(key, layout string) error {
	if len(key) != len(layout) {
		return fmt.Errorf("%q is not a %s key", key, layout)
	}
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return -1
			}
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, m := num(key[0:4]), num(key[5:7])
	ok := key[4] == '-' && y >= 0 && m >= 1 && m <= 12
	if len(layout) == len(dayKeyLayout) {
		d := num(key[8:10])
		ok = ok && key[7] == '-' && d >= 1 &&
			time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC).Day() == d // Feb 30 normalises away
	}
	if !ok {
		return fmt.Errorf("%q is not a %s key", key, layout)
	}
	return nil
}
