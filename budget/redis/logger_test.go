package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoggerIsJSONAndRateLimited(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLogger(slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return now }, 30*time.Second)
	dial := "redis: connection pool: failed to dial after %d attempts: %v"
	ctx := context.Background()

	l.Printf(ctx, dial, 5, "connection refused") // out at once
	for range 9 {
		now = now.Add(time.Second)
		l.Printf(ctx, dial, 5, "connection refused") // within 30s: counted
	}
	l.Printf(ctx, "other: %s", "x") // another kind is not held back by the first
	now = now.Add(30 * time.Second)
	l.Printf(ctx, dial, 5, "connection refused") // next window: out, with the count

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "every line is JSON: %s", line)
		lines = append(lines, m)
	}
	require.Len(t, lines, 3)
	require.Equal(t, "redis client: redis: connection pool: failed to dial after 5 attempts: connection refused", lines[0]["msg"])
	require.Equal(t, "WARN", lines[0]["level"])
	require.Equal(t, "go-redis", lines[0]["component"])
	require.NotContains(t, lines[0], "suppressed")
	require.Equal(t, "redis client: other: x", lines[1]["msg"])
	require.InDelta(t, 9, lines[2]["suppressed"], 0)
}
