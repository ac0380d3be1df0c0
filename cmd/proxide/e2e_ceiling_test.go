package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/usage"
)

// The ceiling must hold: every way spend could escape the ledger, tried
// through the Envoy stand-in against a real sidecar, on the memory and on the
// Redis ledger, with the expected charges computed by hand from the price
// table (pricing/data/openai.json, LiteLLM snapshot 2026-07-24).

var ceilingConfig = e2eYAML(`    - {match: "soft-*", daily_limit_usd: 1.00}
    - {match: "strict-*", daily_limit_usd: 1.00, admission: strict}
    - {match: "tiny-*", daily_limit_usd: 0.05}
`, priceyPricing+"loop_detection: {enabled: false}\n")

// onBothLedgers runs fn once on the in-memory ledger and once on a real redis-server.
func onBothLedgers(t *testing.T, yaml string, fn func(t *testing.T, yaml string)) {
	t.Run("memory", func(t *testing.T) { fn(t, yaml) })
	t.Run("redis", func(t *testing.T) {
		fn(t, yaml+fmt.Sprintf("store: {redis_url: \"redis://%s/0\"}\n", redistest.Start(t)))
	})
}

// spendAt reads a client's ledger state at a given time (fake-clock tests).
func (s *stack) spendAt(t *testing.T, client string, now time.Time) budget.ClientSpend {
	t.Helper()
	cal, err := budget.NewCalendar(s.app.cfg.Budgets.Timezone)
	require.NoError(t, err)
	sp, err := s.app.store.Spend(context.Background(), client, rules.Rule{}, cal.Periods(now), now)
	require.NoError(t, err)
	return sp
}

// promptEstimate is Proxide's own prompt count of a chat body (tiktoken plus
// OpenAI's per-message framing), the prompt part of a reservation.
func promptEstimate(t *testing.T, ep usage.Endpoint, body string) int64 {
	t.Helper()
	r, err := usage.ParseRequest(ep, []byte(body), usage.Options{})
	require.NoError(t, err)
	return r.PromptTokens
}

// o3 prices in nano-USD per token: input 2e-06, output 8e-06 (flex: 1e-06, 4e-06).
const (
	o3In, o3Out         = 2_000, 8_000
	o3FlexIn, o3FlexOut = 1_000, 4_000
	o3MaxOutput         = 100_000
)

// Thirty concurrent o3 requests without max_completion_tokens on a $1.00/day
// rule: each can bill 100,000 output tokens ($0.80). Reserved at the model's
// max_output_tokens, the burst ends at most one worst case above the limit
// (soft), and never above it (strict). Before: 4,096 tokens reserved, all 30
// admitted, $24.00 settled.
func TestE2EO3BurstStaysUnderTheCeiling(t *testing.T) {
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		body := `{"model":"o3","messages":[{"role":"user","content":"Think very hard about this."}]}`
		worst := promptEstimate(t, usage.ChatCompletions, body)*o3In + o3MaxOutput*o3Out
		for _, tc := range []struct {
			client string
			bound  int64
		}{
			{"soft-burst", 1_000_000_000 + worst},
			{"strict-burst", 1_000_000_000},
		} {
			var mu sync.Mutex
			codes := map[int]int{}
			var wg sync.WaitGroup
			for range 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := s.try(t.Context(), call{path: "/openai/v1/chat/completions", client: tc.client, body: body, headers: map[string]string{
						"x-fake-reasoning-tokens": "98900", "x-fake-words": "1100", "x-fake-think-ms": "300"}})
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					codes[r.status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			sp := s.spend(t, tc.client)
			t.Logf("%s: %v, settled $%.6f (bound $%.6f, one worst case $%.6f)", tc.client, codes,
				float64(sp.Day.SpentNano)/1e9, float64(tc.bound)/1e9, float64(worst)/1e9)
			require.Equal(t, 30, codes[200]+codes[402], "every request is answered 200 or 402: %v", codes)
			require.Positive(t, codes[200])
			require.LessOrEqual(t, sp.Day.SpentNano, tc.bound)
			require.Zero(t, sp.Day.ReservedNano, "nothing left reserved")
		}
	})
}

// A strict rule refuses a request whose worst case does not fit, with the
// estimate and what is left in the 402 body and a message saying how to fit;
// the same request with a lower max_completion_tokens passes.
func TestE2EStrictRefusalSaysHowToFit(t *testing.T) {
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		body := `{"model":"o3","messages":[{"role":"user","content":"Plan my week."}]}`
		r := s.do(t, call{path: "/openai/v1/chat/completions", client: "strict-fit", body: body,
			headers: map[string]string{"x-fake-reasoning-tokens": "60000"}})
		// With nothing spent, one worst case ($0.80 + prompt) fits in $1.00; it
		// thinks 60,000 tokens ($0.48), so the next worst case no longer fits.
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		spent := s.spend(t, "strict-fit").Day.SpentNano

		r = s.do(t, call{path: "/openai/v1/chat/completions", client: "strict-fit", body: body})
		require.Equal(t, http.StatusPaymentRequired, r.status, "%s", r.body)
		require.Equal(t, "false", r.header.Get("X-Should-Retry"))
		var e struct {
			Error struct {
				Type, Message, Code string
				LimitType           string   `json:"limit_type"`
				EstimateUSD         *float64 `json:"request_estimate_usd"`
				RemainingUSD        *float64 `json:"remaining_usd"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.body, &e))
		worst := promptEstimate(t, usage.ChatCompletions, body)*o3In + o3MaxOutput*o3Out
		require.Equal(t, "budget_exceeded", e.Error.Type)
		require.Equal(t, "budget_exceeded", e.Error.Code)
		require.Equal(t, "daily", e.Error.LimitType)
		require.InDelta(t, float64(worst)/1e9, *e.Error.EstimateUSD, 1e-6)
		require.InDelta(t, float64(1_000_000_000-spent)/1e9, *e.Error.RemainingUSD, 1e-6)
		require.Contains(t, e.Error.Message, "max_completion_tokens")

		small := `{"model":"o3","max_completion_tokens":1000,"messages":[{"role":"user","content":"Plan my week."}]}`
		r = s.do(t, call{path: "/openai/v1/chat/completions", client: "strict-fit", body: small})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.LessOrEqual(t, s.spend(t, "strict-fit").Day.SpentNano, int64(1_000_000_000))
	})
}

// A reasoning stream cut after the visible answer began is charged the worst
// case that was reserved (its hidden reasoning is unknowable), marked
// estimated, and the admin API shows it as such. A non-reasoning stream cut
// the same way is charged its counted tokens.
func TestE2ECutReasoningStreamChargesTheReservation(t *testing.T) {
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		body := `{"model":"o3","stream":true,"max_completion_tokens":25000,"messages":[{"role":"user","content":"Prove it."}]}`
		c := call{path: "/openai/v1/chat/completions", client: "thinker", body: body,
			headers: map[string]string{"x-fake-reasoning-tokens": "20000", "x-fake-words": "40", "x-fake-cut-after": "5"}}
		cutRequest(t, s, c)
		// Reserved: prompt × $2/M + 25,000 × $8/M ($0.20), where the upstream
		// billed 20,000 reasoning tokens ($0.16) that the client never saw.
		want := promptEstimate(t, usage.ChatCompletions, body)*o3In + 25_000*o3Out
		require.Eventually(t, func() bool { return s.spend(t, "thinker").Day.SpentNano == want }, 5*time.Second, 20*time.Millisecond,
			"charged %d, want the reservation %d", s.spend(t, "thinker").Day.SpentNano, want)
		sp := s.spend(t, "thinker")
		require.Equal(t, want, sp.Today.EstimatedNano, "the charge is marked estimated")
		require.Equal(t, int64(1), sp.Today.Models[0].Estimated)

		var view struct {
			Estimated float64 `json:"estimated_usd_today"`
			Models    []struct {
				EstimatedCostUSD float64 `json:"estimated_cost_usd"`
			} `json:"models_today"`
		}
		require.Equal(t, 200, s.adminGet(t, "/v1/clients/thinker", "prox-e2e-ops", &view))
		require.InDelta(t, float64(want)/1e9, view.Estimated, 1e-9)
		require.InDelta(t, float64(want)/1e9, view.Models[0].EstimatedCostUSD, 1e-9)

		// gpt-4o-mini shows every token it bills: the counted tokens are charged.
		mini := `{"model":"gpt-4o-mini","stream":true,"max_tokens":5000,"messages":[{"role":"user","content":"Tell me a story."}]}`
		cutRequest(t, s, call{path: "/openai/v1/chat/completions", client: "storyteller", body: mini,
			// 20 ms between events: the chunks reach Proxide before the cut does
			// (sent together with the reset, the stand-in may drop them first,
			// and a stream cut before any chunk is charged its reservation).
			headers: map[string]string{"x-fake-words": "400", "x-fake-cut-after": "6", "x-fake-delay-ms": "20"}})
		require.Eventually(t, func() bool { return s.spend(t, "storyteller").Today.Requests == 1 }, 5*time.Second, 20*time.Millisecond)
		sp = s.spend(t, "storyteller")
		reservation := promptEstimate(t, usage.ChatCompletions, mini)*150 + 5000*600
		require.Positive(t, sp.Day.SpentNano)
		require.Less(t, sp.Day.SpentNano, reservation/10, "a few counted tokens, not the reservation")
	})
}

// cutRequest sends c and drops the connection once part of the body came.
func cutRequest(t *testing.T, s *stack, c call) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.front+c.path, strings.NewReader(c.body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer prox-e2e-app")
	req.Header.Set("x-proxide-client-id", c.client)
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return // reset before the headers reached the client
	}
	_, _ = io.ReadAll(resp.Body) // the upstream cuts the stream: the read ends in an error
	_ = resp.Body.Close()        // and so may the close
}

// A non-streamed request whose client leaves once the response started: the
// body was never read, so the worst case reserved is charged, estimated.
func TestE2EClientGoneMidResponseChargesTheReservation(t *testing.T) {
	slowBody := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("x-test-slow-body") == "" {
			return false
		}
		_, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"id":"chatcmpl-slow","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[`)
		if err := http.NewResponseController(w).Flush(); err != nil {
			return true // the client already left: nothing more to send
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return true
	}
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStackWith(t, yaml, slowBody, nil)
		body := `{"model":"gpt-4o","max_tokens":300,"messages":[{"role":"user","content":"Summarise the report."}]}`
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.front+"/openai/v1/chat/completions", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer prox-e2e-app")
		req.Header.Set("x-proxide-client-id", "leaver")
		req.Header.Set("x-test-slow-body", "1")
		resp, err := testClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		cancel() // the client leaves with the response started
		// Unread and cancelled: the close's error says nothing about Proxide.
		_ = resp.Body.Close()
		// gpt-4o: input 2.5e-06, output 1e-05 per token.
		want := promptEstimate(t, usage.ChatCompletions, body)*2_500 + 300*10_000
		require.Eventually(t, func() bool { return s.spend(t, "leaver").Day.SpentNano == want }, 5*time.Second, 20*time.Millisecond,
			"charged %d, want %d", s.spend(t, "leaver").Day.SpentNano, want)
		require.Equal(t, want, s.spend(t, "leaver").Today.EstimatedNano)
	})
}

// A reservation lives as long as its request: with reservation_ttl 3s, a
// request that runs 5s still holds its reservation at 4s, so a second
// request of the same nearly spent client is refused; afterwards the actual
// cost is charged.
func TestE2EReservationOutlivesItsTTLWhileTheRequestRuns(t *testing.T) {
	yaml := strings.Replace(ceilingConfig, "  timezone: UTC\n", "  timezone: UTC\n  reservation_ttl: 3s\n", 1)
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		// pricey costs a cent a token: this reservation alone passes the $0.05 limit.
		long := call{path: "/openai/v1/chat/completions", client: "tiny-long", body: `{"model":"pricey","max_tokens":3,"messages":[{"role":"user","content":"x"}]}`,
			headers: map[string]string{"x-fake-think-ms": "5000", "x-fake-words": "3"}}
		done := make(chan reply, 1)
		go func() {
			r, err := s.try(t.Context(), long)
			assert.NoError(t, err)
			done <- r
		}()
		require.Eventually(t, func() bool { return s.spend(t, "tiny-long").Day.ReservedNano > 0 }, 3*time.Second, 10*time.Millisecond)
		time.Sleep(4 * time.Second) // past the TTL: only the lease keeps the reservation
		require.Positive(t, s.spend(t, "tiny-long").Day.ReservedNano, "the running request's reservation is still held")
		second := s.do(t, call{path: "/openai/v1/chat/completions", client: "tiny-long", body: `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"y"}]}`})
		require.Equal(t, http.StatusPaymentRequired, second.status, "%s", second.body)
		first := <-done
		require.Equal(t, http.StatusOK, first.status, "%s", first.body)
		p, c, o := usageOf(t, first.body)
		sp := s.spend(t, "tiny-long")
		require.Equal(t, handCost(t, "pricey", p, c, o), sp.Day.SpentNano)
		require.Zero(t, sp.Day.ReservedNano)
	})
}
