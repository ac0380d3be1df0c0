package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	"github.com/proxide/proxide/budget/memory"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/rules"
	"github.com/proxide/proxide/internal/loop"
)

// randomLoopTrace is a request sequence that exercises every verdict: a few base
// signatures in runs and cycles, near-duplicates, time steps that sometimes outlast the
// window or the cooldown.
func randomLoopTrace(rng *rand.Rand, n int) ([]time.Duration, []loop.Signature) {
	bases := make([]loop.Signature, 1+rng.IntN(4))
	for i := range bases {
		bases[i] = ledgertest.Sig(rng.IntN(1000))
		bases[i].Size = uint16(rng.IntN(80))
	}
	steps := make([]time.Duration, n)
	sigs := make([]loop.Signature, n)
	period := 1 + rng.IntN(3)
	for i := range n {
		switch rng.IntN(12) {
		case 0:
			steps[i] = time.Duration(rng.IntN(400)) * time.Second
		case 1:
			steps[i] = 0
		default:
			steps[i] = time.Duration(rng.IntN(6000)) * time.Millisecond
		}
		s := bases[i%period%len(bases)]
		if rng.IntN(4) == 0 {
			s = bases[rng.IntN(len(bases))]
		}
		if rng.IntN(2) == 0 {
			for range rng.IntN(6) {
				s = ledgertest.Near(s, rng.IntN(64))
			}
		}
		sigs[i] = s
	}
	return steps, sigs
}

// TestLoopParityThroughReserve runs Memory and Redis (real redis-server, so the Lua
// window runs inside the reserve script) side by side on random traces of three clients
// with random configs, actions, budgets, settlements and duplicate ids: every Admission,
// the events and the cooldown states must be the same.
func TestLoopParityThroughReserve(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	traces, steps := 40, 150
	if testing.Short() {
		traces = 12
	}
	ctx := context.Background()
	verdicts := map[string]int{}
	for tr := range traces {
		rng := rand.New(rand.NewPCG(uint64(tr), 7))
		mem := memory.New(memory.Options{})
		red, err := budgetredis.New(client, budgetredis.Options{Prefix: fmt.Sprintf("par%d", tr), IndexEvery: time.Hour})
		require.NoError(t, err)
		cfg := loop.Config{
			Window:     time.Duration(1+rng.IntN(60)) * time.Second,
			MaxRepeats: 1 + rng.IntN(5),
			Similarity: []float64{0.75, 0.9, 0.95, 1}[rng.IntN(4)],
			Cooldown:   []time.Duration{0, time.Second, 30 * time.Second, 5 * time.Minute}[rng.IntN(4)],
		}
		rule := rules.Rule{Daily: rules.LimitOf(int64(rng.IntN(40)) * ledgertest.Cent)}
		if rng.IntN(3) == 0 {
			rule.Action = rules.ActionAlert
		}
		clients := []string{"a", "b", "c"}
		traceSteps, sigs := randomLoopTrace(rng, steps)
		now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		cal, _ := budget.NewCalendar("UTC")
		for i, s := range sigs {
			now = now.Add(traceSteps[i])
			c := clients[rng.IntN(len(clients))]
			id := fmt.Sprintf("r%d", i)
			if i > 0 && rng.IntN(20) == 0 {
				id = fmt.Sprintf("r%d", i-1) // a retried reservation
			}
			req := budget.ReserveRequest{ID: id, ClientID: c, Rule: rule, Periods: cal.Periods(now), EstimateNano: ledgertest.Cent, Now: now,
				Loop: &budget.LoopCheck{Sig: s, Config: cfg, Block: rng.IntN(3) > 0, Excerpt: fmt.Sprintf("tool %d | error", i%7)}}
			am, errM := mem.Reserve(ctx, req)
			ar, errR := red.Reserve(ctx, req)
			require.Equal(t, errM == nil, errR == nil, "trace %d step %d: %v / %v", tr, i, errM, errR)
			require.Equal(t, am, ar, "trace %d step %d: %+v", tr, i, req)
			verdicts[fmt.Sprintf("loop=%v cooldown=%v admitted=%v", am.Loop.Loop, am.Loop.Cooldown, am.Admitted)]++
			if am.Admitted && !am.Duplicate && rng.IntN(2) == 0 {
				set := budget.SettleRequest{ID: id, ClientID: c, Rule: rule, Periods: cal.Periods(now), ActualNano: ledgertest.Cent / 2, Now: now}
				_, err := mem.Settle(ctx, set)
				require.NoError(t, err)
				_, err = red.Settle(ctx, set)
				require.NoError(t, err)
			}
			if rng.IntN(50) == 0 {
				okM, err := mem.ClearLoop(ctx, c)
				require.NoError(t, err)
				okR, err := red.ClearLoop(ctx, c)
				require.NoError(t, err)
				// Memory answers at the client's last request time, Redis by the key's
				// expiry on its own clock: only a clear that mattered must agree.
				if okM {
					require.True(t, okR, "trace %d step %d: clear", tr, i)
				}
			}
		}
		require.NoError(t, red.FlushIndex(ctx))
		for _, q := range []budget.LoopQuery{{Limit: 1000}, {ClientID: "a"}, {ClientID: "b"}, {ClientID: "c"}} {
			pm, err := mem.LoopEvents(ctx, q)
			require.NoError(t, err)
			pr, err := red.LoopEvents(ctx, q)
			require.NoError(t, err)
			require.Equal(t, pm, pr, "trace %d events %+v", tr, q)
		}
		for _, c := range clients {
			um, am, err := mem.LoopState(ctx, c, now)
			require.NoError(t, err)
			ur, ar, err := red.LoopState(ctx, c, now)
			require.NoError(t, err)
			require.Equal(t, [2]any{um, am}, [2]any{ur, ar}, "trace %d state of %s", tr, c)
		}
		require.NoError(t, red.Close())
	}
	t.Logf("verdicts: %v", verdicts)
	for _, k := range []string{"loop=true cooldown=false admitted=false", "loop=true cooldown=false admitted=true",
		"loop=true cooldown=true admitted=false", "loop=true cooldown=true admitted=true", "loop=false cooldown=false admitted=true",
		"loop=false cooldown=false admitted=false"} {
		require.Positive(t, verdicts[k], "the traces never produced %q", k)
	}
}
