package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/admintest"
	"github.com/proxide/proxide/internal/admin/api"
)

func TestClientLoopState(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.seedLoops()

	r := e.do(t, http.MethodGet, "/v1/clients/vip", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Contains(t, string(r.body), `"state": "loop_cooldown"`)
	require.Contains(t, string(r.body), `"cooldown_until": "2026-11-28T12:04:00Z"`)
	c := e.client(t, "vip")
	require.Equal(t, "vip", c.ClientID)
	require.Len(t, c.RecentLoops, 2)
	require.Equal(t, api.LoopEventView{ClientID: "vip", At: "2026-11-28T11:59:30.123Z", Kind: "exact", Repeats: 5,
		Sig: api.LoopSignatureView{Exact: "00000000deadbeef", Sim: "0123456789abcdef"}, Excerpt: "user: retry the tool call",
		Blocked: true, CooldownUntil: ptr("2026-11-28T12:04:00Z")}, c.RecentLoops[0], "newest first")
	require.Equal(t, "cycle", c.RecentLoops[1].Kind)

	c = e.client(t, "user-1")
	require.Equal(t, api.StateAlerting, c.State, "an event without a cooldown does not pause the client")
	require.Len(t, c.RecentLoops, 1)
	c = e.client(t, "never-seen")
	require.Equal(t, []api.LoopEventView{}, c.RecentLoops, "[] rather than null")

	// The listing shows the state; recent loops are GetClient's only.
	calls := e.loops.StateCalls()
	r = e.do(t, http.MethodGet, "/v1/clients", "", adminKey)
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, string(r.body), "recent_loops")
	var page api.ClientListView
	e.get(t, "/v1/clients", &page)
	states := map[string]string{}
	for _, c := range page.Clients {
		states[c.ClientID] = c.State + " " + c.CooldownUntil
	}
	require.Equal(t, map[string]string{"user-2": "blocked ", "user-1": "alerting ", "trial-9": "alerting ",
		"vip": "loop_cooldown 2026-11-28T12:04:00Z"}, states)
	require.Equal(t, calls+8, e.loops.StateCalls(), "one state read per listed client")

	// Precedence: blocked > loop_cooldown > alerting > ok.
	e.loops.Cool("user-2", testNow.Add(time.Minute))
	e.loops.Cool("user-1", testNow.Add(time.Minute+500*time.Millisecond))
	c = e.client(t, "user-2")
	require.Equal(t, api.StateBlocked, c.State)
	require.Empty(t, c.CooldownUntil)
	c = e.client(t, "user-1")
	require.Equal(t, api.StateLoopCooldown, c.State, "outranks alerting")
	require.Equal(t, "2026-11-28T12:01:00.5Z", c.CooldownUntil, "milliseconds kept")

	// A cooldown that ended is no state.
	e.loops.Cool("trial-9", testNow.Add(-time.Second))
	c = e.client(t, "trial-9")
	require.Equal(t, api.StateAlerting, c.State)

	// A rule that turns detection off is never in cooldown (extproc skips the window).
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"vip","daily_limit_usd":5,"loop_detection":{"mode":"off"}}`, adminKey).status)
	c = e.client(t, "vip")
	require.Equal(t, api.StateOK, c.State)
	require.Len(t, c.RecentLoops, 2, "past events still show")
}

func TestClientLoopStateErrors(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.seedLoops()
	e.loops.StateErrFor = map[string]error{"user-1": fmt.Errorf("%w: timeout", budget.ErrUnavailable)}
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v1/clients", "", adminKey).status, "one failure fails the page")
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v1/clients/user-1", "", adminKey).status)
	require.Equal(t, http.StatusOK, e.do(t, http.MethodGet, "/v1/clients/vip", "", adminKey).status)

	e.loops.StateErrFor = nil
	e.loops.Err = budget.ErrUnavailable
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v1/clients/vip", "", adminKey).status, "recent loops fail too")
}

func TestRecentLoopsAreTheNewestTen(t *testing.T) {
	e := newEnv(t)
	for i := range 14 {
		e.loops.Add(budget.LoopEvent{ClientID: "busy", At: testNow.Add(time.Duration(-i) * time.Minute), Kind: "exact", Repeats: i})
	}
	c := e.client(t, "busy")
	require.Len(t, c.RecentLoops, RecentLoops)
	for i, l := range c.RecentLoops {
		require.Equal(t, i, l.Repeats, "newest first")
	}
}

// rendezvous's Spend waits until the client's loop state is being read, and its
// LoopState until the spend is: if report read them one after the other, neither
// would return.
type rendezvous struct {
	admintest.Store
	spendStarted, stateStarted chan struct{}
}

func (r rendezvous) Spend(ctx context.Context, id string, rule rules.Rule, p budget.Periods, now time.Time) (budget.ClientSpend, error) {
	close(r.spendStarted)
	select {
	case <-r.stateStarted:
	case <-ctx.Done():
		return budget.ClientSpend{}, ctx.Err()
	}
	return r.Store.Spend(ctx, id, rule, p, now)
}

func (r rendezvous) LoopState(ctx context.Context, id string, now time.Time) (time.Time, bool, error) {
	close(r.stateStarted)
	select {
	case <-r.spendStarted:
	case <-ctx.Done():
		return time.Time{}, false, ctx.Err()
	}
	return r.Store.LoopState(ctx, id, now)
}

func TestLoopStateReadAlongsideSpend(t *testing.T) {
	e := newEnv(t)
	spend, state := make(chan struct{}), make(chan struct{})
	loops := admintest.NewLoops()
	loops.Cool("vip", testNow.Add(time.Minute))
	opts := e.svc.opts
	opts.Store = rendezvous{Store: admintest.Store{RuleStore: e.store, Ledger: e.ledger, Loops: loops}, spendStarted: spend, stateStarted: state}
	svc, err := NewService(opts)
	require.NoError(t, err)
	// A deadline only to turn a deadlock into a failure, not to measure time.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := svc.GetClient(ctx, "vip")
	require.NoError(t, err, "both reads ran at the same time")
	require.Equal(t, api.StateLoopCooldown, c.State)
}
