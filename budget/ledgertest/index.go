package ledgertest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// summary is the part of a ClientSummary the index tests compare.
type summary struct {
	ID         string
	Day, Month int64
}

// walk lists every page of q and checks the page invariants on the way.
func walk(t *testing.T, f *Fixture, q budget.ClientQuery) ([]budget.ClientSummary, int) {
	t.Helper()
	var all []budget.ClientSummary
	pages := 0
	var total int64 = -1
	fromStart := q.Cursor == ""
	for {
		p, err := f.Index().ListClients(f.ctx, q)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(p.Clients), max(q.Limit, 1))
		if total >= 0 {
			require.Equal(t, total, p.Total, "Total is the same on every page")
		}
		total = p.Total
		all = append(all, p.Clients...)
		if p.NextCursor == "" {
			break
		}
		require.Len(t, p.Clients, q.Limit, "only the last page is short")
		require.Less(t, pages, 1000, "cursor walk does not end")
		q.Cursor = p.NextCursor
	}
	if fromStart {
		require.Equal(t, int64(len(all)), total, "Total counts every listed client")
	}
	return all, pages
}

func summaries(cs []budget.ClientSummary) []summary {
	out := make([]summary, len(cs))
	for i, c := range cs {
		out[i] = summary{c.ClientID, c.DaySpentNano, c.MonthSpentNano}
	}
	return out
}

// expectOrder sorts by the chosen spend descending, then id ascending.
func expectOrder(ss []summary, month bool) []summary {
	out := append([]summary(nil), ss...)
	key := func(s summary) int64 {
		if month {
			return s.Month
		}
		return s.Day
	}
	sort.Slice(out, func(i, j int) bool {
		if key(out[i]) != key(out[j]) {
			return key(out[i]) > key(out[j])
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// failed records a failed request (no cost) for client.
func (f *Fixture) failed(client string) {
	f.T.Helper()
	s := f.SettleReq(f.NextID(), client, rules.Rule{}, 0)
	s.Failed = true
	_, err := f.L.Settle(f.ctx, s)
	require.NoError(f.T, err)
}

// seedIndex charges clients today and yesterday; it returns today's expected rows (day
// spend and month spend) and the clients only seen yesterday.
func seedIndex(f *Fixture) (today []summary, yesterdayOnly []summary) {
	rule := rules.Rule{}
	day := f.Now
	f.Advance(-24 * time.Hour)
	for i := range 4 { // month-only clients, one also active today
		f.Charge(fmt.Sprintf("old-%d", i), rule, int64(10+i))
	}
	f.At(day)
	costs := []int64{30, 5, 30, 0, 12, 5, 5, 99, 30, 1, 12, 0, 7, 5, 30, 2, 64, 5, 3, 30, 8}
	for i, c := range costs {
		id := fmt.Sprintf("user-%02d", (i*5)%len(costs)) // ids not in cost order
		if c == 0 {
			f.failed(id)
		} else {
			f.Charge(id, rule, c)
		}
		today = append(today, summary{id, c, c})
	}
	f.Charge("old-0", rule, 4)
	today = append(today, summary{"old-0", 4, 14})
	for i := 1; i < 4; i++ {
		yesterdayOnly = append(yesterdayOnly, summary{fmt.Sprintf("old-%d", i), 0, int64(10 + i)})
	}
	f.SyncIndex()
	return today, yesterdayOnly
}

func testIndexOrder(t *testing.T, f *Fixture) {
	today, _ := seedIndex(f)
	want := expectOrder(today, false)
	for _, limit := range []int{1, 4, 7, len(want), len(want) + 5} {
		got, pages := walk(t, f, budget.ClientQuery{Periods: f.Periods(), Limit: limit})
		require.Equal(t, want, summaries(got), "limit %d: day spend desc, then id asc, every client once", limit)
		require.Equal(t, (len(want)+limit-1)/limit, pages, "limit %d", limit)
	}
	// The default limit holds them all on one page; the day sort is the default.
	p, err := f.Index().ListClients(f.ctx, budget.ClientQuery{Periods: f.Periods(), Sort: budget.SortDay})
	require.NoError(t, err)
	require.Equal(t, want, summaries(p.Clients))
	require.Empty(t, p.NextCursor)
	require.Equal(t, int64(len(want)), p.Total)

	// LastSeen is the request time of the latest settlement, to the millisecond.
	f.Advance(90*time.Minute + 1234567*time.Microsecond)
	f.Charge("user-03", rules.Rule{}, 1)
	f.SyncIndex()
	p, err = f.Index().ListClients(f.ctx, budget.ClientQuery{Periods: f.Periods(), Prefix: "user-03"})
	require.NoError(t, err)
	require.Len(t, p.Clients, 1)
	require.Equal(t, f.Now.Truncate(time.Millisecond).UTC(), p.Clients[0].LastSeen)

	// Another day's index is empty.
	p, err = f.Index().ListClients(f.ctx, budget.ClientQuery{Periods: f.Cal.Periods(f.Now.Add(48 * time.Hour))})
	require.NoError(t, err)
	require.Empty(t, p.Clients)
	require.Zero(t, p.Total)
	require.Empty(t, p.NextCursor)
}

func testIndexMonthSort(t *testing.T, f *Fixture) {
	today, old := seedIndex(f)
	want := expectOrder(append(today, old...), true)
	got, _ := walk(t, f, budget.ClientQuery{Periods: f.Periods(), Sort: budget.SortMonth, Limit: 3})
	require.Equal(t, want, summaries(got), "month spend desc; clients seen only yesterday have day spend 0")
	for _, c := range got {
		require.False(t, c.LastSeen.IsZero(), c.ClientID)
	}
}

func testIndexPrefix(t *testing.T, f *Fixture) {
	today, _ := seedIndex(f)
	var users []summary
	for _, s := range today {
		if s.ID[:5] == "user-" {
			users = append(users, s)
		}
	}
	got, _ := walk(t, f, budget.ClientQuery{Periods: f.Periods(), Limit: 4, Prefix: "user-"})
	require.Equal(t, expectOrder(users, false), summaries(got))
	got, _ = walk(t, f, budget.ClientQuery{Periods: f.Periods(), Limit: 2, Prefix: "user-1"})
	require.Len(t, got, 10)

	// Glob characters in a prefix are literal.
	for _, id := range []string{"a*b-1", "a*b-2", "axb-3", "a?c", "a[b]", `a\b`} {
		f.Charge(id, rules.Rule{}, 1)
	}
	f.SyncIndex()
	for prefix, n := range map[string]int{"a*b": 2, "a?": 1, "a[": 1, `a\`: 1, "a": 6, "zzz": 0} {
		got, _ := walk(t, f, budget.ClientQuery{Periods: f.Periods(), Limit: 1, Prefix: prefix})
		require.Len(t, got, n, "prefix %q", prefix)
	}
}

// testIndexCursorStability: a client whose spend changes between pages may move, but
// every other client is still listed exactly once.
func testIndexCursorStability(t *testing.T, f *Fixture) {
	rule := rules.Rule{}
	for i := range 12 {
		f.Charge(fmt.Sprintf("t%02d", i), rule, 5) // one block of equal spend
	}
	f.Charge("top", rule, 50)
	f.Charge("low", rule, 1)
	f.SyncIndex()
	q := budget.ClientQuery{Periods: f.Periods(), Limit: 4}
	p1, err := f.Index().ListClients(f.ctx, q)
	require.NoError(t, err)
	require.Equal(t, []string{"top", "t00", "t01", "t02"}, ids(p1.Clients))

	// The cursor's own client moves up; the next page starts where it was.
	f.Charge("t02", rule, 1)
	f.SyncIndex()
	q.Cursor = p1.NextCursor
	p2, err := f.Index().ListClients(f.ctx, q)
	require.NoError(t, err)
	require.Equal(t, []string{"t03", "t04", "t05", "t06"}, ids(p2.Clients))

	// A client ahead of the cursor moves; nothing shifts.
	f.Charge("t00", rule, 100)
	f.SyncIndex()
	q.Cursor = p2.NextCursor
	rest, _ := walk(t, f, q)
	require.Equal(t, []string{"t07", "t08", "t09", "t10", "t11", "low"}, ids(rest))
}

func ids(cs []budget.ClientSummary) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ClientID
	}
	return out
}

func testIndexInvalid(t *testing.T, f *Fixture) {
	f.Charge("a", rules.Rule{}, 1)
	f.Charge("b", rules.Rule{}, 1)
	f.SyncIndex()
	ix := f.Index()
	p, err := ix.ListClients(f.ctx, budget.ClientQuery{Periods: f.Periods(), Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.NextCursor)
	other := f.Cal.Periods(f.Now.Add(24 * time.Hour))
	for name, q := range map[string]budget.ClientQuery{
		"no periods":          {},
		"unknown sort":        {Periods: f.Periods(), Sort: "year"},
		"negative limit":      {Periods: f.Periods(), Limit: -1},
		"limit too big":       {Periods: f.Periods(), Limit: budget.MaxClientLimit + 1},
		"garbage cursor":      {Periods: f.Periods(), Cursor: "!!not-a-cursor"},
		"truncated cursor":    {Periods: f.Periods(), Cursor: p.NextCursor[:len(p.NextCursor)-3]},
		"cursor of the month": {Periods: f.Periods(), Sort: budget.SortMonth, Cursor: p.NextCursor},
		"cursor of a day ago": {Periods: other, Cursor: p.NextCursor},
		"control in prefix":   {Periods: f.Periods(), Prefix: "a\x00"},
		"prefix too long":     {Periods: f.Periods(), Prefix: string(make([]byte, rules.MaxClientIDBytes+1))},
	} {
		_, err := ix.ListClients(f.ctx, q)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
	p, err = ix.ListClients(f.ctx, budget.ClientQuery{Periods: f.Periods(), Limit: budget.MaxClientLimit})
	require.NoError(t, err)
	require.Len(t, p.Clients, 2)
	for name, r := range map[string][2]string{
		"bad from":      {"2026-13-01", "2026-11-28"},
		"bad to":        {"2026-11-01", "yesterday"},
		"reversed":      {"2026-11-28", "2026-11-01"},
		"too long":      {"2020-01-01", "2026-11-28"},
		"not a day":     {"2026-11", "2026-11"},
		"empty":         {"", ""},
		"trailing junk": {"2026-11-01x", "2026-11-28"},
	} {
		_, err := ix.GlobalHistory(f.ctx, r[0], r[1])
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
}

// traffic settles a mix of models, failures and estimates for several clients and days.
func traffic(f *Fixture, clients []string, days int) {
	models := []string{"gpt-4o", "gpt-4o-mini", "o3", ""}
	start := f.Now
	n := 0
	for d := range days {
		f.At(start.Add(time.Duration(d) * 24 * time.Hour))
		for ci, c := range clients {
			for k := range 3 + ci {
				n++
				id := f.NextID()
				cost := int64(n*37%1000) * 1000
				f.Reserve(id, c, rules.Rule{}, cost)
				s := f.SettleReq(id, c, rules.Rule{}, cost)
				s.Model = models[(n+k)%len(models)]
				s.Tokens = budget.Tokens{Prompt: int64(n), Cached: int64(n % 5), Completion: int64(2 * n), Reasoning: int64(n % 3)}
				s.Failed = n%9 == 0
				s.Estimated = n%4 == 0
				_, err := f.L.Settle(f.ctx, s)
				require.NoError(f.T, err)
			}
		}
	}
	f.At(start)
}

// sumHistories adds up client histories day by day, models merged by name.
func sumHistories(hs [][]budget.DayStats) []budget.DayStats {
	out := make([]budget.DayStats, len(hs[0]))
	for i := range out {
		out[i].Day = hs[0][i].Day
		models := map[string]*budget.ModelStats{}
		for _, h := range hs {
			d := h[i]
			out[i].Requests += d.Requests
			out[i].Failed += d.Failed
			out[i].CostNano += d.CostNano
			out[i].EstimatedNano += d.EstimatedNano
			for _, m := range d.Models {
				s := models[m.Model]
				if s == nil {
					s = &budget.ModelStats{Model: m.Model}
					models[m.Model] = s
				}
				s.Requests += m.Requests
				s.Failed += m.Failed
				s.Estimated += m.Estimated
				s.CostNano += m.CostNano
				s.EstimatedNano += m.EstimatedNano
				s.Tokens.Prompt += m.Tokens.Prompt
				s.Tokens.Cached += m.Tokens.Cached
				s.Tokens.Completion += m.Tokens.Completion
				s.Tokens.Reasoning += m.Tokens.Reasoning
			}
		}
		for _, m := range models {
			out[i].Models = append(out[i].Models, *m)
		}
		sort.Slice(out[i].Models, func(a, b int) bool {
			ma, mb := out[i].Models[a], out[i].Models[b]
			if ma.CostNano != mb.CostNano {
				return ma.CostNano > mb.CostNano
			}
			return ma.Model < mb.Model
		})
	}
	return out
}

func testGlobalHistory(t *testing.T, f *Fixture) {
	clients := []string{"alpha", "beta", "gamma", "delta"}
	f.At(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	traffic(f, clients, 3) // Nov 27–29
	f.SyncIndex()
	from, to := "2026-11-26", "2026-11-30"
	var hs [][]budget.DayStats
	for _, c := range clients {
		h, err := f.L.History(f.ctx, c, from, to)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	want := sumHistories(hs)
	got, err := f.Index().GlobalHistory(f.ctx, from, to)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, budget.DayStats{Day: "2026-11-26"}, got[0], "days without traffic are zero")
	require.Equal(t, budget.DayStats{Day: "2026-11-30"}, got[4])
	require.NotZero(t, got[2].Failed)
	require.Len(t, got[2].Models, 4)
}

func testGlobalDuplicate(t *testing.T, f *Fixture) {
	rule := rules.Rule{}
	f.Reserve("dup", "c", rule, 10)
	f.Settle("dup", "c", rule, 10)
	f.SyncIndex()
	before, err := f.Index().GlobalHistory(f.ctx, f.Periods().Day.Key, f.Periods().Day.Key)
	require.NoError(t, err)
	require.Equal(t, int64(1), before[0].Requests)
	res := f.Settle("dup", "c", rule, 10)
	require.True(t, res.Duplicate)
	f.SyncIndex()
	after, err := f.Index().GlobalHistory(f.ctx, f.Periods().Day.Key, f.Periods().Day.Key)
	require.NoError(t, err)
	require.Equal(t, before, after, "a duplicate settlement is not aggregated again")
	p, err := f.Index().ListClients(f.ctx, budget.ClientQuery{Periods: f.Periods()})
	require.NoError(t, err)
	require.Equal(t, []summary{{"c", 10, 10}}, summaries(p.Clients))
}
