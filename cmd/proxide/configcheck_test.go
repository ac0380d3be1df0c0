package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every problem of a config comes back from one load, one line each with its
// full key path: unknown keys at any depth (with the nearest known key),
// durations without a unit, Validate's checks and the rule, key, time zone
// and price checks of building the app.
func TestConfigReportsEveryProblemInOnePass(t *testing.T) {
	path := writeConfig(t, `
pricng: {file: x}
listen: {grpc: ":1", admn: ":2"}
loop_detection: {window: 60, cooldown: "5", action: shout}
store: {failure_mode: maybe, timeout: 1.5}
keys:
  - {name: app, sha256: "nothex", scopes: [gateway]}
budgets:
  timezone: Mars/Olympus
  reservation_ttl: 2 minutes
  rules:
    - {client_id: a, dayly_limit_usd: 1}
    - {client_id: b, action: explode}
`)
	_, err := load(t, nil, "--config", path)
	require.Error(t, err)
	want := []string{
		"pricng: unknown key (did you mean pricing?)",
		"listen.admn: unknown key (did you mean admin?)",
		"budgets.rules[0].dayly_limit_usd: unknown key (did you mean daily_limit_usd?)",
		"loop_detection.window: 60 has no unit: write 60s for seconds",
		`loop_detection.cooldown: "5" has no unit: write 5s for seconds`,
		"store.timeout: 1.5 has no unit: write 1.5s for seconds",
		`budgets.reservation_ttl: "2 minutes" is not a duration like 500ms, 60s, 5m or 2h`,
		`store.failure_mode: "maybe" must be open or closed`,
		`loop_detection.action: "shout" must be block or alert`,
		"budgets.rules[1]: action",
		"budgets.timezone",
		"keys[0] (app)",
	}
	for _, w := range want {
		require.ErrorContains(t, err, w)
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	require.Equal(t, "config: 12 problem(s):", lines[0])
	require.Len(t, lines, 1+len(want), "one line per problem, none twice (the zero window the decoder left is not reported again):\n%s", err)
}

func TestDurationsNeedAUnitFromTheEnvironmentToo(t *testing.T) {
	_, err := load(t, []string{"PROXIDE_STORE_TIMEOUT=500"}, "--config", writeConfig(t, "log: {level: info}\n"))
	require.ErrorContains(t, err, `store.timeout: "500" has no unit: write 500s for seconds`)
	cfg, err := load(t, []string{"PROXIDE_STORE_TIMEOUT=700ms"})
	require.NoError(t, err)
	require.Equal(t, "700ms", cfg.Store.Timeout.String())
}
