package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/proxide/proxide/budget"
)

// Spend grouping.
const (
	GroupByDay   = "day"
	GroupByModel = "model"
)

// Spend ranges.
const (
	// MaxSpendDays is the longest from..to range of one Spend query.
	MaxSpendDays = 366
	// DefaultSpendDays is the range when from is not given: to and the 29 days before.
	DefaultSpendDays = 30
)

const dateLayout = "2006-01-02"

// SpendQuery asks for spend over a date range.
type SpendQuery struct {
	ClientID string // "": all clients
	From, To string // "2026-11-28" in the budget time zone; "" for the defaults
	GroupBy  string // GroupByDay ("" too) or GroupByModel
}

// SpendRow is one day or one model, or the total of a report.
type SpendRow struct {
	Date, Model                 string
	Requests, Failed, Estimated int64
	Tokens                      budget.Tokens
	CostNano                    int64
	// EstimatedNano is the part of CostNano charged from estimates.
	EstimatedNano int64
}

// SpendReport is the answer to Spend: one row per day of the range (days
// without traffic included) or one per model (highest cost first).
type SpendReport struct {
	ClientID, From, To, GroupBy string
	Total                       SpendRow
	Rows                        []SpendRow
}

// Spend reports spend of one client (Ledger.History) or of all clients
// (ClientIndex.GlobalHistory).
func (s *Service) Spend(ctx context.Context, q SpendQuery) (SpendReport, error) {
	if q.ClientID != "" {
		if err := budget.ValidClientID(q.ClientID); err != nil {
			return SpendReport{}, fieldErr("client_id", "%v", err)
		}
	}
	switch q.GroupBy {
	case "":
		q.GroupBy = GroupByDay
	case GroupByDay, GroupByModel:
	default:
		return SpendReport{}, fieldErr("group_by", "unknown grouping %q (want day or model)", q.GroupBy)
	}
	from, to, err := s.dateRange(q.From, q.To)
	if err != nil {
		return SpendReport{}, err
	}
	q.From, q.To = from.Format(dateLayout), to.Format(dateLayout)
	var days []budget.DayStats
	if q.ClientID != "" {
		days, err = s.opts.Ledger.History(ctx, q.ClientID, q.From, q.To)
	} else {
		days, err = s.opts.Index.GlobalHistory(ctx, q.From, q.To)
	}
	if err != nil {
		if errors.Is(err, budget.ErrInvalid) {
			return SpendReport{}, &FieldError{Message: err.Error()}
		}
		return SpendReport{}, s.unavailable("reading spend history", err)
	}
	rep := SpendReport{ClientID: q.ClientID, From: q.From, To: q.To, GroupBy: q.GroupBy}
	if q.GroupBy == GroupByDay {
		rep.Rows = make([]SpendRow, 0, len(days))
		for _, d := range days {
			row := SpendRow{Date: d.Day, Requests: d.Requests, Failed: d.Failed, CostNano: d.CostNano, EstimatedNano: d.EstimatedNano}
			for _, m := range d.Models {
				row.Estimated += m.Estimated
				row.Tokens = addTokens(row.Tokens, m.Tokens)
			}
			rep.Rows = append(rep.Rows, row)
		}
	} else {
		rep.Rows = byModel(days)
	}
	for _, d := range days {
		rep.Total.Requests += d.Requests
		rep.Total.Failed += d.Failed
		rep.Total.CostNano += d.CostNano
		rep.Total.EstimatedNano += d.EstimatedNano
		for _, m := range d.Models {
			rep.Total.Estimated += m.Estimated
			rep.Total.Tokens = addTokens(rep.Total.Tokens, m.Tokens)
		}
	}
	return rep, nil
}

// dateRange parses and checks from and to, filling in the defaults.
func (s *Service) dateRange(fromS, toS string) (from, to time.Time, err error) {
	parse := func(param, v string) (time.Time, error) {
		t, err := time.Parse(dateLayout, v)
		if err != nil || t.Format(dateLayout) != v {
			return time.Time{}, fieldErr(param, "%q is not a date like 2026-11-28", v)
		}
		return t, nil
	}
	if toS == "" {
		toS = s.opts.Calendar.Periods(s.opts.Now()).Day.Key
	}
	if to, err = parse("to", toS); err != nil {
		return
	}
	if fromS == "" {
		from = to.AddDate(0, 0, -(DefaultSpendDays - 1))
	} else if from, err = parse("from", fromS); err != nil {
		return
	}
	if from.After(to) {
		return from, to, fieldErr("from", "%s is after to (%s)", from.Format(dateLayout), to.Format(dateLayout))
	}
	// Dates are UTC midnights here, so the difference is whole days.
	if n := int(to.Sub(from).Hours()/24) + 1; n > MaxSpendDays {
		return from, to, fieldErr("from", "the range from %s to %s spans %d days, at most %d allowed",
			from.Format(dateLayout), to.Format(dateLayout), n, MaxSpendDays)
	}
	return from, to, nil
}

// byModel sums each model over the days, highest cost first, then by name.
func byModel(days []budget.DayStats) []SpendRow {
	idx := map[string]int{}
	rows := []SpendRow{}
	for _, d := range days {
		for _, m := range d.Models {
			i, ok := idx[m.Model]
			if !ok {
				i = len(rows)
				idx[m.Model] = i
				rows = append(rows, SpendRow{Model: m.Model})
			}
			r := &rows[i]
			r.Requests += m.Requests
			r.Failed += m.Failed
			r.Estimated += m.Estimated
			r.Tokens = addTokens(r.Tokens, m.Tokens)
			r.CostNano += m.CostNano
			r.EstimatedNano += m.EstimatedNano
		}
	}
	slices.SortFunc(rows, func(a, b SpendRow) int {
		if a.CostNano != b.CostNano {
			if a.CostNano > b.CostNano {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Model, b.Model)
	})
	return rows
}

func addTokens(a, b budget.Tokens) budget.Tokens {
	return budget.Tokens{Prompt: a.Prompt + b.Prompt, Cached: a.Cached + b.Cached,
		Completion: a.Completion + b.Completion, Reasoning: a.Reasoning + b.Reasoning}
}
