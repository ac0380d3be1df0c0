package loop

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/usage"
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

// redact is the redaction of a whole text.
func redact(s string) string {
	k := pooledSketcher()
	defer k.release()
	return string(k.appendRedacted(nil, s))
}

// redactPrefix is the redaction of enough of s to fill room bytes.
func redactPrefix(s string, room int) string {
	k := pooledSketcher()
	defer k.release()
	return string(k.appendRedactedPrefix(nil, s, room))
}

func TestExcerptOfLongTextsMatchesRedactingThemWhole(t *testing.T) {
	long := strings.Repeat("retry 12345 of job 550e8400-e29b-41d4-a716-446655440000 at 2026-11-28T10:00:00Z   \n\n", 200)
	for _, room := range []int{1, 10, 50, 200, 1000} {
		got := cut(redactPrefix(long, room), room)
		want := cut(redact(long), room)
		require.Equal(t, want, got, "room %d", room)
	}
	spaces := "a" + strings.Repeat(" ", 5000) + "b c d"
	require.Equal(t, cut(redact(spaces), 5), cut(redactPrefix(spaces, 5), 5), "a whitespace run longer than the first prefix")
}
