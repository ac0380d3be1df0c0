package memory

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/proxide/proxide/budget"
)

var _ budget.ClientIndex = (*Store)(nil)

// periodIndex lists the clients of one period in one shard with their settled spend in
// it: a flat slice, so ListClients scans 100,000 clients with sequential reads instead of
// chasing a pointer per client (see BenchmarkListClients). Rows are never removed; the
// whole index expires with its period, like the clients' records of that period.
type periodIndex struct {
	rows    []indexRow
	expires int64 // unix ms: period end + retention
}

type indexRow struct {
	id    string
	spent int64
}

// indexRef is a client's row in a periodIndex (nil until its first settlement there).
type indexRef struct {
	idx *periodIndex
	pos int
}

// set records spent in the row, adding the row on first use. The index's expiry is the
// latest of its clients' records, so it never goes before a record that points at it.
func (r *indexRef) set(all map[string]*periodIndex, p budget.Period, clientID string, spent int64, retention time.Duration) {
	if r.idx == nil {
		pi := all[p.Key]
		if pi == nil {
			pi = &periodIndex{}
			all[p.Key] = pi
		}
		r.idx, r.pos = pi, len(pi.rows)
		pi.rows = append(pi.rows, indexRow{id: clientID})
	}
	r.idx.expires = max(r.idx.expires, expiry(p, retention))
	r.idx.rows[r.pos].spent = spent
}

// indexSettled updates the shard's client index and global aggregates after a
// settlement; the caller holds the shard's lock.
func (sh *memShard) indexSettled(s budget.SettleRequest, model string, d *memDay, mo *memMonth, retention time.Duration) {
	d.row.set(sh.dayIdx, s.Periods.Day, s.ClientID, d.spent, retention)
	mo.row.set(sh.monthIdx, s.Periods.Month, s.ClientID, mo.spent, retention)
	a := sh.agg[s.Periods.Day.Key]
	if a == nil {
		a = &memDay{models: map[string]*budget.ModelStats{}}
		sh.agg[s.Periods.Day.Key] = a
	}
	a.expires = max(a.expires, expiry(s.Periods.Day, retention))
	a.spent = budget.AddSat(a.spent, s.ActualNano)
	a.count(s, model)
}

// pruneIndex drops expired period indexes and aggregates. Clients' own records of the
// same periods expire at the same instant, so no row outlives its client's record.
func (sh *memShard) pruneIndex(now int64) {
	for _, m := range []map[string]*periodIndex{sh.dayIdx, sh.monthIdx} {
		for k, pi := range m {
			if pi.expires <= now {
				delete(m, k)
			}
		}
	}
	for k, d := range sh.agg {
		if d.expires <= now {
			delete(sh.agg, k)
		}
	}
}

// ListClients implements budget.ClientIndex. Each call scans the shards' flat period indexes
// once and keeps the first Limit+1 rows after the cursor in a bounded heap,
// O(clients × log(limit)) with sequential reads; then it reads the other period's spend
// and the last-seen time of the page's clients only.
func (m *Store) ListClients(ctx context.Context, q budget.ClientQuery) (budget.ClientPage, error) {
	lq, err := q.Validate()
	if err != nil {
		return budget.ClientPage{}, err
	}
	if err := ctx.Err(); err != nil {
		return budget.ClientPage{}, fmt.Errorf("%w: list clients: %w", budget.ErrUnavailable, err)
	}
	top := make(rowHeap, 0, lq.Limit+1)
	var total int64
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		pi := sh.dayIdx[lq.Period]
		if lq.Sort == budget.SortMonth {
			pi = sh.monthIdx[lq.Period]
		}
		if pi != nil {
			total += top.scan(pi.rows, &lq)
		}
		sh.mu.Unlock()
	}
	rows := []row(top)
	slices.SortFunc(rows, func(a, b row) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	more := len(rows) > lq.Limit
	rows = rows[:min(len(rows), lq.Limit)]
	page := budget.ClientPage{Clients: make([]budget.ClientSummary, len(rows)), Total: total}
	for i, r := range rows {
		s := budget.ClientSummary{ClientID: r.id}
		sh, c := m.lock(r.id, false)
		if c != nil {
			if d := c.days[lq.Periods.Day.Key]; d != nil {
				s.DaySpentNano = d.spent
			}
			if mo := c.months[lq.Periods.Month.Key]; mo != nil {
				s.MonthSpentNano, s.LastSeen = mo.spent, budget.UnixMilli(mo.lastSeen)
			}
		}
		sh.mu.Unlock()
		// The listed spend is the one the page was sorted by.
		if lq.Sort == budget.SortMonth {
			s.MonthSpentNano = r.key
		} else {
			s.DaySpentNano = r.key
		}
		page.Clients[i] = s
	}
	page.NextCursor = lq.Next(page.Clients, more)
	return page, nil
}

// row is one client while listing; key is the spend of the sorted period.
type row struct {
	id  string
	key int64
}

// before is the listing order: spend descending, then client id ascending.
func (a row) before(b row) bool { return budget.Before(a.key, a.id, b.key, b.id) }

// rowHeap keeps the rows that come first; its root is the last of them, so a better row
// replaces it.
type rowHeap []row

func (h rowHeap) Len() int           { return len(h) }
func (h rowHeap) Less(i, j int) bool { return h[j].before(h[i]) }
func (h rowHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rowHeap) Push(x any)        { *h = append(*h, x.(row)) }
func (h *rowHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scan offers the rows that match the query to the heap and returns how many matched.
func (h *rowHeap) scan(rows []indexRow, lq *budget.ListQuery) int64 {
	var n int64
	for _, ir := range rows {
		if lq.Prefix != "" && !strings.HasPrefix(ir.id, lq.Prefix) {
			continue
		}
		n++
		if !lq.After(ir.spent, ir.id) {
			continue
		}
		r := row{id: ir.id, key: ir.spent}
		switch {
		case len(*h) <= lq.Limit: // keep rules.Limit+1 rows to know whether more follow
			heap.Push(h, r)
		case r.before((*h)[0]):
			(*h)[0] = r
			heap.Fix(h, 0)
		}
	}
	return n
}

// GlobalHistory implements budget.ClientIndex by summing the shards' per-day aggregates.
func (m *Store) GlobalHistory(ctx context.Context, fromDay, toDay string) ([]budget.DayStats, error) {
	days, err := budget.GlobalDays(fromDay, toDay)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: global history: %w", budget.ErrUnavailable, err)
	}
	out := make([]budget.DayStats, len(days))
	for i, key := range days {
		out[i] = budget.DayStats{Day: key}
	}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for j, key := range days {
			if a := sh.agg[key]; a != nil {
				out[j].Add(a.stats(key))
			}
		}
		sh.mu.Unlock()
	}
	return out, nil
}

// FlushIndex implements budget.Store; it has nothing to do: the store updates its index
// in Settle.
func (m *Store) FlushIndex(context.Context) error { return nil }
