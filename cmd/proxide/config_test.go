package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/rules"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "proxide.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

func load(t *testing.T, env []string, args ...string) (Config, error) {
	t.Helper()
	fs := serveFlags()
	require.NoError(t, fs.Parse(args))
	return loadConfig(fs, env)
}

func TestConfigPrecedenceFileEnvFlags(t *testing.T) {
	path := writeConfig(t, `
listen: {grpc: ":6000", admin: ":6001"}
store: {redis_url: "redis://file:6379", failure_mode: open}
log: {level: debug}
budgets:
  timezone: Europe/Berlin
  default: {daily_limit_usd: 2.5}
  rules:
    - {client_id: user-12345, daily_limit_usd: 0.50, monthly_limit_usd: 5.00}
    - {match: "trial-*", daily_limit_usd: 0.05, action: alert, alert_thresholds: [0.5, 1.0]}
    - {match: "eval-*", loop_detection: {mode: "off"}}
loop_detection: {enabled: true, window: 30s, max_repeats: 3, similarity: 0.95, cooldown: 2m, action: alert, status: 409}
`)
	cfg, err := load(t, nil, "--config", path)
	require.NoError(t, err)
	require.Equal(t, LoopConfig{Enabled: true, Window: 30 * time.Second, MaxRepeats: 3, Similarity: 0.95, Cooldown: 2 * time.Minute, Action: "alert", Status: 409}, cfg.Loop)
	require.Equal(t, &rules.LoopSpec{Mode: "off"}, cfg.Budgets.Rules[2].LoopDetection)
	require.Equal(t, ":6000", cfg.Listen.GRPC)
	require.Equal(t, "redis://file:6379", cfg.Store.RedisURL)
	require.Equal(t, "open", cfg.Store.FailureMode)
	require.Equal(t, "Europe/Berlin", cfg.Budgets.Timezone)
	require.Len(t, cfg.Budgets.Rules, 3)
	require.Equal(t, []float64{0.5, 1.0}, cfg.Budgets.Rules[1].AlertThresholds)
	require.Nil(t, cfg.Budgets.Default.MonthlyLimitUSD, "an absent limit stays absent (unlimited)")
	require.Equal(t, 2*time.Minute, cfg.Budgets.ReservationTTL, "defaults fill what the file leaves out")
	require.True(t, cfg.ClientID.Strip)

	env := []string{"PROXIDE_STORE_REDIS_URL=redis://env:6379", "PROXIDE_LISTEN_GRPC=:7000", "PROXIDE_CLIENT_ID_STRIP=false", "OTHER=x"}
	cfg, err = load(t, env, "--config", path)
	require.NoError(t, err)
	require.Equal(t, "redis://env:6379", cfg.Store.RedisURL, "env overrides the file")
	require.Equal(t, ":7000", cfg.Listen.GRPC)
	require.False(t, cfg.ClientID.Strip)

	cfg, err = load(t, env, "--config", path, "--redis-url", "", "--grpc-addr", ":8000", "--log-level", "warn")
	require.NoError(t, err)
	require.Empty(t, cfg.Store.RedisURL, "a flag overrides env, even to empty (in-memory ledger)")
	require.Equal(t, ":8000", cfg.Listen.GRPC)
	require.Equal(t, "warn", cfg.Log.Level)
}

func TestConfigDefaultsWithoutFile(t *testing.T) {
	cfg, err := load(t, nil)
	require.NoError(t, err)
	require.Equal(t, ":50051", cfg.Listen.GRPC)
	require.Equal(t, ":8080", cfg.Listen.Admin)
	require.Empty(t, cfg.Store.RedisURL)
	require.Equal(t, "closed", cfg.Store.FailureMode)
	require.Equal(t, "x-proxide-client-id", cfg.ClientID.Header)
	require.Equal(t, []string{"/openai/v1", "/v1"}, cfg.PathPrefixes)
	require.Equal(t, LoopConfig{Enabled: true, Window: time.Minute, MaxRepeats: 5, Similarity: 0.9, Cooldown: 5 * time.Minute, Action: "block", Status: 429}, cfg.Loop,
		"loop detection is on by default, as DESIGN.md's example")
	_, err = newApp(cfg, &bytes.Buffer{}, nil)
	require.NoError(t, err, "the defaults alone make a working (in-memory, open) sidecar")
}

func TestConfigReportsEveryProblem(t *testing.T) {
	path := writeConfig(t, `
store: {failure_mode: maybe}
listen: {max_message_bytes: 10}
log: {level: loud, format: xml}
budgets: {default_max_output_tokens: -1}
path_prefixes: ["openai"]
pricing: {fallback: {input_per_mtok: -1, output_per_mtok: .nan}}
loop_detection: {window: -1s, similarity: 1.5, action: shout, status: 200}
`)
	_, err := load(t, nil, "--config", path)
	require.Error(t, err)
	for _, want := range []string{"store.failure_mode", "listen.max_message_bytes", "log.level", "log.format",
		"budgets.default_max_output_tokens", "path_prefixes[0]", "pricing.fallback.input_per_mtok", "pricing.fallback.output_per_mtok",
		"loop_detection: ", "loop_detection.action", "loop_detection.status"} {
		require.ErrorContains(t, err, want)
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	_, err := load(t, nil, "--config", writeConfig(t, "stor: {redis_url: x}\n"))
	require.ErrorContains(t, err, "stor: unknown key (did you mean store?)")
}

func TestBadRulesAndKeysAreReportedTogether(t *testing.T) {
	path := writeConfig(t, `
keys:
  - {name: app, sha256: "nothex", scopes: [gateway]}
budgets:
  timezone: Mars/Olympus
  default: {daily_limit_usd: -1}
  rules:
    - {daily_limit_usd: 1}
    - {client_id: "a", monthly_limit_usd: .inf}
    - {match: "user-", daily_limit_usd: 1e12}
    - {client_id: "b", action: explode}
`)
	_, err := load(t, nil, "--config", path)
	require.Error(t, err, "the checks of building the app run when the config is loaded")
	for _, want := range []string{"keys[0] (app)", "budgets.timezone", "budgets.default: daily_limit_usd",
		"budgets.rules[0]: needs client_id or match", "budgets.rules[1]: monthly_limit_usd", "budgets.rules[2]: daily_limit_usd", "budgets.rules[3]: action"} {
		require.ErrorContains(t, err, want)
	}
}

func TestKeysWithoutUpstreamKeyIsAnError(t *testing.T) {
	path := writeConfig(t, "keys:\n  - {name: app, key: prox-dev, scopes: [gateway]}\n")
	cfg, err := load(t, nil, "--config", path)
	require.NoError(t, err)
	_, err = newApp(cfg, &bytes.Buffer{}, nil)
	require.ErrorContains(t, err, "OPENAI_API_KEY")
	_, err = newApp(cfg, &bytes.Buffer{}, []string{"OPENAI_API_KEY=sk-live"})
	require.NoError(t, err)

	secret := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(secret, []byte("sk-from-file\n"), 0o600))
	cfg.Upstream.APIKeyFile = secret
	key, err := cfg.upstreamKey(envLookup(nil))
	require.NoError(t, err)
	require.Equal(t, "sk-from-file", key)
}

func TestCommands(t *testing.T) {
	tests := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"version"}, "prices litellm-model-prices-2026-07-24", ""},
		{[]string{"keys", "hash", "prox-abc"}, "9c7fe14ff327960ed5971387543f061fec774938a965b193f95ac15b54edd663\n", ""},
		{[]string{"keys"}, "", "keys: want the hash command"},
		{[]string{"frobnicate"}, "", `unknown command "frobnicate"`},
		{nil, "", "missing command"},
		{[]string{"serve", "--no-such-flag"}, "", "unknown flag"},
		{[]string{"serve", "--config", "/nonexistent.yaml"}, "", "config file /nonexistent.yaml"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut, nil)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out.String(), tc.wantOut)
		})
	}
}
