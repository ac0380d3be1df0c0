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
	"time"

	"github.com/proxide/proxide/budget"
)

// Loops is a fake budget.LoopStore: events added with Add, cooldowns set
// with Cool. Safe for concurrent use.
type Loops struct {
	mu      sync.Mutex
	events  []budget.LoopEvent
	cooling map[string]time.Time
	cleared []string
	states  int
	// Err, when set, fails every call; StateErrFor fails LoopState of one client.
	Err         error
	StateErrFor map[string]error
}

var _ budget.LoopStore = (*Loops)(nil)

// NewLoops returns a store without events or cooldowns.
func NewLoops() *Loops { return &Loops{cooling: map[string]time.Time{}} }

// Add records events.
func (l *Loops) Add(events ...budget.LoopEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, events...)
}

// Cool puts a client in cooldown until the given time.
func (l *Loops) Cool(clientID string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cooling[clientID] = until
}

// Cleared lists the clients ClearLoop cleared, in order.
func (l *Loops) Cleared() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.cleared)
}

// StateCalls counts the calls of LoopState.
func (l *Loops) StateCalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.states
}

// LoopEvents lists newest first; the cursor is an encoded offset ("l:<n>")
// that must come with the same ClientID.
func (l *Loops) LoopEvents(_ context.Context, q budget.LoopQuery) (budget.LoopPage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return budget.LoopPage{}, l.Err
	}
	if q.Limit < 0 || q.Limit > budget.MaxLoopLimit {
		return budget.LoopPage{}, fmt.Errorf("%w: limit %d", budget.ErrInvalid, q.Limit)
	}
	offset := 0
	if q.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		rest, ok := strings.CutPrefix(string(raw), "l:"+q.ClientID+":")
		n, err2 := strconv.Atoi(rest)
		if err != nil || !ok || err2 != nil || n < 0 {
			return budget.LoopPage{}, fmt.Errorf("%w: bad cursor", budget.ErrInvalid)
		}
		offset = n
	}
	var all []budget.LoopEvent
	for _, e := range l.events {
		if q.ClientID == "" || e.ClientID == q.ClientID {
			all = append(all, e)
		}
	}
	slices.SortStableFunc(all, func(a, b budget.LoopEvent) int { return cmp.Compare(b.At.UnixNano(), a.At.UnixNano()) })
	limit := q.Limit
	if limit == 0 {
		limit = budget.DefaultLoopLimit
	}
	var page budget.LoopPage
	if offset < len(all) {
		end := min(len(all), offset+limit)
		page.Events = all[offset:end]
		if end < len(all) {
			page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte("l:" + q.ClientID + ":" + strconv.Itoa(end)))
		}
	}
	return page, nil
}

// LoopState reports the cooldown set with Cool, if it still runs at now.
func (l *Loops) LoopState(_ context.Context, clientID string, now time.Time) (time.Time, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states++
	if l.Err != nil {
		return time.Time{}, false, l.Err
	}
	if err := l.StateErrFor[clientID]; err != nil {
		return time.Time{}, false, err
	}
	until, ok := l.cooling[clientID]
	return until, ok && now.Before(until), nil
}

// ClearLoop ends a cooldown; false when the client had none.
func (l *Loops) ClearLoop(_ context.Context, clientID string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Err != nil {
		return false, l.Err
	}
	if _, ok := l.cooling[clientID]; !ok {
		return false, nil
	}
	delete(l.cooling, clientID)
	l.cleared = append(l.cleared, clientID)
	return true, nil
}
