package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/fakeopenai"
)

// TestSoakRedisRestarts keeps many streams open through a real `proxide serve` process
// (failure_mode open) while Redis is restarted twice, then checks that the sidecar's
// goroutines and memory came back down and that every answered request is charged
// exactly once. By default it is small (100 streams, 9s: part of make test);
// `make soak` runs it at PROXIDE_SOAK_STREAMS (2000) for PROXIDE_SOAK (3m).
func TestSoakRedisRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts redis-server")
	}
	// Short streams in make test; at full size, long slow ones (60 words 200ms apart, 12s
	// each): thousands open at once without asking two shared cores for thousands of new
	// requests a second.
	duration, streams, words, delay := 9*time.Second, 100, "20", "25"
	if v := os.Getenv("PROXIDE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		duration, streams, words, delay = d, 2000, "60", "200"
	}
	if v := os.Getenv("PROXIDE_SOAK_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		streams = n
	}
	rs := redistest.StartServer(t, redistest.Options{Persist: true})
	bin := buildProxide(t)
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	config := writeConfig(t, fmt.Sprintf(`
store: {redis_url: "redis://%s/0", failure_mode: open, spill_dir: %q}
listen: {shutdown_timeout: 60s}
keys:
  - {name: app, key: prox-e2e-app, scopes: [gateway]}
  - {name: ops, key: prox-e2e-ops, scopes: [admin]}
budgets: {default: {daily_limit_usd: 100000}}
log: {level: warn}
loop_detection: {enabled: false}
`, rs.Addr, t.TempDir()))
	cmd := exec.CommandContext(context.Background(), bin, "serve", "--config", config, "--grpc-addr", grpcAddr, "--admin-addr", adminAddr)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-upstream-secret")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		require.NoError(t, cmd.Wait(), "logs:\n%s", logs)
	})
	require.Eventually(t, func() bool { return readyz(t, adminAddr) }, 30*time.Second, 20*time.Millisecond)

	upstream := httptest.NewServer(fakeopenai.New())
	t.Cleanup(upstream.Close)
	si, err := envoy.New(envoy.Options{ExtProcAddr: grpcAddr, Upstream: upstream.URL})
	require.NoError(t, err)
	front := httptest.NewServer(si)
	t.Cleanup(func() { front.Close(); _ = si.Close() })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: streams}}

	base := sample(t, cmd.Process.Pid, adminAddr)
	var (
		stop                   atomic.Bool
		ok, failed             atomic.Int64
		failMu                 sync.Mutex
		failures               = map[string]int{}
		promptSum, completeSum atomic.Int64
		wg                     sync.WaitGroup
	)
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_tokens":40,"messages":[{"role":"user","content":"tell me a story"}]}`
	for w := range streams {
		wg.Go(func() {
			for !stop.Load() {
				p, c, err := streamOnce(t.Context(), client, front.URL, fmt.Sprintf("soak-%d", w%50), body, words, delay)
				if err != nil {
					failed.Add(1)
					failMu.Lock()
					failures[err.Error()[:min(len(err.Error()), 80)]]++
					failMu.Unlock()
					continue
				}
				ok.Add(1)
				promptSum.Add(p)
				completeSum.Add(c)
			}
		})
	}
	var peak procSample
	watch := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			time.Sleep(min(time.Second, time.Until(end))) // sampling interval of a bounded run
			s := sample(t, cmd.Process.Pid, adminAddr)
			peak.rssKB, peak.goroutines = max(peak.rssKB, s.rssKB), max(peak.goroutines, s.goroutines)
		}
	}
	watch(duration / 3)
	warm := peak
	for range 2 { // Redis restarts in the middle
		require.NoError(t, rs.Stop())
		watch(time.Second)
		require.NoError(t, rs.Start())
		watch(duration / 3)
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, failed.Load(), "failing open, every request was answered: %v", failures)

	// Spend exact: every answered request charged once, from its usage.
	store, err := budgetredis.Open("redis://"+rs.Addr+"/0", budgetredis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	want := handCost(t, "gpt-4o-mini-2024-07-18", promptSum.Load(), 0, completeSum.Load())
	var got, reserved int64
	for deadline := time.Now().Add(120 * time.Second); ; {
		now := time.Now()
		got, reserved = 0, 0
		for i := range 50 {
			sp, err := store.Spend(context.Background(), fmt.Sprintf("soak-%d", i), rules.Rule{}, cal.Periods(now), now)
			require.NoError(t, err)
			got += sp.Day.SpentNano
			reserved += sp.Day.ReservedNano
		}
		if got == want && reserved == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // waiting for the replay, bounded by the deadline
	}
	require.Equal(t, [2]int64{want, 0}, [2]int64{got, reserved}, "[spent, reserved] of the soak's clients; logs:\n%s", logs)

	// Flat: with the streams done, goroutines are back to the idle count and memory did
	// not keep growing after the warm-up.
	var end procSample
	require.Eventually(t, func() bool {
		end = sample(t, cmd.Process.Pid, adminAddr)
		return end.goroutines <= base.goroutines+10
	}, 60*time.Second, 200*time.Millisecond, "goroutines: idle %d, now %d", base.goroutines, end.goroutines)
	t.Logf("soak: %d streams for %s with 2 Redis restarts: %d requests answered, %d failed; spend exact ($%.6f); "+
		"sidecar RSS idle %d KB, after warm-up %d KB, peak %d KB, end %d KB; goroutines idle %d, peak %d, end %d",
		streams, duration, ok.Load(), failed.Load(), float64(want)/1e9,
		base.rssKB, warm.rssKB, peak.rssKB, end.rssKB, base.goroutines, peak.goroutines, end.goroutines)
	require.LessOrEqual(t, peak.rssKB, 2*warm.rssKB+64<<10, "memory kept growing after the warm-up")
}

// streamOnce sends one streaming chat request and returns the usage its last chunk
// reports; an error for anything but a whole 200 stream with usage.
func streamOnce(ctx context.Context, c *http.Client, front, client, body, words, delay string) (prompt, completion int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, front+"/openai/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer prox-e2e-app")
	req.Header.Set("X-Proxide-Client-Id", client)
	req.Header.Set("X-Fake-Words", words)
	req.Header.Set("X-Fake-Delay-Ms", delay)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	found := false
	for sc.Scan() {
		data, isData := strings.CutPrefix(sc.Text(), "data: ")
		if !isData || !strings.Contains(data, `"usage":{`) {
			continue
		}
		var ev struct {
			Usage struct {
				PromptTokens     int64 `json:"prompt_tokens"`
				CompletionTokens int64 `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return 0, 0, err
		}
		prompt, completion, found = ev.Usage.PromptTokens, ev.Usage.CompletionTokens, true
	}
	if err := sc.Err(); err != nil || !found {
		return 0, 0, fmt.Errorf("stream without usage: %w", err)
	}
	return prompt, completion, nil
}

type procSample struct{ rssKB, goroutines int64 }

// sample reads the sidecar's resident memory (/proc) and goroutines (its /metrics).
func sample(t *testing.T, pid int, admin string) procSample {
	t.Helper()
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			s.rssKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	for line := range strings.SplitSeq(scrape(t, "http://"+admin), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			s.goroutines, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return s
}
