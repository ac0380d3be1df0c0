package metrics

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// The dashboard's Overview charts refusals over time. Prometheus counters have
// no history in the process, and the ledger keeps no count of refusals (adding
// one would cost the request path a write per 402), so this replica counts
// them per day in memory, beside the counters it already bumps: lost when the
// process restarts, and each replica counts its own.

// keptDays bounds the days held; older ones are dropped.
const keptDays = 400

// DayCounts are one day's refusals on this replica.
type DayCounts struct {
	Day                          string // "2026-11-28" in the budget time zone
	BlockedDaily, BlockedMonthly int64  // 402s by the exhausted period
	Loops, LoopsBlocked          int64  // loops detected; those refused (mode block)
}

// Daily counts refusals per day. Its methods are nil-safe and safe for
// concurrent use.
type Daily struct {
	now   func() time.Time
	day   func(time.Time) string
	since time.Time

	mu   sync.Mutex
	days map[string]*DayCounts
}

// TrackDaily makes m count refusals per day as well, with day naming the day
// of a time (the budget calendar's). Call it while wiring, before m is used.
func (m *Metrics) TrackDaily(now func() time.Time, day func(time.Time) string) *Daily {
	if now == nil {
		now = time.Now
	}
	m.daily = &Daily{now: now, day: day, since: now(), days: make(map[string]*DayCounts)}
	return m.daily
}

// Since is when counting started (the process start).
func (d *Daily) Since() time.Time { return d.since }

// Days returns the counts of the days from..to inclusive that saw any
// refusal, oldest first (keys compare as dates).
func (d *Daily) Days(from, to string) []DayCounts {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DayCounts, 0, len(d.days))
	for k, c := range d.days {
		if k >= from && k <= to {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b DayCounts) int { return strings.Compare(a.Day, b.Day) })
	return out
}

// add applies f to today's counts.
func (d *Daily) add(f func(*DayCounts)) {
	if d == nil {
		return
	}
	key := d.day(d.now())
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.days[key]
	if c == nil {
		if len(d.days) >= keptDays {
			oldest := ""
			for k := range d.days {
				if oldest == "" || k < oldest {
					oldest = k
				}
			}
			delete(d.days, oldest)
		}
		c = &DayCounts{Day: key}
		d.days[key] = c
	}
	f(c)
}

func (d *Daily) blocked(limitType string) {
	d.add(func(c *DayCounts) {
		if limitType == "monthly" {
			c.BlockedMonthly++
		} else {
			c.BlockedDaily++
		}
	})
}

func (d *Daily) loop(blocked bool) {
	d.add(func(c *DayCounts) {
		c.Loops++
		if blocked {
			c.LoopsBlocked++
		}
	})
}
