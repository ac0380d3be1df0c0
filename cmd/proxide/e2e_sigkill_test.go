package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
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

// TestE2ESidecarSIGKILL kills a `proxide serve` process with SIGKILL while streams are in
// flight. What it settled before is in Redis; the reservations of its in-flight streams
// (their worst cases) are released within budgets.reservation_ttl of its last lease
// renewal; their spend — the one thing a dead sidecar cannot settle — is bounded by those
// worst cases (README, "Faults"). A sidecar started in its place serves at once.
func TestE2ESidecarSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts redis-server")
	}
	redisAddr := redistest.Start(t)
	bin := buildProxide(t)
	config := writeConfig(t, fmt.Sprintf(`
store: {redis_url: "redis://%s/0", spill_dir: %q}
keys:
  - {name: app, key: prox-e2e-app, scopes: [gateway]}
budgets:
  default: {daily_limit_usd: 100}
  reservation_ttl: 3s
log: {level: warn}
loop_detection: {enabled: false}
`, redisAddr, t.TempDir()))
	upstream := httptest.NewServer(fakeopenai.New())
	t.Cleanup(upstream.Close)
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	start := func() *exec.Cmd {
		cmd := exec.CommandContext(context.Background(), bin, "serve", "--config", config, "--grpc-addr", grpcAddr, "--admin-addr", adminAddr)
		cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-upstream-secret")
		logs := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool { return readyz(t, adminAddr) }, 30*time.Second, 20*time.Millisecond, "not ready; logs:\n%s", logs)
		return cmd
	}
	si, err := envoy.New(envoy.Options{ExtProcAddr: grpcAddr, Upstream: upstream.URL})
	require.NoError(t, err)
	front := httptest.NewServer(si)
	t.Cleanup(func() { front.Close(); _ = si.Close() })
	s := &stack{front: front.URL}

	store, err := budgetredis.Open("redis://"+redisAddr+"/0", budgetredis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	spend := func(client string) budget.ClientSpend {
		now := time.Now()
		sp, err := store.Spend(context.Background(), client, rules.Rule{}, cal.Periods(now), now)
		require.NoError(t, err)
		return sp
	}

	first := start()
	const done = 20
	for range done {
		require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "killed", body: chatHello}).status)
	}
	settled := spend("killed").Day.SpentNano
	require.Positive(t, settled)

	// Streams in flight: a slow answer (40 words, 250ms apart).
	const inFlight = 5
	streams, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			_, _ = s.try(streams, call{path: "/openai/v1/chat/completions", client: "killed",
				body:    `{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"a long story"}]}`,
				headers: map[string]string{"x-fake-words": "40", "x-fake-delay-ms": "250"}}) // cut by the kill: an error is the point
		})
	}
	require.Eventually(t, func() bool { return spend("killed").Day.ReservedNano > 0 }, 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(upstream.Config.Handler.(*fakeopenai.Server).Requests()) == done+inFlight },
		30*time.Second, 10*time.Millisecond, "every stream reached the upstream")
	held := spend("killed").Day.ReservedNano

	killed := time.Now()
	require.NoError(t, first.Process.Kill())
	_ = first.Wait() // "signal: killed"
	cancel()
	wg.Wait()

	sp := spend("killed")
	require.Equal(t, settled, sp.Day.SpentNano, "what was settled before the kill is durable")
	require.Equal(t, held, sp.Day.ReservedNano, "the dead sidecar's reservations hold its in-flight worst cases")
	require.Eventually(t, func() bool { return spend("killed").Day.ReservedNano == 0 }, 30*time.Second, 50*time.Millisecond)
	t.Logf("SIGKILL with %d streams in flight: %d settled requests intact ($%.6f); reservations ($%.6f, the bound on the in-flight spend) released %s after the kill (reservation_ttl 3s)",
		inFlight, done, float64(settled)/1e9, float64(held)/1e9, time.Since(killed).Round(time.Millisecond))

	second := start()
	t.Cleanup(func() {
		_ = second.Process.Signal(os.Interrupt)
		_ = second.Wait() // its exit status is checked by the SIGTERM tests
	})
	require.Equal(t, http.StatusOK, s.do(t, call{path: "/openai/v1/chat/completions", client: "killed", body: chatHello}).status)
	require.Greater(t, spend("killed").Day.SpentNano, settled)
}

func readyz(t *testing.T, admin string) bool {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+admin+"/readyz", http.NoBody)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // the status is all
	return resp.StatusCode == http.StatusOK
}
