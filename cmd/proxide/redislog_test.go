package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// While Redis is down, go-redis's own log lines (a pool that cannot dial)
// come through the app's slog logger as JSON, once per kind rather than once
// per failed call; Proxide's own Redis lines are JSON too.
func TestRedisClientLogsAreJSONAndRateLimited(t *testing.T) {
	lis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close()) // nothing listens there now: Redis is down

	cfg, err := load(t, []string{"PROXIDE_STORE_REDIS_URL=redis://" + addr})
	require.NoError(t, err)
	require.Equal(t, "json", cfg.Log.Format)
	logs := &syncBuffer{}
	a, err := newApp(cfg, logs, nil)
	require.NoError(t, err, "a sidecar starts while Redis is down (failure_mode applies per request)")
	t.Cleanup(func() { closeApp(a) })
	for range 5 {
		require.Error(t, a.store.Ping(t.Context()))
	}

	dials := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "not JSON: %s", line)
		if msg, _ := m["msg"].(string); strings.Contains(msg, "failed to dial") {
			require.Equal(t, "go-redis", m["component"])
			dials++
		}
	}
	require.Equal(t, 1, dials, "go-redis's dial failures are rate-limited:\n%s", logs.String())
}
