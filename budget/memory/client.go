package memory

import (
	"math"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// memClient is one client's state in the store, guarded by its shard's mutex. It mirrors the
// Redis layout: day and month records, reserved sums per period, pending reservations and
// recently settled ids.
type memClient struct {
	days     map[string]*memDay
	months   map[string]*memMonth
	reserved map[periodRef]int64 // reserved nano per period, like the Redis rsv hash
	res      map[string]memRes
	minExp   int64 // earliest reservation expiry (unix ms); math.MaxInt64 when none
	done     map[string]int64
	doneQ    []doneEntry           // settle order, for pruning done without scanning the map
	contexts map[string]memContext // remembered context sizes (Remember)

	// Loop detection: the window (nil until the first budget.LoopCheck, and again once the
	// sweep finds it idle), the config and request time of its latest observation, and
	// the client's newest events (ascending) with their expiry.
	loopWin   *loop.Window
	loopCfg   loop.Config
	loopSeen  int64
	events    []budget.LoopKey
	eventsExp int64
}

type memRes struct {
	amount     int64
	day, month string
	expiry     int64 // unix ms
	// A pending charge (Hold) is charged, not released, when it expires; it keeps what
	// the charge needs.
	pending  bool
	model    string
	periods  budget.Periods
	clientID string
}

// expiredCharge is a pending reservation that expired unseen and must be charged.
type expiredCharge struct {
	id string
	memRes
}

type doneEntry struct {
	id string
	at int64
}

type memDay struct {
	spent, req, fail int64
	estc             int64 // cost charged from estimates
	models           map[string]*budget.ModelStats
	marks            map[markKey]bool
	expires          int64 // unix ms: period end + retention
	row              indexRef
}

// markKey identifies a fired threshold within a period. It includes the limit so that a
// raised limit alerts again at its own thresholds.
type markKey struct{ ppm, limit int64 }

type memMonth struct {
	spent    int64
	marks    map[markKey]bool
	expires  int64
	lastSeen int64 // unix ms of the latest settlement in the month
	row      indexRef
}

func newMemClient() *memClient {
	return &memClient{
		days:     map[string]*memDay{},
		months:   map[string]*memMonth{},
		reserved: map[periodRef]int64{},
		res:      map[string]memRes{},
		minExp:   math.MaxInt64,
		done:     map[string]int64{},
	}
}

// periodRef names a period in the reserved sums without building a string per lookup.
type periodRef struct {
	kind budget.PeriodKind
	key  string
}

func dayRef(key string) periodRef   { return periodRef{budget.Daily, key} }
func monthRef(key string) periodRef { return periodRef{budget.Monthly, key} }

// spend returns the client's spend in the periods p with the rule's limits.
func (c *memClient) spend(rule rules.Rule, p budget.Periods) (day, month budget.PeriodSpend) {
	day = budget.PeriodSpend{ReservedNano: c.reserved[dayRef(p.Day.Key)], Limit: rule.Daily}
	month = budget.PeriodSpend{ReservedNano: c.reserved[monthRef(p.Month.Key)], Limit: rule.Monthly}
	if d := c.days[p.Day.Key]; d != nil {
		day.SpentNano = d.spent
	}
	if m := c.months[p.Month.Key]; m != nil {
		month.SpentNano = m.spent
	}
	return day, month
}

func (c *memClient) reserve(id string, r memRes) {
	c.res[id] = r
	c.minExp = min(c.minExp, r.expiry)
	if r.amount > 0 {
		c.reserved[dayRef(r.day)] = budget.AddSat(c.reserved[dayRef(r.day)], r.amount)
		c.reserved[monthRef(r.month)] = budget.AddSat(c.reserved[monthRef(r.month)], r.amount)
	}
}

// memContext is a remembered context size and when it is forgotten.
type memContext struct{ tokens, expires int64 }

func (c *memClient) remember(r budget.Remember, now int64) {
	if c.contexts == nil {
		c.contexts = map[string]memContext{}
	}
	c.contexts[r.Key] = memContext{tokens: r.Tokens, expires: now + r.TTL.Milliseconds()}
}

func (c *memClient) context(key string, now int64) int64 {
	if e, ok := c.contexts[key]; ok && e.expires > now {
		return e.tokens
	}
	return 0
}

// release drops a pending reservation from the reserved sums of the periods it was taken
// in (not the current ones), so a settlement after midnight frees yesterday's reservation.
func (c *memClient) release(id string) {
	r, ok := c.res[id]
	if !ok {
		return
	}
	delete(c.res, id)
	c.subReserved(dayRef(r.day), r.amount)
	c.subReserved(monthRef(r.month), r.amount)
}

func (c *memClient) subReserved(field periodRef, amount int64) {
	if amount == 0 {
		return
	}
	if v := c.reserved[field] - amount; v > 0 {
		c.reserved[field] = v
	} else {
		delete(c.reserved, field)
	}
}

// sweepReservations releases reservations whose TTL passed (expiry <= now) and returns
// the pending ones among them, which the caller must charge.
func (c *memClient) sweepReservations(now int64) []expiredCharge {
	if now < c.minExp {
		return nil
	}
	c.minExp = math.MaxInt64
	var charges []expiredCharge
	for id, r := range c.res {
		if r.expiry <= now {
			c.release(id)
			if r.pending {
				charges = append(charges, expiredCharge{id: id, memRes: r})
			}
		} else {
			c.minExp = min(c.minExp, r.expiry)
		}
	}
	return charges
}

func (c *memClient) markSettled(id string, now int64) {
	c.done[id] = now
	c.doneQ = append(c.doneQ, doneEntry{id: id, at: now})
	c.pruneDone(now)
}

// pruneDone forgets ids settled more than budget.SettledTTL ago. Request clocks are only roughly
// monotonic, so an entry out of order just lives a little longer.
func (c *memClient) pruneDone(now int64) {
	cutoff := now - budget.SettledTTL.Milliseconds()
	n := 0
	for n < len(c.doneQ) && c.doneQ[n].at < cutoff {
		if c.done[c.doneQ[n].id] == c.doneQ[n].at {
			delete(c.done, c.doneQ[n].id)
		}
		n++
	}
	if n > 0 {
		c.doneQ = append(c.doneQ[:0:0], c.doneQ[n:]...)
	}
}

// expiry is when a period's data may be dropped: its end plus the retention.
func expiry(p budget.Period, retention time.Duration) int64 {
	return p.End.Add(retention).UnixMilli()
}

func (c *memClient) day(p budget.Period, retention time.Duration) *memDay {
	d := c.days[p.Key]
	if d == nil {
		d = &memDay{models: map[string]*budget.ModelStats{}, marks: map[markKey]bool{}}
		c.days[p.Key] = d
	}
	d.expires = max(d.expires, expiry(p, retention))
	return d
}

func (c *memClient) month(p budget.Period, retention time.Duration) *memMonth {
	m := c.months[p.Key]
	if m == nil {
		m = &memMonth{marks: map[markKey]bool{}}
		c.months[p.Key] = m
	}
	m.expires = max(m.expires, expiry(p, retention))
	return m
}

// count records the per-day and per-model counters of one settlement; name is
// budget.ModelName(s.Model), computed once per settlement.
func (d *memDay) count(s budget.SettleRequest, name string) {
	one := s.Stats(name)
	d.req += one.Requests
	d.fail += one.Failed
	d.estc = budget.AddSat(d.estc, one.EstimatedNano)
	m := d.models[name]
	if m == nil {
		m = &budget.ModelStats{Model: name}
		d.models[name] = m
	}
	m.Add(one)
}

func (d *memDay) stats(key string) budget.DayStats {
	ds := budget.DayStats{Day: key, Requests: d.req, Failed: d.fail, CostNano: d.spent, EstimatedNano: d.estc}
	for _, m := range d.models {
		ds.Models = append(ds.Models, *m)
	}
	budget.SortModels(ds.Models)
	return ds
}

// prune drops expired periods, reservations and settled ids, and reports whether nothing
// is left of the client.
func (c *memClient) prune(now int64) bool {
	c.pruneDone(now)
	for k, e := range c.contexts {
		if e.expires <= now {
			delete(c.contexts, k)
		}
	}
	c.pruneLoop(now)
	for k, d := range c.days {
		if d.expires <= now {
			delete(c.days, k)
		}
	}
	for k, m := range c.months {
		if m.expires <= now {
			delete(c.months, k)
		}
	}
	return len(c.days) == 0 && len(c.months) == 0 && len(c.res) == 0 && len(c.done) == 0 && len(c.reserved) == 0 && len(c.contexts) == 0 &&
		c.loopWin == nil && len(c.events) == 0
}
