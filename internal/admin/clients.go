package admin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

// ClientReport is one client's spend, rule and state.
type ClientReport struct {
	ClientID string
	Rule     Budget // the rule in force for the client
	State    string
	// CooldownUntil is set in api.StateLoopCooldown.
	CooldownUntil time.Time
	Periods       budget.Periods
	Spend         budget.ClientSpend
	// LastSeen is known from the client index (ListClients only).
	LastSeen time.Time
	// RecentLoops are the client's newest loop events, newest first (at most
	// RecentLoops; GetClient only, nil in ListClients).
	RecentLoops []budget.LoopEvent
	// History is the client's cost per day, oldest first, ending today
	// (ListClients with ClientsQuery.History only).
	History []int64
}

// ClientsPage is one page of ListClients.
type ClientsPage struct {
	Clients    []ClientReport
	NextCursor string
	Total      int64
}

// DefaultClientPage is the page size of ListClients when none is asked for.
const DefaultClientPage = 50

// maxCursorBytes bounds an opaque cursor; a longer one is not ours.
const maxCursorBytes = 4096

// GetClient reports one client (a client never seen has zero spend), with
// its recent loop events.
func (s *Service) GetClient(ctx context.Context, clientID string) (ClientReport, error) {
	if err := rules.ValidClientID(clientID); err != nil {
		return ClientReport{}, fieldErr("client_id", "%v", err)
	}
	now := s.opts.Now()
	return s.report(ctx, clientID, s.opts.Calendar.Periods(now), now, true)
}

// ListClients returns one page of the clients seen, sorted by spend. The
// index gives the order; each client's details come from the ledger, read
// concurrently (at most Concurrency at a time) so a page costs about one
// round trip per Concurrency clients (the loop state of each client is read
// alongside its spend).
func (s *Service) ListClients(ctx context.Context, q api.ClientsQuery) (ClientsPage, error) {
	var sort budget.ClientSort
	switch q.Sort {
	case "", "day":
		sort = budget.SortDay
	case "month":
		sort = budget.SortMonth
	default:
		return ClientsPage{}, fieldErr("sort", "unknown sort %q (want day or month)", q.Sort)
	}
	limit, err := pageLimit(q.Limit, DefaultClientPage)
	if err != nil {
		return ClientsPage{}, err
	}
	if q.Prefix != "" {
		if err := rules.ValidClientID(q.Prefix); err != nil {
			return ClientsPage{}, fieldErr("prefix", "%v", err)
		}
	}
	if len(q.Cursor) > maxCursorBytes {
		return ClientsPage{}, fieldErr("cursor", "not a cursor returned by this API")
	}
	if q.History < 0 || q.History > MaxHistoryDays {
		return ClientsPage{}, fieldErr("history", "must be between 1 and %d days (got %d)", MaxHistoryDays, q.History)
	}
	now := s.opts.Now()
	periods := s.opts.Calendar.Periods(now)
	page, err := s.opts.Store.ListClients(ctx, budget.ClientQuery{Periods: periods, Sort: sort, Cursor: q.Cursor, Limit: limit, Prefix: q.Prefix})
	if err != nil {
		if errors.Is(err, budget.ErrInvalid) && q.Cursor != "" {
			return ClientsPage{}, fieldErr("cursor", "not a cursor returned by this API (or the sort or prefix changed)")
		}
		return ClientsPage{}, s.unavailable("listing clients", err)
	}
	out := ClientsPage{Clients: make([]ClientReport, len(page.Clients)), NextCursor: page.NextCursor, Total: page.Total}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, s.opts.Concurrency)
	for i, c := range page.Clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, err := s.report(ctx, c.ClientID, periods, now, false)
			if err == nil && q.History > 0 {
				r.History, err = s.history(ctx, c.ClientID, periods.Day.Key, q.History)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel() // one failure fails the page; stop the others early
				}
				mu.Unlock()
				return
			}
			r.LastSeen = c.LastSeen
			out.Clients[i] = r
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return ClientsPage{}, firstErr
	}
	return out, nil
}

// report reads one client's spend under the rule in force, and its loop
// state concurrently (with recent, also its newest loop events).
func (s *Service) report(ctx context.Context, id string, periods budget.Periods, now time.Time, recent bool) (ClientReport, error) {
	rule := s.opts.Rules.Resolve(id)
	loops := s.startLoopInfo(ctx, id, rule, now, recent)
	spend, err := s.opts.Store.Spend(ctx, id, rule, periods, now)
	info, loopErr := loops() // always wait: the reads must not outlive the call
	if err != nil {
		return ClientReport{}, s.unavailable(fmt.Sprintf("reading the spend of %q", id), err)
	}
	if loopErr != nil {
		return ClientReport{}, loopErr
	}
	r := ClientReport{ClientID: id, Rule: Budget{Rule: rule, Source: s.opts.Rules.Source(rule.Key())},
		State: state(rule, spend), Periods: periods, Spend: spend, RecentLoops: info.recent}
	// Blocked outranks a cooldown: it lasts until the period ends.
	if info.cooling && r.State != api.StateBlocked {
		r.State, r.CooldownUntil = api.StateLoopCooldown, info.until
	}
	return r, nil
}

// state summarises a client with the ledger's own decisions: blocked when a
// period of a blocking rule is exhausted, alerting when settled spend reached
// the lowest alert threshold of a limit.
func state(rule rules.Rule, s budget.ClientSpend) string {
	if rule.Blocks() && (s.Day.Exhausted() || s.Month.Exhausted()) {
		return api.StateBlocked
	}
	thresholds := rule.Thresholds()
	if s.Day.AlertReached(thresholds) || s.Month.AlertReached(thresholds) {
		return api.StateAlerting
	}
	return api.StateOK
}
