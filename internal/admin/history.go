package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/proxide/proxide/internal/admin/api"
	"github.com/proxide/proxide/internal/metrics"
)

// MaxHistoryDays bounds ClientsQuery.History (GET /v1/clients?history=N): the
// dashboard's sparklines ask for 30 days with each page instead of one
// /v1/spend request per client shown.
const MaxHistoryDays = 90

// history reads a client's cost per day over the days days ending today.
func (s *Service) history(ctx context.Context, id, today string, days int) ([]int64, error) {
	to, err := time.Parse(dateLayout, today)
	if err != nil {
		return nil, fmt.Errorf("admin: today %q: %w", today, err)
	}
	from := to.AddDate(0, 0, -(days - 1)).Format(dateLayout)
	stats, err := s.opts.Store.History(ctx, id, from, today)
	if err != nil {
		return nil, s.unavailable(fmt.Sprintf("reading the history of %q", id), err)
	}
	out := make([]int64, len(stats))
	for i, d := range stats {
		out[i] = d.CostNano
	}
	return out, nil
}

// historyParam parses ?history=N (absent: 0, none).
func historyParam(q map[string]string) (int, error) {
	v, ok := q["history"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxHistoryDays {
		return 0, fieldErr("history", "%q is not a number of days between 1 and %d", v, MaxHistoryDays)
	}
	return n, nil
}

// Activity is this replica's count of refusals per day (metrics.Daily): the
// ledger keeps none, so GET /v1/activity reports what this process saw.
type Activity interface {
	Since() time.Time
	Days(from, to string) []metrics.DayCounts
}

// activity answers GET /v1/activity?from=&to=: every day of the range (the
// same dates and defaults as /v1/spend), zero where nothing was refused.
func (s *server) activity(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r.URL.Query(), "from", "to")
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	from, to, err := s.svc.dateRange(q["from"], q["to"])
	if err != nil {
		s.writeServiceError(w, err)
		return
	}
	v := api.ActivityView{From: from.Format(dateLayout), To: to.Format(dateLayout), Scope: "replica", Series: []api.ActivityDayView{}}
	var counts []metrics.DayCounts
	if s.activitySrc != nil {
		v.Since = rfc3339(s.activitySrc.Since())
		counts = s.activitySrc.Days(v.From, v.To)
	}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		day := api.ActivityDayView{Date: d.Format(dateLayout)}
		for len(counts) > 0 && counts[0].Day <= day.Date {
			if c := counts[0]; c.Day == day.Date {
				day.BlockedDaily, day.BlockedMonthly, day.Loops, day.LoopsBlocked = c.BlockedDaily, c.BlockedMonthly, c.Loops, c.LoopsBlocked
				day.Blocked = c.BlockedDaily + c.BlockedMonthly
			}
			counts = counts[1:]
		}
		v.Series = append(v.Series, day)
	}
	writeJSON(w, http.StatusOK, v)
}
