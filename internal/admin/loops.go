package admin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
)

// RecentLoops is how many loop events GetClient shows.
const RecentLoops = 10

// ListLoops returns one page of loop events, newest first, of q.ClientID or
// of every client when it is empty. q.Limit 0 is budget.DefaultLoopLimit; q.Cursor is
// the NextCursor of the previous page.
func (s *Service) ListLoops(ctx context.Context, q budget.LoopQuery) (budget.LoopPage, error) {
	if q.ClientID != "" {
		if err := rules.ValidClientID(q.ClientID); err != nil {
			return budget.LoopPage{}, fieldErr("client_id", "%v", err)
		}
	}
	limit, err := pageLimit(q.Limit, budget.DefaultLoopLimit)
	if err != nil {
		return budget.LoopPage{}, err
	}
	if len(q.Cursor) > maxCursorBytes {
		return budget.LoopPage{}, fieldErr("cursor", "not a cursor returned by this API")
	}
	q.Limit = limit
	page, err := s.opts.Store.LoopEvents(ctx, q)
	if err != nil {
		if errors.Is(err, budget.ErrInvalid) && q.Cursor != "" {
			return budget.LoopPage{}, fieldErr("cursor", "not a cursor returned by this API (or client_id changed)")
		}
		return budget.LoopPage{}, s.unavailable("listing loop events", err)
	}
	if page.Events == nil {
		page.Events = []budget.LoopEvent{}
	}
	return page, nil
}

// ClearLoop ends a client's loop cooldown now. cleared is false when the
// client had no loop state.
func (s *Service) ClearLoop(ctx context.Context, clientID string) (cleared bool, err error) {
	if err := rules.ValidClientID(clientID); err != nil {
		return false, fieldErr("client_id", "%v", err)
	}
	cleared, err = s.opts.Store.ClearLoop(ctx, clientID)
	if err != nil {
		return false, s.unavailable(fmt.Sprintf("clearing the loop state of %q", clientID), err)
	}
	s.opts.Logger.Info("admin: loop state cleared", "client_id", clientID, "cleared", cleared)
	return cleared, nil
}

// loopInfo is what report needs of loop detection for one client.
type loopInfo struct {
	until   time.Time
	cooling bool
	recent  []budget.LoopEvent
}

// startLoopInfo starts reading a client's loop state (and, with recent, its
// newest events) in the background, so that it overlaps the ledger read of
// the client's spend; wait returns the result.
func (s *Service) startLoopInfo(ctx context.Context, id string, rule rules.Rule, now time.Time, recent bool) (wait func() (loopInfo, error)) {
	var (
		info              loopInfo
		stateErr, listErr error
		wg                sync.WaitGroup
	)
	// A rule that turns detection off makes extproc skip the window, so a
	// cooldown left from before does not pause the client.
	if rule.Loop.Mode != rules.LoopModeOff {
		wg.Go(func() { info.until, info.cooling, stateErr = s.opts.Store.LoopState(ctx, id, now) })
	}
	if recent {
		wg.Go(func() {
			page, err := s.opts.Store.LoopEvents(ctx, budget.LoopQuery{ClientID: id, Limit: RecentLoops})
			info.recent, listErr = page.Events, err
		})
	}
	return func() (loopInfo, error) {
		wg.Wait()
		if stateErr != nil {
			return loopInfo{}, s.unavailable(fmt.Sprintf("reading the loop state of %q", id), stateErr)
		}
		if listErr != nil {
			return loopInfo{}, s.unavailable(fmt.Sprintf("listing the loop events of %q", id), listErr)
		}
		if recent && info.recent == nil {
			info.recent = []budget.LoopEvent{}
		}
		return info, nil
	}
}
