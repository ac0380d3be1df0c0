package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestE2ELoopClearLetsTheNextRequestThrough: DELETE /v1/loops/{client_id} ends
// the cooldown for the client's very next request on the same replica, also
// while its refusal is answered locally (block_cache_ttl far longer than the
// test: before the fix the replica kept answering 429 until it expired).
func TestE2ELoopClearLetsTheNextRequestThrough(t *testing.T) {
	yaml := e2eYAML("", "loop_detection: {enabled: true, max_repeats: 2, cooldown: 5m}\n")
	s := startStack(t, strings.Replace(yaml, "  timezone: UTC\n", "  timezone: UTC\n  block_cache_ttl: 1h\n", 1), nil)
	again := priceyCall("agent-7", 1)
	var statuses []int
	for range 4 {
		statuses = append(statuses, s.do(t, again).status)
	}
	require.Equal(t, []int{200, 200, 429, 429}, statuses, "the third repeat is a loop, the fourth meets its cooldown")

	code, body, _ := s.adminDo(t, http.MethodDelete, "/v1/loops/agent-7", "prox-e2e-ops")
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"client_id":"agent-7","cleared":true}`, body)
	require.Equal(t, http.StatusOK, s.do(t, again).status, "the very next request goes through")
}
