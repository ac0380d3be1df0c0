package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/usage"
)

// Background responses: the create answers "queued" at once and the model
// runs afterwards, so the create's worst case stays held in the ledger until
// a fetch through Proxide sees the finished response (then the exact usage is
// charged, once) or until budgets.background_ttl (then the hold is charged,
// estimated). Through the stand-in, on both ledgers.

// backgroundBody asks gpt-4o for at most 500 output tokens in the background.
const backgroundBody = `{"model":"gpt-4o","input":"Write the quarterly report.","background":true,"max_output_tokens":500}`

// backgroundHeaders fix the finished response's usage (control headers of a
// background response belong on its create): 1,000 input tokens of which
// 200 cached, 10 output tokens; completed on the 3rd poll (2 polls before).
var backgroundHeaders = map[string]string{
	"x-fake-background-polls": "2",
	"x-fake-prompt-tokens":    "1000",
	"x-fake-cached-tokens":    "200",
	"x-fake-words":            "10",
}

// backgroundCharge is that usage at gpt-4o-2024-08-06's prices (input
// 2.5e-06, cached 1.25e-06, output 1e-05):
// 800 × 2,500 + 200 × 1,250 + 10 × 10,000 = 2,000,000 + 250,000 + 100,000.
const backgroundCharge = 2_350_000

// backgroundWorstCase is what the create reserves: Proxide's prompt count
// (tiktoken) at gpt-4o's input price plus max_output_tokens at its output price.
func backgroundWorstCase(t *testing.T) int64 {
	t.Helper()
	return promptEstimate(t, usage.Responses, backgroundBody)*2_500 + 500*10_000
}

// responseObj is the part of a Responses object the tests read.
type responseObj struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Usage  json.RawMessage `json:"usage"`
}

func decodeResponse(t *testing.T, body []byte) responseObj {
	t.Helper()
	var r responseObj
	require.NoError(t, json.Unmarshal(body, &r), "body: %s", body)
	return r
}

// createBackground creates the background response for client and checks the
// client got it queued and the worst case is held, nothing spent.
func createBackground(t *testing.T, s *stack, client string) string {
	t.Helper()
	r := s.do(t, call{path: "/openai/v1/responses", client: client, body: backgroundBody, headers: backgroundHeaders})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	created := decodeResponse(t, r.body)
	require.Equal(t, "queued", created.Status)
	require.Equal(t, "null", string(created.Usage), "no usage yet")
	require.NotEmpty(t, created.ID)
	return created.ID
}

func requireHeld(t *testing.T, s *stack, client string, worst int64) {
	t.Helper()
	sp := s.spend(t, client)
	require.Equal(t, worst, sp.Day.ReservedNano, "the worst case stays held after the create returned")
	require.Zero(t, sp.Day.SpentNano, "nothing charged before the result is seen")
}

func requireChargedOnce(t *testing.T, s *stack, client string) {
	t.Helper()
	sp := s.spend(t, client)
	require.Equal(t, int64(backgroundCharge), sp.Day.SpentNano, "the exact usage, charged once")
	require.Equal(t, int64(backgroundCharge), sp.Month.SpentNano)
	require.Zero(t, sp.Day.ReservedNano, "nothing held any more")
	require.Zero(t, sp.Today.EstimatedNano)
	require.Equal(t, int64(1), sp.Today.Requests, "one response")
	require.Len(t, sp.Today.Models, 1)
	require.Equal(t, "gpt-4o-2024-08-06", sp.Today.Models[0].Model)
}

// poll GETs the response as client.
func poll(t *testing.T, s *stack, client, id string) responseObj {
	t.Helper()
	r := s.do(t, call{method: http.MethodGet, path: "/openai/v1/responses/" + id, client: client})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return decodeResponse(t, r.body)
}

func TestE2EBackgroundResponseSettledByPolling(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		worst := backgroundWorstCase(t)
		id := createBackground(t, s, "bg-poller")
		requireHeld(t, s, "bg-poller", worst)

		// Polls 1 and 2 are still running: the hold stays.
		var statuses []string
		for range 3 {
			got := poll(t, s, "bg-poller", id)
			statuses = append(statuses, got.Status)
			if got.Status != "completed" {
				requireHeld(t, s, "bg-poller", worst)
			}
		}
		require.Equal(t, []string{"queued", "in_progress", "completed"}, statuses)
		requireChargedOnce(t, s, "bg-poller")

		// Fetching the finished response again, or cancelling it, changes nothing.
		require.Equal(t, "completed", poll(t, s, "bg-poller", id).Status)
		r := s.do(t, call{path: "/openai/v1/responses/" + id + "/cancel", client: "bg-poller"})
		require.Equal(t, http.StatusBadRequest, r.status, "a completed response cannot be cancelled: %s", r.body)
		requireChargedOnce(t, s, "bg-poller")
	})
}

func TestE2EBackgroundResponseSettledByResumedStream(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		id := createBackground(t, s, "bg-streamer")
		requireHeld(t, s, "bg-streamer", backgroundWorstCase(t))

		r := s.do(t, call{method: http.MethodGet, path: "/openai/v1/responses/" + id + "?stream=true&starting_after=0", client: "bg-streamer"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		require.Contains(t, string(r.body), "response.completed")
		prompt, cached, completion := sseUsage(t, r.body)
		require.Equal(t, [3]int64{1000, 200, 10}, [3]int64{prompt, cached, completion}, "the usage the charge is computed from")
		requireChargedOnce(t, s, "bg-streamer")

		// The plain GET now sees the completed response: not charged again.
		require.Equal(t, "completed", poll(t, s, "bg-streamer", id).Status)
		requireChargedOnce(t, s, "bg-streamer")
	})
}

// A background response nobody fetches is charged its held worst case once
// background_ttl passes, marked estimated: never nothing. A late fetch then
// changes nothing.
func TestE2EBackgroundResponseNeverFetchedIsCharged(t *testing.T) {
	yaml := strings.Replace(pricesConfig, "  timezone: UTC\n", "  timezone: UTC\n  background_ttl: 1h\n", 1)
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		clock := &fakeClock{now: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
		s := startStack(t, yaml, nil, withClock(clock.Now))
		worst := backgroundWorstCase(t)
		id := createBackground(t, s, "bg-forgotten")
		sp := s.spendAt(t, "bg-forgotten", clock.Now())
		require.Equal(t, worst, sp.Day.ReservedNano)
		require.Zero(t, sp.Day.SpentNano)

		// Still held just before the TTL.
		sp = s.spendAt(t, "bg-forgotten", clock.Now().Add(59*time.Minute))
		require.Equal(t, worst, sp.Day.ReservedNano)
		require.Zero(t, sp.Day.SpentNano)

		later := clock.Now().Add(61 * time.Minute)
		clock.Set(later)
		sp = s.spendAt(t, "bg-forgotten", later)
		require.Equal(t, worst, sp.Day.SpentNano, "the held worst case is charged, not released")
		require.Zero(t, sp.Day.ReservedNano)
		require.Equal(t, worst, sp.Today.EstimatedNano, "marked estimated")
		require.Equal(t, int64(1), sp.Today.Requests)

		// Fetched after all: the charge already made is the only one.
		for range 3 {
			poll(t, s, "bg-forgotten", id)
		}
		sp = s.spendAt(t, "bg-forgotten", later)
		require.Equal(t, worst, sp.Day.SpentNano, "never twice")
		require.Zero(t, sp.Day.ReservedNano)
	})
}

// Another client fetching the result (a leaked id, a shared key) is charged
// nothing and settles nothing: the creator's hold stays until the creator
// (or the TTL) settles it.
func TestE2EBackgroundResponseFetchedByAnotherClient(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		worst := backgroundWorstCase(t)
		id := createBackground(t, s, "bg-owner")

		var last responseObj
		for range 3 {
			last = poll(t, s, "bg-other", id)
		}
		require.Equal(t, "completed", last.Status, "the fake answers anyone with the key")
		other := s.spend(t, "bg-other")
		require.Zero(t, other.Day.SpentNano, "the fetcher did not create it")
		require.Zero(t, other.Day.ReservedNano)
		require.Zero(t, other.Today.CostNano)
		requireHeld(t, s, "bg-owner", worst)

		// The owner's own fetch settles it exactly.
		require.Equal(t, "completed", poll(t, s, "bg-owner", id).Status)
		requireChargedOnce(t, s, "bg-owner")
		require.Zero(t, s.spend(t, "bg-other").Day.SpentNano)
	})
}

// The other ways a background response ends through Proxide: cancelled while
// running (OpenAI bills what it used: the fake reports the whole input and
// half the output), and created with "stream": true (the create's own stream
// runs to the end and carries the usage).
func TestE2EBackgroundResponseOtherEndings(t *testing.T) {
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		t.Run("cancelled in progress", func(t *testing.T) {
			id := createBackground(t, s, "bg-canceller")
			require.Equal(t, "queued", poll(t, s, "bg-canceller", id).Status)
			require.Equal(t, "in_progress", poll(t, s, "bg-canceller", id).Status)
			requireHeld(t, s, "bg-canceller", backgroundWorstCase(t))
			r := s.do(t, call{path: "/openai/v1/responses/" + id + "/cancel", client: "bg-canceller"})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.Equal(t, "cancelled", decodeResponse(t, r.body).Status)
			// 800 × 2,500 + 200 × 1,250 + (10 / 2) × 10,000 = 2,000,000 + 250,000 + 50,000
			const want = 2_300_000
			sp := s.spend(t, "bg-canceller")
			require.Equal(t, int64(want), sp.Day.SpentNano)
			require.Zero(t, sp.Day.ReservedNano)
			// Fetching the cancelled response changes nothing.
			require.Equal(t, "cancelled", poll(t, s, "bg-canceller", id).Status)
			require.Equal(t, int64(want), s.spend(t, "bg-canceller").Day.SpentNano)
		})
		t.Run("streamed create", func(t *testing.T) {
			body := strings.Replace(backgroundBody, `"background":true`, `"background":true,"stream":true`, 1)
			r := s.do(t, call{path: "/openai/v1/responses", client: "bg-live", body: body, headers: backgroundHeaders})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.Contains(t, string(r.body), "response.completed")
			requireChargedOnce(t, s, "bg-live")
			var created struct {
				Response responseObj `json:"response"`
			}
			for _, line := range strings.Split(string(r.body), "\n") {
				if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"response.created"`) {
					require.NoError(t, json.Unmarshal([]byte(d), &created))
				}
			}
			require.NotEmpty(t, created.Response.ID)
			require.Equal(t, "completed", poll(t, s, "bg-live", created.Response.ID).Status)
			requireChargedOnce(t, s, "bg-live")
		})
	})
}

// Tool fees of a background response are settled when its result is
// fetched (a GET carries no tools), and must be the fees of the tools the
// CREATE asked for: web_search_preview on gpt-4.1 (non-reasoning) is $25/1k
// calls (25,000,000 nano each), not web_search's $10/1k; a 4g code
// interpreter container is $0.12 (120,000,000), not the 1g $0.03. Every
// case: 1,000 input tokens × 2,000 + (10 words + 2 calls × 10) × 8,000 =
// 2,240,000 of tokens on gpt-4.1-2025-04-14. The foreground request is the
// control.
func TestE2EBackgroundToolFeesAreTheCreatesTools(t *testing.T) {
	const tokenCost = 2_240_000
	cases := []struct {
		name, tools string
		fees        int64
	}{
		{"web_search_preview", `[{"type":"web_search_preview"}]`, 2 * 25_000_000},
		{"code_interpreter 4g", `[{"type":"code_interpreter","container":{"type":"auto","memory_limit":"4g"}}]`, 120_000_000},
	}
	headers := map[string]string{"x-fake-tool-calls": "2", "x-fake-prompt-tokens": "1000", "x-fake-words": "10", "x-fake-background-polls": "1"}
	onBothLedgers(t, pricesConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for i, tc := range cases {
			for _, background := range []bool{false, true} {
				name := tc.name + " foreground"
				if background {
					name = tc.name + " background"
				}
				t.Run(name, func(t *testing.T) {
					client := fmt.Sprintf("bg-tools-%d-%v", i, background)
					body := fmt.Sprintf(`{"model":"gpt-4.1","input":"Look it up.","tools":%s,"background":%v}`, tc.tools, background)
					r := s.do(t, call{path: "/openai/v1/responses", client: client, body: body, headers: headers})
					require.Equal(t, http.StatusOK, r.status, "%s", r.body)
					if background {
						id := decodeResponse(t, r.body).ID
						require.Equal(t, "in_progress", poll(t, s, client, id).Status)
						require.Equal(t, "completed", poll(t, s, client, id).Status)
					}
					sp := s.spend(t, client)
					require.Equal(t, tokenCost+tc.fees, sp.Day.SpentNano, "tokens + the fees of the tools asked for")
					require.Zero(t, sp.Day.ReservedNano)
				})
			}
		}
	})
}

// A client that went over its budget after creating a background response
// may still fetch that result (it was admitted and is paid for): the fetch
// settles the held charge exactly instead of leaving it to the TTL.
func TestE2EBackgroundResponseFetchedOverBudget(t *testing.T) {
	onBothLedgers(t, refusalConfig+"loop_detection: {enabled: false}\n", func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		id := createBackground(t, s, "broke-bg")
		requireHeld(t, s, "broke-bg", backgroundWorstCase(t))
		// $0.13 of pricey tokens: the $0.05 daily limit is gone.
		r := s.do(t, priceyCall("broke-bg", 5))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = s.do(t, call{path: "/openai/v1/chat/completions", client: "broke-bg", body: chatHello})
		require.Equal(t, http.StatusPaymentRequired, r.status, "over budget now: %s", r.body)

		var statuses []string
		for range 3 {
			statuses = append(statuses, poll(t, s, "broke-bg", id).Status)
		}
		require.Equal(t, []string{"queued", "in_progress", "completed"}, statuses)
		sp := s.spend(t, "broke-bg")
		require.Equal(t, int64(130_000_000+backgroundCharge), sp.Day.SpentNano, "the pricey call + the exact background usage")
		require.Zero(t, sp.Day.ReservedNano)
		require.Zero(t, sp.Today.EstimatedNano)
	})
}
