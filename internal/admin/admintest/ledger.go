package admintest

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// ClientData is one fake client's spend.
type ClientData struct {
	DaySpent, DayReserved, MonthSpent, MonthReserved int64
	// Days is the client's history; the entry of the current day key is
	// today's stats in Spend.
	Days     []budget.DayStats
	LastSeen time.Time
}

// Ledger is a fake of both the ledger reads and the client index, over
// fixed per-client data. Safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	clients map[string]ClientData
	// Err, when set, fails every call; ErrFor fails Spend of one client.
	Err    error
	ErrFor map[string]error
	spends atomic.Int64
}

// NewLedger returns a ledger without clients.
func NewLedger() *Ledger { return &Ledger{clients: map[string]ClientData{}} }

// Set replaces a client's data.
func (l *Ledger) Set(id string, d ClientData) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = d
}

// SpendCalls counts the calls of Spend.
func (l *Ledger) SpendCalls() int64 { return l.spends.Load() }

// Spend returns the client's spend under rule's limits.
func (l *Ledger) Spend(_ context.Context, id string, rule rules.Rule, p budget.Periods, _ time.Time) (budget.ClientSpend, error) {
	l.spends.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return budget.ClientSpend{}, l.Err
	}
	if err := l.ErrFor[id]; err != nil {
		return budget.ClientSpend{}, err
	}
	d := l.clients[id]
	cs := budget.ClientSpend{ClientID: id,
		Day:   budget.PeriodSpend{SpentNano: d.DaySpent, ReservedNano: d.DayReserved, Limit: rule.Daily},
		Month: budget.PeriodSpend{SpentNano: d.MonthSpent, ReservedNano: d.MonthReserved, Limit: rule.Monthly},
		Today: budget.DayStats{Day: p.Day.Key}}
	for _, ds := range d.Days {
		if ds.Day == p.Day.Key {
			cs.Today = ds
		}
	}
	return cs, nil
}

// days lists the day keys from..to, like the real ledgers' validation.
func days(from, to string) ([]string, error) {
	f, err1 := time.Parse("2006-01-02", from)
	t, err2 := time.Parse("2006-01-02", to)
	if err1 != nil || err2 != nil || f.After(t) {
		return nil, fmt.Errorf("%w: bad range %q..%q", budget.ErrInvalid, from, to)
	}
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format("2006-01-02"))
	}
	return out, nil
}

// History returns one DayStats per day, zero for days without data.
func (l *Ledger) History(_ context.Context, id, from, to string) ([]budget.DayStats, error) {
	keys, err := days(from, to)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return nil, l.Err
	}
	out := make([]budget.DayStats, 0, len(keys))
	for _, k := range keys {
		ds := budget.DayStats{Day: k}
		for _, d := range l.clients[id].Days {
			if d.Day == k {
				ds = d
			}
		}
		out = append(out, ds)
	}
	return out, nil
}

// GlobalHistory sums every client per day and model.
func (l *Ledger) GlobalHistory(_ context.Context, from, to string) ([]budget.DayStats, error) {
	keys, err := days(from, to)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return nil, l.Err
	}
	out := make([]budget.DayStats, 0, len(keys))
	for _, k := range keys {
		sum := budget.DayStats{Day: k}
		models := map[string]*budget.ModelStats{}
		for _, c := range l.clients {
			for _, d := range c.Days {
				if d.Day != k {
					continue
				}
				sum.Requests += d.Requests
				sum.Failed += d.Failed
				sum.CostNano += d.CostNano
				for _, m := range d.Models {
					agg := models[m.Model]
					if agg == nil {
						agg = &budget.ModelStats{Model: m.Model}
						models[m.Model] = agg
					}
					agg.Requests += m.Requests
					agg.Failed += m.Failed
					agg.Estimated += m.Estimated
					agg.CostNano += m.CostNano
					agg.Tokens.Prompt += m.Tokens.Prompt
					agg.Tokens.Cached += m.Tokens.Cached
					agg.Tokens.Completion += m.Tokens.Completion
					agg.Tokens.Reasoning += m.Tokens.Reasoning
				}
			}
		}
		for _, m := range models {
			sum.Models = append(sum.Models, *m)
		}
		slices.SortFunc(sum.Models, func(a, b budget.ModelStats) int {
			if c := cmp.Compare(b.CostNano, a.CostNano); c != 0 {
				return c
			}
			return strings.Compare(a.Model, b.Model)
		})
		out = append(out, sum)
	}
	return out, nil
}

// ListClients sorts by the period's spend descending, then id; the cursor
// is an encoded offset ("o:<n>").
func (l *Ledger) ListClients(_ context.Context, q budget.ClientQuery) (budget.ClientPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return budget.ClientPage{}, l.Err
	}
	offset := 0
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "o:") || n < 0 {
			return budget.ClientPage{}, fmt.Errorf("%w: bad cursor", budget.ErrInvalid)
		}
		offset = n
	}
	var all []budget.ClientSummary
	for id, d := range l.clients {
		if strings.HasPrefix(id, q.Prefix) {
			all = append(all, budget.ClientSummary{ClientID: id, DaySpentNano: d.DaySpent, MonthSpentNano: d.MonthSpent, LastSeen: d.LastSeen})
		}
	}
	key := func(c budget.ClientSummary) int64 {
		if q.Sort == budget.SortMonth {
			return c.MonthSpentNano
		}
		return c.DaySpentNano
	}
	slices.SortFunc(all, func(a, b budget.ClientSummary) int {
		if c := cmp.Compare(key(b), key(a)); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	page := budget.ClientPage{Total: int64(len(all))}
	if offset < len(all) {
		end := min(len(all), offset+limit)
		page.Clients = all[offset:end]
		if end < len(all) {
			page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
		}
	}
	return page, nil
}
