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

// Batches are charged to the client that created them, at batch prices,
// exactly once: the input file's upload is read to bound the batch, the
// create reserves that bound and holds it under the batch's id, and the first
// GET that shows the batch finished settles it (any later one changes
// nothing); a batch never looked at again is charged its bound when the hold
// expires. A batch whose input file did not pass through Proxide is refused.

// batchFile is a JSONL input of n chat requests with max_tokens 50.
func batchFile(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"custom_id":"r%d","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"Summarise item %d"}]}}`+"\n", i, i)
	}
	return b.String()
}

// uploadBatchFile uploads a batch input through the stand-in and returns its id.
func uploadBatchFile(t *testing.T, s *stack, client, content string) string {
	t.Helper()
	body, ct := form(t, [][2]string{{"purpose", "batch"}}, [3]string{"file", "input.jsonl", content})
	r := s.do(t, call{path: "/openai/v1/files", client: client, body: body, headers: map[string]string{"Content-Type": ct}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var f struct{ ID string }
	require.NoError(t, json.Unmarshal(r.body, &f))
	require.NotEmpty(t, f.ID)
	return f.ID
}

type batchObject struct {
	ID, Status, Model string
	Usage             struct {
		InputTokens        int64 `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens int64 `json:"output_tokens"`
	}
}

func TestE2EBatchChargedOnceAtBatchPrices(t *testing.T) {
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		file := uploadBatchFile(t, s, "batcher", batchFile(3))
		require.Zero(t, s.spend(t, "batcher").Day.SpentNano, "uploads are free")

		r := s.do(t, call{path: "/openai/v1/batches", client: "batcher",
			body:    `{"input_file_id":"` + file + `","endpoint":"/v1/chat/completions","completion_window":"24h"}`,
			headers: map[string]string{"x-fake-batch-polls": "2"}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var b batchObject
		require.NoError(t, json.Unmarshal(r.body, &b))
		// Held: every line's worst case at gpt-4o-mini batch prices ($0.075/M in, $0.30/M out).
		var bound int64
		for i := range 3 {
			line := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":50,"messages":[{"role":"user","content":"Summarise item %d"}]}`, i)
			bound += promptEstimate(t, usage.ChatCompletions, line)*75 + 50*300
		}
		sp := s.spend(t, "batcher")
		require.Equal(t, [2]int64{0, bound}, [2]int64{sp.Day.SpentNano, sp.Day.ReservedNano}, "held after the create returned")

		var done batchObject
		for range 5 {
			r = s.do(t, call{method: http.MethodGet, path: "/openai/v1/batches/" + b.ID, client: "batcher"})
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.NoError(t, json.Unmarshal(r.body, &done))
			if done.Status == "completed" {
				break
			}
		}
		require.Equal(t, "completed", done.Status)
		require.Zero(t, done.Usage.InputTokensDetails.CachedTokens, "the fake caches nothing in batches")
		want := done.Usage.InputTokens*75 + done.Usage.OutputTokens*300
		sp = s.spend(t, "batcher")
		require.Equal(t, [2]int64{want, 0}, [2]int64{sp.Day.SpentNano, sp.Day.ReservedNano}, "settled at batch prices")
		require.LessOrEqual(t, want, bound)

		// Looking again changes nothing.
		r = s.do(t, call{method: http.MethodGet, path: "/openai/v1/batches/" + b.ID, client: "batcher"})
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, want, s.spend(t, "batcher").Day.SpentNano)

		// An input file Proxide never saw cannot be bounded: refused.
		r = s.do(t, call{path: "/openai/v1/batches", client: "batcher",
			body: `{"input_file_id":"file-elsewhere","endpoint":"/v1/chat/completions","completion_window":"24h"}`})
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		require.Contains(t, string(r.body), `"code":"batch_not_metered"`)
		require.Equal(t, "false", r.header.Get("X-Should-Retry"))
		// Nor can another client use this client's file to spend this client's budget.
		r = s.do(t, call{path: "/openai/v1/batches", client: "someone-else",
			body: `{"input_file_id":"` + file + `","endpoint":"/v1/chat/completions","completion_window":"24h"}`})
		require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	})
}

func TestE2EBatchNeverLookedAtIsChargedWhenItsHoldExpires(t *testing.T) {
	yaml := strings.Replace(ceilingConfig, "  timezone: UTC\n", "  timezone: UTC\n  batch_ttl: 1h\n", 1)
	onBothLedgers(t, yaml, func(t *testing.T, yaml string) {
		clock := &fakeClock{now: time.Now().UTC().Truncate(time.Hour).Add(time.Minute)}
		s := startStack(t, yaml, nil, withClock(clock.Now))
		file := uploadBatchFile(t, s, "forgetful", batchFile(2))
		r := s.do(t, call{path: "/openai/v1/batches", client: "forgetful",
			body: `{"input_file_id":"` + file + `","endpoint":"/v1/chat/completions","completion_window":"24h"}`})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		held := s.spendAt(t, "forgetful", clock.Now()).Day.ReservedNano
		require.Positive(t, held)
		later := clock.Now().Add(61 * time.Minute)
		sp := s.spendAt(t, "forgetful", later)
		require.Equal(t, [2]int64{held, 0}, [2]int64{sp.Day.SpentNano, sp.Day.ReservedNano}, "charged, not released")
		require.Equal(t, held, sp.Today.EstimatedNano, "marked estimated")
	})
}
