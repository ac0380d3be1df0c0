package budget

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/proxide/proxide/budget/rules"
)

// ClientSort names the period whose settled spend orders ListClients.
type ClientSort string

const (
	// SortDay orders by today's settled spend (the default).
	SortDay ClientSort = "day"
	// SortMonth orders by this month's settled spend.
	SortMonth ClientSort = "month"
)

// DefaultClientLimit and MaxClientLimit bound ClientQuery.Limit.
const (
	DefaultClientLimit = 100
	MaxClientLimit     = 1000
)

// ClientQuery selects one page of ListClients.
type ClientQuery struct {
	// Periods are the day and month listed (usually the current ones).
	Periods Periods
	// Sort is SortDay ("" too) or SortMonth.
	Sort ClientSort
	// Cursor is "" for the first page, else the NextCursor of the previous page of the
	// same Sort and period.
	Cursor string
	// Limit is the page size, 1–1000; 0 means 100.
	Limit int
	// Prefix keeps only client ids that start with it ("" keeps all).
	Prefix string
}

// ClientSummary is one client in ListClients.
type ClientSummary struct {
	ClientID                     string
	DaySpentNano, MonthSpentNano int64
	// LastSeen is the request time of the client's latest settlement in the queried month
	// (millisecond precision, UTC).
	LastSeen time.Time
}

// ClientPage is one page of ListClients.
type ClientPage struct {
	Clients []ClientSummary
	// NextCursor continues the listing; "" on the last page.
	NextCursor string
	// Total counts the clients of the sorted period that match Prefix (all pages).
	Total int64
}

// ClientIndex lists clients and global analytics; part of Store.
//
// A client enters a period's index with its first settlement in that period (failed
// requests included, at spend 0); reservations alone do not count. On Redis the index and
// the global aggregates are written in the background and lag by up to 250 ms.
type ClientIndex interface {
	// ListClients returns one page of the clients of the sorted period, by that period's
	// settled spend descending, then client id ascending. The cursor is keyset-based
	// (spend and client id of the last row), so a walk over all pages has no duplicates
	// or gaps among clients whose spend does not change meanwhile.
	ListClients(ctx context.Context, q ClientQuery) (ClientPage, error)
	// GlobalHistory sums all clients per day (and per model) from fromDay to toDay
	// inclusive, days without traffic included, like History.
	GlobalHistory(ctx context.Context, fromDay, toDay string) ([]DayStats, error)
}

// clientCursor is the decoded ClientQuery.Cursor: the sort key of the last row returned.
type clientCursor struct {
	set    bool
	spent  int64
	client string
}

// The backends share the cursor format and the listing order through ListQuery.

// cursorVersion starts every cursor, so the format can change without misreading old ones.
const cursorVersion = "c1"

// encodeCursor makes an opaque cursor: base64url("c1|<sort>|<period key>|<spent>|<id>").
// The sort and period are checked on the way back, so a cursor is never applied to a
// listing it does not belong to.
func encodeCursor(sort ClientSort, period string, spent int64, client string) string {
	s := cursorVersion + "|" + string(sort) + "|" + period + "|" + strconv.FormatInt(spent, 10) + "|" + client
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(c string, sort ClientSort, period string) (clientCursor, error) {
	if c == "" {
		return clientCursor{}, nil
	}
	bad := errors.New("cursor: malformed; pass the next_cursor of the previous page unchanged")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return clientCursor{}, bad
	}
	parts := strings.SplitN(string(raw), "|", 5)
	if len(parts) != 5 || parts[0] != cursorVersion {
		return clientCursor{}, bad
	}
	if parts[1] != string(sort) || parts[2] != period {
		return clientCursor{}, fmt.Errorf("cursor: belongs to sort %q of period %q, not %q of %q",
			truncate(parts[1], 16), truncate(parts[2], 16), sort, period)
	}
	spent, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || spent < 0 || rules.ValidClientID(parts[4]) != nil {
		return clientCursor{}, bad
	}
	return clientCursor{set: true, spent: spent, client: parts[4]}, nil
}

// ListQuery is a validated ClientQuery with its defaults applied.
type ListQuery struct {
	ClientQuery
	// Period is the key of the sorted period.
	Period string
	cursor clientCursor
}

// After reports whether a row (spent, client) comes after the query's cursor in the
// listing order (spend descending, then client id ascending); true without a cursor. A
// pointer receiver: it runs once per row of a listing.
func (q *ListQuery) After(spent int64, client string) bool {
	c := &q.cursor
	if !c.set {
		return true
	}
	return spent < c.spent || (spent == c.spent && client > c.client)
}

// Cursor returns the sort key of the cursor's row: its spend and client id; ok is false
// on the first page.
func (q ListQuery) Cursor() (spent int64, client string, ok bool) {
	return q.cursor.spent, q.cursor.client, q.cursor.set
}

// Before is the listing order of two rows: spend descending, then client id ascending.
func Before(spentA int64, clientA string, spentB int64, clientB string) bool {
	return spentA > spentB || (spentA == spentB && clientA < clientB)
}

// Validate checks q and applies the defaults; a problem wraps ErrInvalid.
func (q ClientQuery) Validate() (ListQuery, error) {
	var errs []error
	if err := q.Periods.Validate(); err != nil {
		errs = append(errs, err)
	}
	lq := ListQuery{ClientQuery: q, Period: q.Periods.Day.Key}
	switch q.Sort {
	case "":
		lq.Sort = SortDay
	case SortDay, SortMonth:
	default:
		errs = append(errs, fmt.Errorf("sort: %q, want %q or %q", truncate(string(q.Sort), 16), SortDay, SortMonth))
	}
	switch {
	case q.Limit == 0:
		lq.Limit = DefaultClientLimit
	case q.Limit < 1 || q.Limit > MaxClientLimit:
		errs = append(errs, fmt.Errorf("limit: %d is outside [1, %d]", q.Limit, MaxClientLimit))
	}
	if len(q.Prefix) > rules.MaxClientIDBytes {
		errs = append(errs, fmt.Errorf("prefix: %d bytes, at most %d allowed", len(q.Prefix), rules.MaxClientIDBytes))
	} else if err := rules.ValidText(q.Prefix, "prefix"); err != nil {
		errs = append(errs, fmt.Errorf("prefix: %w", err))
	}
	if q.Sort == SortMonth {
		lq.Period = q.Periods.Month.Key
	}
	if len(errs) == 0 {
		c, err := decodeCursor(q.Cursor, lq.Sort, lq.Period)
		if err != nil {
			errs = append(errs, err)
		}
		lq.cursor = c
	}
	return lq, invalid("list clients", errs)
}

// sortKey is the spend that orders s in this query.
func (q ListQuery) sortKey(s ClientSummary) int64 {
	if q.Sort == SortMonth {
		return s.MonthSpentNano
	}
	return s.DaySpentNano
}

// Next returns the cursor after the last row of a full page (more rows follow), or "" at
// the end.
func (q ListQuery) Next(page []ClientSummary, more bool) string {
	if !more || len(page) == 0 {
		return ""
	}
	last := page[len(page)-1]
	return encodeCursor(q.Sort, q.Period, q.sortKey(last), last.ClientID)
}

// GlobalDays validates the range of ClientIndex.GlobalHistory and returns its day keys.
func GlobalDays(fromDay, toDay string) ([]string, error) {
	days, errs := dayRange(fromDay, toDay)
	if err := invalid("global history", errs); err != nil {
		return nil, err
	}
	return days, nil
}

// UnixMilli turns a stored ms timestamp into a UTC time (zero for 0).
func UnixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
