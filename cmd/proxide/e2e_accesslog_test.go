package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The access log has a line per metered request and per refusal, with what
// was charged, and never a key or a body.
func TestE2EAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	yaml := e2eYAML("    - {client_id: logged, daily_limit_usd: 0.20}\n", priceyPricing+"loop_detection: {enabled: false}\n"+
		fmt.Sprintf("access_log: {enabled: true, format: json, output: %q}\n", path))
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		require.NoError(t, os.WriteFile(path, nil, 0o600))
		s := startStack(t, yaml, nil)
		c := priceyCall("logged", 5)
		c.headers["x-request-id"] = "req-1"
		r := s.do(t, c)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		p, cached, o := usageOf(t, r.body)
		cost := handCost(t, "pricey", p, cached, o)
		for r.status == http.StatusOK { // spend through the $0.20
			r = s.do(t, priceyCall("logged", 5))
		}
		require.Equal(t, http.StatusPaymentRequired, r.status)
		s.do(t, call{path: "/openai/v1/models", client: "logged", method: http.MethodGet}) // free: no line

		var lines []map[string]any
		require.Eventually(t, func() bool {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NotContains(t, string(raw), "prox-e2e-app", "no key")
			require.NotContains(t, string(raw), "sk-upstream-secret", "no upstream key")
			require.NotContains(t, string(raw), `"content"`, "no body")
			lines = nil
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				var l map[string]any
				require.NoError(t, json.Unmarshal(sc.Bytes(), &l), "%s", sc.Bytes())
				lines = append(lines, l)
			}
			return len(lines) >= 2 && lines[len(lines)-1]["decision"] == "budget_exceeded"
		}, 5*time.Second, 10*time.Millisecond)
		first := lines[0]
		require.Equal(t, "access", first["log"])
		require.Equal(t, "req-1", first["request_id"])
		require.Equal(t, "logged", first["client_id"])
		require.Equal(t, "chat.completions.create", first["endpoint"])
		require.Equal(t, "allowed", first["decision"])
		require.Equal(t, "pricey", first["model"])
		require.InDelta(t, float64(cost)/1e9, first["cost_usd"], 1e-12)
		require.Equal(t, false, first["estimated"])
		require.InDelta(t, float64(p), first["prompt_tokens"], 0)
		require.InDelta(t, float64(o), first["completion_tokens"], 0)
		require.Contains(t, first, "latency_ms")
		var total float64
		for _, l := range lines[:len(lines)-1] {
			require.Equal(t, "allowed", l["decision"])
			total += l["cost_usd"].(float64)
		}
		require.InDelta(t, float64(s.spend(t, "logged").Day.SpentNano)/1e9, total, 1e-9, "the lines add up to the ledger")
		last := lines[len(lines)-1]
		require.NotContains(t, last, "cost_usd")
		require.Equal(t, "pricey", last["model"])
	})
}
