package loop

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/usage"
)

func TestExcerpt(t *testing.T) {
	r := parse(t, usage.ChatCompletions, agentChat("gpt-4o",
		[3]string{"Let me fetch it.", `{"url":"https://api.example.com/v1/orders/84512"}`,
			"HTTP 503 at 2025-06-02T09:00:00Z (request 550e8400-e29b-41d4-a716-446655440000), attempt 7"}))
	got := Excerpt(r, 1000)
	require.Equal(t, `assistant call run_tests: {"url":"https://api.example.com/#/orders/#"} | tool output: HTTP 503 at # (request #), attempt #`, got)
	short := Excerpt(r, 20)
	require.Equal(t, `assistant call run_te`[:20], short)
	require.Equal(t, "日本", cut("日本語", 7), "cut on a rune boundary")
	require.Empty(t, Excerpt(usage.Request{}, 100))
}
