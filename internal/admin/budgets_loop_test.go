package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/admin/api"
)

func TestSetBudgetLoopDetection(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"agent-1","daily_limit_usd":1,
		"loop_detection":{"mode":"block","window":"90s","max_repeats":3,"similarity":0.95,"cooldown":"1h30m"}}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var v api.RuleView
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Equal(t, &api.LoopDetection{Mode: "block", Window: "1m30s", MaxRepeats: 3, Similarity: 0.95, Cooldown: "1h30m"}, v.LoopDetection)
	require.Equal(t, rules.LoopSettings{Mode: rules.LoopModeBlock, Window: 90 * time.Second, MaxRepeats: 3, Similarity: 0.95,
		Cooldown: 90 * time.Minute}, e.rules.Resolve("agent-1").Loop, "the very next request sees the settings")

	// Every field is optional; what is left out inherits.
	r = e.do(t, http.MethodPost, "/v1/budgets", `{"match":"eval-*","loop_detection":{"mode":"off"}}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Contains(t, string(r.body), `"loop_detection": {
    "mode": "off"
  }`)
	require.Equal(t, rules.LoopSettings{Mode: rules.LoopModeOff}, e.rules.Resolve("eval-7").Loop)
	r = e.do(t, http.MethodPost, "/v1/budgets", `{"match":"slow-*","loop_detection":{"window":"10m","max_repeats":0,"cooldown":""}}`, adminKey)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, rules.LoopSettings{Window: 10 * time.Minute}, e.rules.Resolve("slow-1").Loop, "zero fields inherit")

	// All inheriting (absent, null or empty) is shown as null, like an unlimited limit.
	for _, body := range []string{`{"client_id":"agent-1"}`, `{"client_id":"agent-1","loop_detection":null}`, `{"client_id":"agent-1","loop_detection":{}}`} {
		r = e.do(t, http.MethodPost, "/v1/budgets", body, adminKey)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.Contains(t, string(r.body), `"loop_detection": null`, body)
		require.True(t, e.rules.Resolve("agent-1").Loop.IsZero(), "POST replaces the whole rule")
	}

	// Every view of a rule shows it.
	var got api.RuleView
	e.get(t, "/v1/budgets/match:eval-*", &got)
	require.Equal(t, &api.LoopDetection{Mode: "off"}, got.LoopDetection)
	var list api.BudgetListView
	e.get(t, "/v1/budgets", &list)
	found := false
	for _, b := range list.Budgets {
		if b.Key == "match:slow-*" {
			require.Equal(t, &api.LoopDetection{Window: "10m"}, b.LoopDetection)
			found = true
		} else if b.Key != "match:eval-*" {
			require.Nil(t, b.LoopDetection, b.Key)
		}
	}
	require.True(t, found)
	c := e.client(t, "eval-3")
	require.Equal(t, &api.LoopDetection{Mode: "off"}, c.Rule.LoopDetection)
}

func TestSetBudgetRejectsBadLoopDetection(t *testing.T) {
	tests := []struct {
		name, loop, param string
	}{
		{"unknown mode", `{"mode":"deny"}`, "loop_detection.mode"},
		{"mode wrong type", `{"mode":1}`, "loop_detection.mode"},
		{"window without unit", `{"window":"60"}`, "loop_detection.window"},
		{"window as number", `{"window":60}`, "loop_detection.window"},
		{"window garbage", `{"window":"soon"}`, "loop_detection.window"},
		{"negative window", `{"window":"-1s"}`, "loop_detection.window"},
		{"window too long", `{"window":"25h"}`, "loop_detection.window"},
		{"window below a millisecond", `{"window":"1500us"}`, "loop_detection.window"},
		{"negative repeats", `{"max_repeats":-1}`, "loop_detection.max_repeats"},
		{"too many repeats", `{"max_repeats":32}`, "loop_detection.max_repeats"},
		{"fractional repeats", `{"max_repeats":2.5}`, "loop_detection.max_repeats"},
		{"repeats as string", `{"max_repeats":"5"}`, "loop_detection.max_repeats"},
		{"huge repeats", `{"max_repeats":1e30}`, "loop_detection.max_repeats"},
		{"similarity above 1", `{"similarity":1.5}`, "loop_detection.similarity"},
		{"negative similarity", `{"similarity":-0.1}`, "loop_detection.similarity"},
		{"similarity NaN string", `{"similarity":"NaN"}`, "loop_detection.similarity"},
		{"similarity overflows", `{"similarity":1e400}`, "loop_detection.similarity"},
		{"negative cooldown", `{"cooldown":"-5m"}`, "loop_detection.cooldown"},
		{"cooldown too long", `{"cooldown":"169h"}`, "loop_detection.cooldown"},
		{"unknown field", `{"action":"block"}`, "loop_detection.action"},
		{"not an object", `"block"`, "loop_detection"},
		{"an array", `[]`, "loop_detection"},
		{"first of several", `{"mode":"x","window":"-1s"}`, "loop_detection.mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"u","daily_limit_usd":1,"loop_detection":`+tc.loop+`}`, adminKey)
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			typ, param, msg := apiError(t, r)
			require.Equal(t, "invalid_request_error", typ)
			require.Equal(t, tc.param, param, msg)
			require.True(t, strings.HasPrefix(msg, tc.param+": "), "the message names the field: %q", msg)
			require.Empty(t, e.store.Writes(), "nothing stored")
			require.Zero(t, e.rules.Refreshes())
		})
	}
	e := newEnv(t)
	r := e.do(t, http.MethodPost, "/v1/budgets", `{"client_id":"u","loop_detection":{"mode":"x","window":"-1s"}}`, adminKey)
	_, _, msg := apiError(t, r)
	require.Contains(t, msg, "loop_detection.window", "every problem is listed")
}
