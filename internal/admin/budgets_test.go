package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

func ptr[T any](v T) *T { return &v }

func TestSetBudgetCreatesThenUpdates(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, usdNano(1), e.rules.Resolve("user-12345").Daily.Nano, "the file default applies first")

	r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"user-12345","daily_limit_usd":0.50,"monthly_limit_usd":5.00}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var v api.RuleView
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Equal(t, api.RuleView{Key: "client:user-12345", ClientID: "user-12345", DailyLimitUSD: ptr(0.5), MonthlyLimitUSD: ptr(5.0),
		Action: "block", AlertThresholds: []float64{0.8, 1}, Source: "api", Admission: "soft"}, v)
	require.Equal(t, []string{"put client:user-12345"}, e.store.Writes())
	require.Equal(t, 1, e.rules.Refreshes(), "a write refreshes the rules of this replica")
	require.Equal(t, 1, e.rules.Refreshes(), "a write applies on this replica at once")
	require.Equal(t, rules.LimitOf(usdNano(0.5)), e.rules.Resolve("user-12345").Daily, "the very next request sees the rule")

	// Upsert: the whole rule is replaced; an absent limit becomes unlimited.
	r = e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"user-12345","daily_limit_usd":2,"monthly_limit_usd":null,"action":"alert","alert_thresholds":[]}`, adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Equal(t, api.RuleView{Key: "client:user-12345", ClientID: "user-12345", DailyLimitUSD: ptr(2.0),
		Action: "alert", AlertThresholds: []float64{}, Source: "api", Admission: "soft"}, v)
	got := e.rules.Resolve("user-12345")
	require.False(t, got.Monthly.Set)
	require.Equal(t, []float64{}, got.AlertThresholds, "[] means no alerts, not the default")
	require.Equal(t, 2, e.rules.Refreshes())
}

func TestSetBudgetPatternAndDefault(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, http.MethodPost, "/v1/budgets", `{"match":"user-*","daily_limit_usd":0.25,"alert_thresholds":[0.5,0.9]}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Contains(t, string(r.body), `"key": "match:user-*"`)
	require.Equal(t, usdNano(0.25), e.rules.Resolve("user-77").Daily.Nano)

	// The default rule exists in the file: an API default overrides it (created: no API rule before).
	r = e.do(t, http.MethodPost, "/v1/budgets", `{"default":true,"daily_limit_usd":1e9}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var v api.RuleView
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Equal(t, api.RuleView{Key: "default", Default: true, DailyLimitUSD: ptr(1e9), Action: "block", AlertThresholds: []float64{0.8, 1}, Source: "api", Admission: "soft"}, v)
	require.Equal(t, usdNano(1e9), e.rules.Resolve("somebody").Daily.Nano, "1e9 USD is the largest limit, still accepted")
}

func TestSetBudgetRejectsBadInput(t *testing.T) {
	long := strings.Repeat("a", 257)
	tests := []struct {
		name, body string
		param      string // "" for errors without a field
		status     int
	}{
		{"negative", `{"client_id":"u","daily_limit_usd":-1}`, "daily_limit_usd", 400},
		{"NaN as a string", `{"client_id":"u","daily_limit_usd":"NaN"}`, "daily_limit_usd", 400},
		{"Infinity as a string", `{"client_id":"u","monthly_limit_usd":"Infinity"}`, "monthly_limit_usd", 400},
		{"1e400 overflows", `{"client_id":"u","daily_limit_usd":1e400}`, "daily_limit_usd", 400},
		{"absurd limit", `{"client_id":"u","monthly_limit_usd":1000000001}`, "monthly_limit_usd", 400},
		{"limit as string", `{"client_id":"u","monthly_limit_usd":"5"}`, "monthly_limit_usd", 400},
		{"id as number", `{"client_id":123}`, "client_id", 400},
		{"default as string", `{"default":"yes"}`, "default", 400},
		{"thresholds wrong type", `{"client_id":"u","alert_thresholds":"0.8"}`, "alert_thresholds", 400},
		{"threshold out of range", `{"client_id":"u","alert_thresholds":[0.5,0]}`, "alert_thresholds[1]", 400},
		{"unknown field", `{"client_id":"u","daily_limit":1}`, "daily_limit", 400},
		{"id too long", `{"client_id":"` + long + `"}`, "client_id", 400},
		{"id with control character", `{"client_id":"a\u0001b"}`, "client_id", 400},
		{"pattern without star", `{"match":"user-"}`, "match", 400},
		{"pattern too long", `{"match":"` + long + `*"}`, "match", 400},
		{"id and match", `{"client_id":"u","match":"u*"}`, "client_id", 400},
		{"no target", `{"daily_limit_usd":1}`, "client_id", 400},
		{"default false alone", `{"default":false}`, "client_id", 400},
		{"unknown action", `{"client_id":"u","action":"deny"}`, "action", 400},
		{"malformed", `{"client_id":`, "", 400},
		{"bare NaN", `{"client_id":"u","daily_limit_usd":NaN}`, "", 400},
		{"not an object", `[{"client_id":"u"}]`, "", 400},
		{"empty body", ``, "", 400},
		{"two objects", `{"client_id":"u"}{"client_id":"v"}`, "", 400},
		{"over 1 MiB", `{"client_id":"u","match":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "", 413},
		// encoding/json would take these: field names match case-insensitively
		// and the last of two equal keys wins. A budget is a security control:
		// the admin API takes names exactly and refuses repeats, at any depth.
		{"field name in upper case", `{"client_id":"u","DAILY_LIMIT_USD":500}`, "DAILY_LIMIT_USD", 400},
		{"target in mixed case", `{"Client_ID":"u","daily_limit_usd":1}`, "Client_ID", 400},
		{"nested field in other case", `{"client_id":"u","loop_detection":{"Mode":"off"}}`, "loop_detection.Mode", 400},
		{"endpoints field in other case", `{"client_id":"u","endpoints":{"UNMETERED":"allow"}}`, "endpoints.UNMETERED", 400},
		{"repeated limit", `{"client_id":"u","daily_limit_usd":0.5,"daily_limit_usd":500}`, "daily_limit_usd", 400},
		{"repeated target", `{"client_id":"u","client_id":"v"}`, "client_id", 400},
		{"repeated nested key", `{"client_id":"u","loop_detection":{"mode":"off","mode":"block"}}`, "loop_detection.mode", 400},
		{"catch-all pattern", `{"match":"*","daily_limit_usd":1}`, "match", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.do(t, http.MethodPost, "/v1/budgets", tc.body, adminKey)
			require.Equal(t, tc.status, r.status, string(r.body))
			typ, param, msg := apiError(t, r)
			require.Equal(t, "invalid_request_error", typ)
			require.Equal(t, tc.param, param, msg)
			require.NotEmpty(t, msg)
			if tc.param != "" {
				require.True(t, strings.HasPrefix(msg, tc.param+": "), "the message names the field: %q", msg)
			}
			require.Empty(t, e.store.Writes(), "nothing stored")
			require.Zero(t, e.rules.Refreshes())
			require.Zero(t, e.rules.Refreshes())
		})
	}
}

func TestSetBudgetStoreDown(t *testing.T) {
	e := newEnv(t)
	e.store.Err = budget.ErrUnavailable
	r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"u","daily_limit_usd":1}`, adminKey)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	typ, _, _ := apiError(t, r)
	require.Equal(t, "service_unavailable", typ)
	require.Zero(t, e.rules.Refreshes())
}

func TestGetBudget(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"user/1","daily_limit_usd":3}`, adminKey).status)
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"default","daily_limit_usd":4}`, adminKey).status)
	tests := []struct {
		path        string
		key, source string
		daily       float64
	}{
		{"/v1/budgets/vip", "client:vip", "file", 5},
		{"/v1/budgets/client:vip", "client:vip", "file", 5},
		{"/v1/budgets/" + url.PathEscape("match:trial-*"), "match:trial-*", "file", 0.05},
		{"/v1/budgets/default", "default", "file", 1},
		{"/v1/budgets/user%2F1", "client:user/1", "api", 3},
		{"/v1/budgets/client:default", "client:default", "api", 4},
	}
	for _, tc := range tests {
		var v api.RuleView
		e.get(t, tc.path, &v)
		require.Equal(t, tc.key, v.Key, tc.path)
		require.Equal(t, tc.source, v.Source, tc.path)
		require.InDelta(t, tc.daily, *v.DailyLimitUSD, 1e-9, tc.path)
	}

	r := e.do(t, http.MethodGet, "/v1/budgets/nobody", "", adminKey)
	require.Equal(t, http.StatusNotFound, r.status)
	typ, _, msg := apiError(t, r)
	require.Equal(t, "not_found", typ)
	require.Contains(t, msg, "client:nobody")

	for _, bad := range []string{"/v1/budgets/a%01b", "/v1/budgets/match:user", "/v1/budgets/client:", "/v1/budgets/" + strings.Repeat("x", 300)} {
		r := e.do(t, http.MethodGet, bad, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, bad)
		_, param, _ := apiError(t, r)
		require.Equal(t, "key", param, bad)
	}
}

func TestListBudgetsPagination(t *testing.T) {
	e := newEnv(t)
	for i := range 23 {
		body := `{"client_id":"api-` + string(rune('a'+i)) + `","daily_limit_usd":1}`
		require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", body, adminKey).status)
	}
	// Override a file rule: listed once, as api.
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"vip","daily_limit_usd":7}`, adminKey).status)

	var keys []string
	sources := map[string]string{}
	cursor, pages := "", 0
	for {
		var page api.BudgetListView
		e.get(t, "/v1/budgets?limit=7&cursor="+url.QueryEscape(cursor), &page)
		pages++
		require.LessOrEqual(t, len(page.Budgets), 7)
		for _, b := range page.Budgets {
			keys = append(keys, b.Key)
			sources[b.Key] = b.Source
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		require.Less(t, pages, 10, "the walk ends")
	}
	require.Len(t, keys, 26, "23 api rules + vip + trial-* + default, each once")
	require.Equal(t, "default", keys[0], "the default rule first")
	require.Equal(t, "match:trial-*", keys[1], "then patterns")
	require.IsIncreasing(t, keys[2:], "then client ids in order")
	require.Equal(t, 4, pages)
	require.Equal(t, "api", sources["client:vip"])
	require.Equal(t, "file", sources["match:trial-*"])
	require.Equal(t, "file", sources["default"])

	for _, q := range []struct{ query, param string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"}, {"cursor=%21%21", "cursor"}, {"page=2", "page"},
		{"limit=1&limit=2", "limit"},
	} {
		r := e.do(t, http.MethodGet, "/v1/budgets?"+q.query, "", adminKey)
		require.Equal(t, http.StatusBadRequest, r.status, q.query)
		_, param, _ := apiError(t, r)
		require.Equal(t, q.param, param, q.query)
	}
}

func TestDeleteBudget(t *testing.T) {
	e := newEnv(t)
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"vip","daily_limit_usd":7}`, adminKey).status)
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v1/budgets", `{"match":"user-*","daily_limit_usd":0.1}`, adminKey).status)
	changes := e.rules.Refreshes()

	// An API rule over a file rule: the file rule applies again.
	r := e.do(t, http.MethodDelete, "/v1/budgets/vip", "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var d api.DeleteView
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Equal(t, "client:vip", d.Key)
	require.True(t, d.Deleted)
	require.NotNil(t, d.Effective)
	require.Equal(t, "file", d.Effective.Source)
	require.InDelta(t, 5.0, *d.Effective.DailyLimitUSD, 1e-9)
	require.Equal(t, usdNano(5), e.rules.Resolve("vip").Daily.Nano, "the next request sees the file rule")
	require.Equal(t, changes+1, e.rules.Refreshes())

	// An API-only rule: gone, nothing in force for the key.
	r = e.do(t, http.MethodDelete, "/v1/budgets/"+url.PathEscape("match:user-*"), "", adminKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &d))
	require.Nil(t, d.Effective)
	require.Equal(t, usdNano(1), e.rules.Resolve("user-1").Daily.Nano, "back to the default")

	writes := e.store.Writes()
	// A file-only rule cannot be deleted.
	r = e.do(t, http.MethodDelete, "/v1/budgets/default", "", adminKey)
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	typ, _, msg := apiError(t, r)
	require.Equal(t, "conflict", typ)
	require.Contains(t, msg, "config file")
	// Nothing there at all.
	r = e.do(t, http.MethodDelete, "/v1/budgets/nobody", "", adminKey)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, writes, e.store.Writes(), "failed deletes store nothing")
	require.Equal(t, changes+2, e.rules.Refreshes(), "only successful writes refresh the rules")
}
