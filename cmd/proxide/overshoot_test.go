package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/envoy"
	"github.com/proxide/proxide/envoy/fakeopenai"
	"github.com/proxide/proxide/internal/usage"
)

// buildProxide compiles the real binary once per test run (the tests that run
// it share one build) beside the test binary, in go test's work directory,
// which go test removes.
func buildProxide(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.bin = filepath.Join(filepath.Dir(os.Args[0]), "proxide-e2e")
		out, err := exec.CommandContext(context.Background(), "go", "build", "-o", built.bin, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w: %s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.bin
}

var built struct {
	once sync.Once
	bin  string
	err  error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// sidecar is one `proxide serve` process.
type sidecar struct {
	cmd             *exec.Cmd
	grpcAddr, admin string
	logs            *syncBuffer
}

func startSidecar(t *testing.T, bin, config string) *sidecar {
	t.Helper()
	sc := &sidecar{grpcAddr: freeAddr(t), admin: freeAddr(t), logs: &syncBuffer{}}
	// Not t.Context(): it ends before the cleanup, which stops the process with
	// SIGTERM and checks that it exits 0 on its own.
	sc.cmd = exec.CommandContext(context.Background(), bin, "serve", "--config", config, "--grpc-addr", sc.grpcAddr, "--admin-addr", sc.admin)
	sc.cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-upstream-secret")
	sc.cmd.Stdout, sc.cmd.Stderr = sc.logs, sc.logs
	require.NoError(t, sc.cmd.Start())
	t.Cleanup(func() {
		// SIGTERM drains: the process must exit 0 on its own.
		_ = sc.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- sc.cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "proxide did not exit cleanly on SIGTERM; logs:\n%s", sc.logs.String())
		case <-time.After(20 * time.Second):
			_ = sc.cmd.Process.Kill()
			t.Errorf("proxide did not stop within 20s of SIGTERM")
		}
	})
	require.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+sc.admin+"/readyz", http.NoBody)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close() // nothing was read; only the status matters
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 20*time.Millisecond, "sidecar never became ready; logs:\n%s", sc.logs)
	return sc
}

// TestOvershootTwoSidecarsOneRedis fires 200 concurrent requests of one
// client at a $0.50 daily limit through two sidecar processes that share one
// real Redis. Admission (spent + reserved < limit, then reserve) is atomic, so
// the settled total may pass the limit by at most one request's cost.
func TestOvershootTwoSidecarsOneRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts redis-server")
	}
	redisAddr := redistest.Start(t)
	bin := buildProxide(t)
	config := writeConfig(t, fmt.Sprintf(`
store: {redis_url: "redis://%s/0", failure_mode: closed}
keys:
  - {name: app, key: prox-e2e-app, scopes: [gateway]}
budgets:
  default: {daily_limit_usd: 100}
  rules:
    - {client_id: user-12345, daily_limit_usd: 0.50, monthly_limit_usd: 5.00}
pricing:
  custom:
    metered: {input_per_mtok: 1000, output_per_mtok: 1000}   # $0.001 per token
log: {level: warn}
loop_detection: {enabled: false}   # 200 identical requests on purpose
`, redisAddr))
	sidecars := []*sidecar{startSidecar(t, bin, config), startSidecar(t, bin, config)}

	upstream := httptest.NewServer(fakeopenai.New())
	t.Cleanup(upstream.Close)
	var fronts []string
	for _, sc := range sidecars {
		si, err := envoy.New(envoy.Options{ExtProcAddr: sc.grpcAddr, Upstream: upstream.URL})
		require.NoError(t, err)
		front := httptest.NewServer(si)
		t.Cleanup(func() { front.Close(); require.NoError(t, si.Close()) })
		fronts = append(fronts, front.URL)
	}

	const n = 200
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		statuses = map[int]int{}
		okBodies [][]byte // of the admitted requests, for their usage
	)
	const body = `{"model":"metered","max_tokens":8,"messages":[{"role":"user","content":"spend a little"}]}`
	parsed, err := usage.ParseRequest(usage.ChatCompletions, []byte(body), usage.Options{})
	require.NoError(t, err)
	estimate := (parsed.PromptTokens + 8) * 1_000_000
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := &stack{front: fronts[i%2]}
			c := call{path: "/openai/v1/chat/completions", client: "user-12345",
				body:    body,
				headers: map[string]string{"x-fake-words": "8"}}
			<-start
			r, err := s.try(t.Context(), c)
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == http.StatusOK {
				okBodies = append(okBodies, r.body)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	var (
		maxCost int64
		sum     int64
		estErr  int64 // how much actual costs exceeded their reservations, summed
	)
	for _, b := range okBodies {
		p, _, o := usageOf(t, b)
		cost := (p + o) * 1_000_000
		sum += cost
		maxCost = max(maxCost, cost)
		estErr += max(0, cost-estimate)
	}

	require.Equal(t, n, statuses[http.StatusOK]+statuses[http.StatusPaymentRequired], "only 200 and 402: %v", statuses)
	require.Positive(t, statuses[http.StatusOK])
	require.Positive(t, statuses[http.StatusPaymentRequired])

	ledger, err := budgetredis.Open("redis://"+redisAddr+"/0", budgetredis.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, ledger.Close()) }()
	now := time.Now()
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	sp, err := ledger.Spend(context.Background(), "user-12345", rules.Rule{}, cal.Periods(now), now)
	require.NoError(t, err)

	const limit = int64(500_000_000)
	require.Equal(t, sum, sp.Day.SpentNano, "every admitted request is charged exactly once")
	require.Zero(t, sp.Day.ReservedNano, "no reservation is left behind")
	overshoot := sp.Day.SpentNano - limit
	t.Logf("overshoot: %d admitted, %d refused; settled $%.6f against a $0.50 limit: overshoot $%.6f "+
		"(%.2f× one request's cost of $%.6f; estimation error: actual above reservation by $%.6f in total, reservation $%.6f)",
		statuses[http.StatusOK], statuses[http.StatusPaymentRequired], float64(sp.Day.SpentNano)/1e9,
		float64(overshoot)/1e9, float64(overshoot)/float64(maxCost), float64(maxCost)/1e9, float64(estErr)/1e9, float64(estimate)/1e9)
	require.LessOrEqual(t, sp.Day.SpentNano, limit+maxCost+estErr)
}
