package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/internal/admin/api"
)

// seedLoops gives the loop store events of three clients, vip in cooldown.
func (e *testEnv) seedLoops() {
	at := func(d time.Duration) time.Time { return testNow.Add(-d) }
	e.loops.Add(
		budget.LoopEvent{ClientID: "vip", At: at(30 * time.Second).Add(123 * time.Millisecond), Kind: "exact", Repeats: 5,
			Exact: 0xdeadbeef, Sim: 0x0123456789abcdef, Excerpt: "user: retry the tool call", Blocked: true, Until: testNow.Add(4 * time.Minute)},
		budget.LoopEvent{ClientID: "user-1", At: at(time.Minute), Kind: "similar", Repeats: 6, Exact: 1, Sim: 2, Excerpt: "Attempt 7: …"},
		budget.LoopEvent{ClientID: "vip", At: at(time.Hour), Kind: "cycle", Repeats: 7, Exact: 3, Sim: 4, Excerpt: "A/B", Blocked: true,
			Until: at(55 * time.Minute)},
		budget.LoopEvent{ClientID: "trial-9", At: at(2 * time.Hour), Kind: "exact", Repeats: 5, Exact: 5, Sim: 6, Excerpt: "x"},
	)
	e.loops.Cool("vip", testNow.Add(4*time.Minute))
}

func TestListLoops(t *testing.T) {
	e := newEnv(t)
	e.seedLoops()

	r := e.do(t, http.MethodGet, "/v1/loops?limit=1", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.JSONEq(t, `{"loops":[{"client_id":"vip","at":"2026-11-28T11:59:30.123Z","kind":"exact","repeats":5,
		"signature":{"exact":"00000000deadbeef","sim":"0123456789abcdef"},"excerpt":"user: retry the tool call",
		"blocked":true,"cooldown_until":"2026-11-28T12:04:00Z"}],"next_cursor":"`+nextCursor(t, r.body)+`"}`, string(r.body))

	var page api.LoopListView
	e.get(t, "/v1/loops", &page)
	require.Equal(t, []string{"vip", "user-1", "vip", "trial-9"}, loopClients(page), "all clients, newest first")
	require.Empty(t, page.NextCursor)
	require.Nil(t, page.Loops[1].CooldownUntil, "no cooldown: null")
	require.False(t, page.Loops[1].Blocked)

	e.get(t, "/v1/loops?client_id=vip", &page)
	require.Equal(t, []string{"vip", "vip"}, loopClients(page))
	require.Equal(t, "cycle", page.Loops[1].Kind)

	// A walk with a cursor sees every event once.
	var kinds []string
	cursor, pages := "", 0
	for {
		e.get(t, "/v1/loops?limit=3&cursor="+url.QueryEscape(cursor), &page)
		pages++
		for _, l := range page.Loops {
			kinds = append(kinds, l.ClientID+"/"+l.Kind)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, 2, pages)
	require.Equal(t, []string{"vip/exact", "user-1/similar", "vip/cycle", "trial-9/exact"}, kinds)

	e.get(t, "/v1/loops?client_id=nobody", &page)
	require.Equal(t, []api.LoopEventView{}, page.Loops, "an empty list, not null")
}

// client gets one client into a fresh value (decoding into a used one would
// keep fields the answer omits).
func (e *testEnv) client(t *testing.T, id string) api.ClientDetailView {
	t.Helper()
	var c api.ClientDetailView
	e.get(t, "/v1/clients/"+id, &c)
	return c
}

func nextCursor(t *testing.T, body []byte) string {
	t.Helper()
	var v api.LoopListView
	require.NoError(t, json.Unmarshal(body, &v))
	require.NotEmpty(t, v.NextCursor)
	return v.NextCursor
}

func loopClients(p api.LoopListView) []string {
	out := []string{}
	for _, l := range p.Loops {
		out = append(out, l.ClientID)
	}
	return out
}

func TestListLoopsErrors(t *testing.T) {
	e := newEnv(t)
	e.seedLoops()
	for _, q := range []struct{ query, param string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=-1", "limit"}, {"limit=ten", "limit"},
		{"cursor=bogus", "cursor"}, {"cursor=" + strings.Repeat("x", 5000), "cursor"},
		{"client_id=a%01b", "client_id"}, {"client_id=" + strings.Repeat("x", 257), "client_id"},
		{"client=vip", "client"}, {"limit=1&limit=2", "limit"},
	} {
		r := e.do(t, http.MethodGet, "/v1/loops?"+q.query, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, q.query)
		typ, param, _ := apiError(t, r)
		require.Equal(t, "invalid_request_error", typ)
		require.Equal(t, q.param, param, q.query)
	}
	// A cursor of one client's listing does not continue another's.
	var page api.LoopListView
	e.get(t, "/v1/loops?client_id=vip&limit=1", &page)
	r := e.do(t, http.MethodGet, "/v1/loops?client_id=user-1&cursor="+page.NextCursor, "", adminKey)
	require.Equal(t, http.StatusBadRequest, r.status)

	e.loops.Err = fmt.Errorf("%w: redis down", budget.ErrUnavailable)
	r = e.do(t, http.MethodGet, "/v1/loops", "", adminKey)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	typ, _, _ := apiError(t, r)
	require.Equal(t, "service_unavailable", typ)
}

func TestClearLoop(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.seedLoops()
	c := e.client(t, "vip")
	require.Equal(t, api.StateLoopCooldown, c.State)

	r := e.do(t, http.MethodDelete, "/v1/loops/vip", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.JSONEq(t, `{"client_id":"vip","cleared":true}`, string(r.body))
	require.Equal(t, []string{"vip"}, e.loops.Cleared())
	c = e.client(t, "vip")
	require.Equal(t, api.StateOK, c.State, "the cooldown ended now")
	require.Empty(t, c.CooldownUntil)
	require.Len(t, c.RecentLoops, 2, "events stay")

	r = e.do(t, http.MethodDelete, "/v1/loops/vip", "", adminKey)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"client_id":"vip","cleared":false}`, string(r.body), "nothing left to clear")

	// An id with a slash, escaped, is one client.
	e.loops.Cool("a/b", testNow.Add(time.Minute))
	r = e.do(t, http.MethodDelete, "/v1/loops/a%2Fb", "", adminKey)
	require.JSONEq(t, `{"client_id":"a/b","cleared":true}`, string(r.body))

	for _, bad := range []string{"/v1/loops/a%7Fb", "/v1/loops/", "/v1/loops/" + strings.Repeat("x", 257)} {
		r := e.do(t, http.MethodDelete, bad, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, bad)
		_, param, _ := apiError(t, r)
		require.Equal(t, "client_id", param, bad)
	}
	require.Equal(t, []string{"vip", "a/b"}, e.loops.Cleared(), "nothing cleared on errors")

	e.loops.Err = budget.ErrUnavailable
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodDelete, "/v1/loops/vip", "", adminKey).status)

	r = e.do(t, http.MethodPost, "/v1/loops", `{}`, adminKey)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "GET", r.header.Get("Allow"))
	r = e.do(t, http.MethodGet, "/v1/loops/vip", "", adminKey)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "DELETE", r.header.Get("Allow"))
}
