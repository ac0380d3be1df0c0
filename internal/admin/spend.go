package admin

import (
	"context"
	"errors"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

// Spend ranges.
const (
	// MaxSpendDays is the longest from..to range of one Spend query.
	MaxSpendDays = 366
	// DefaultSpendDays is the range when from is not given: to and the 29 days before.
	DefaultSpendDays = 30
)

const dateLayout = "2006-01-02"

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

// Spend reports spend of one client (Store.History) or of all clients
// (Store.GlobalHistory).
func (s *Service) Spend(ctx context.Context, q api.SpendQuery) (SpendReport, error) {
	if q.ClientID != "" {
		if err := rules.ValidClientID(q.ClientID); err != nil {
			return SpendReport{}, fieldErr("client_id", "%v", err)
		}
	}
	switch q.GroupBy {
	case "":
		q.GroupBy = api.GroupByDay
	case api.GroupByDay, api.GroupByModel, api.GroupByDayModel:
	default:
		return SpendReport{}, fieldErr("group_by", "unknown grouping %q (want day, model or day_model)", q.GroupBy)
	}
	from, to, err := s.dateRange(q.From, q.To)
	if err != nil {
		return SpendReport{}, err
	}
	q.From, q.To = from.Format(dateLayout), to.Format(dateLayout)
	var days []budget.DayStats
	if q.ClientID != "" {
		days, err = s.opts.Store.History(ctx, q.ClientID, q.From, q.To)
	} else {
		days, err = s.opts.Store.GlobalHistory(ctx, q.From, q.To)
	}
	if err != nil {
		if errors.Is(err, budget.ErrInvalid) {
			return SpendReport{}, &rules.FieldError{Msg: err.Error()}
		}
		return SpendReport{}, s.unavailable("reading spend history", err)
	}
	var all budget.DayStats // every day summed, its models merged
	for _, d := range days {
		all.Add(d)
	}
	rep := SpendReport{ClientID: q.ClientID, From: q.From, To: q.To, GroupBy: q.GroupBy, Total: dayRow(all)}
	switch q.GroupBy {
	case api.GroupByDay:
		rep.Rows = make([]SpendRow, 0, len(days))
		for _, d := range days {
			row := dayRow(d)
			row.Date = d.Day
			rep.Rows = append(rep.Rows, row)
		}
	case api.GroupByDayModel:
		rep.Rows = []SpendRow{}
		for _, d := range days {
			for _, m := range d.Models { // highest cost first, then by name
				rep.Rows = append(rep.Rows, SpendRow{Date: d.Day, Model: m.Model, Requests: m.Requests, Failed: m.Failed,
					Estimated: m.Estimated, Tokens: m.Tokens, CostNano: m.CostNano, EstimatedNano: m.EstimatedNano})
			}
		}
	default:
		rep.Rows = make([]SpendRow, 0, len(all.Models))
		for _, m := range all.Models { // highest cost first, then by name
			rep.Rows = append(rep.Rows, SpendRow{Model: m.Model, Requests: m.Requests, Failed: m.Failed, Estimated: m.Estimated,
				Tokens: m.Tokens, CostNano: m.CostNano, EstimatedNano: m.EstimatedNano})
		}
	}
	return rep, nil
}

// dayRow is a day's (or a range's) row: its own counters and its models' tokens and
// estimated requests.
func dayRow(d budget.DayStats) SpendRow {
	t := d.Total()
	return SpendRow{Requests: d.Requests, Failed: d.Failed, Estimated: t.Estimated, Tokens: t.Tokens,
		CostNano: d.CostNano, EstimatedNano: d.EstimatedNano}
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
