package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/ledgertest"
	budgetredis "github.com/proxide/proxide/budget/redis"
	"github.com/proxide/proxide/budget/redistest"
	"github.com/proxide/proxide/budget/resilient"
	"github.com/proxide/proxide/budget/rules"
)

// What Redis promises across a failover: replication is asynchronous, so a write the old
// master acknowledged but had not yet sent to its replica when it died is lost (Redis
// Cluster and Sentinel document the same window; WAIT would narrow it at one more round
// trip per settlement). Everything else survives: a settlement that failed or timed out
// is buffered by resilient and replayed, idempotently by id, once the new master serves.
// So the spend lost can be at most what was acknowledged just before the kill — on
// loopback, where the replica is microseconds behind, the tests measure 0.

// TestClusterFailoverUnderLoad SIGKILLs one master of a 3-master, 3-replica cluster while
// six workers reserve and settle for 30 clients spread over every master.
func TestClusterFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node redis cluster")
	}
	c := redistest.StartCluster(t, 3, 1)
	store, err := budgetredis.Open("redis-cluster://"+c.Seeds(), budgetredis.Options{Prefix: "fo"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	victim := c.Masters()[0]
	failoverUnderLoad(t, store, "cluster", victim.Kill)
}

// TestSentinelFailoverUnderLoad SIGKILLs the master of a Sentinel set under the same load;
// the sentinels promote the replica and go-redis's failover client follows them.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sentinel set")
	}
	set := redistest.StartSentinel(t)
	store, err := budgetredis.Open(set.URL(), budgetredis.Options{Prefix: "fo"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	failoverUnderLoad(t, store, "sentinel", set.Master.Kill)
	addr, err := set.MasterAddr()
	require.NoError(t, err)
	require.Equal(t, set.Replica.Addr, addr, "the replica was promoted")
}

func failoverUnderLoad(t *testing.T, store *budgetredis.Store, name string, kill func() error) {
	t.Helper()
	var logs bytes.Buffer
	var logMu sync.Mutex
	r := resilient.New(store, resilient.Options{Mode: resilient.FailClosed, RetryEvery: 50 * time.Millisecond,
		ProbeTimeout: 300 * time.Millisecond, CloseTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))})
	t.Cleanup(func() { _ = r.Close() })
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	rule := rules.Rule{Daily: rules.LimitOf(1e6 * ledgertest.Cent)}
	const clients, workers = 30, 6

	var (
		mu            sync.Mutex
		expected      = map[string]int64{} // settled (acknowledged or buffered)
		ackedAt       []time.Time          // acknowledged settlements, for the loss bound
		refused       int                  // reserves answered with an error (503s)
		buffered      int                  // settlements buffered during the outage
		okAfterKill   time.Time            // every client had a settlement acknowledged after the kill
		ackedAfter    = map[string]bool{}  // clients with one
		killedAt      time.Time
		stop          atomic.Bool
		seq           atomic.Int64
		wg            sync.WaitGroup
		killedFlag    atomic.Bool
		totalRequests atomic.Int64
	)
	call := func(client string) {
		id := fmt.Sprintf("%s-%d", name, seq.Add(1))
		now := time.Now()
		totalRequests.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		a, err := r.Reserve(ctx, budget.ReserveRequest{ID: id, ClientID: client, Rule: rule, Periods: cal.Periods(now),
			EstimateNano: 2 * ledgertest.Cent, Now: now, TTL: 5 * time.Second})
		cancel()
		if err != nil {
			mu.Lock()
			refused++
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // a client backing off, not a test timing
			return
		}
		require.True(t, a.Admitted)
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		res, err := r.Settle(ctx, budget.SettleRequest{ID: id, ClientID: client, Rule: rule, Periods: cal.Periods(now),
			ActualNano: ledgertest.Cent, Model: "gpt-4o-mini", Now: now})
		cancel()
		require.NoError(t, err, "a settlement is applied or buffered, never refused")
		mu.Lock()
		defer mu.Unlock()
		expected[client] += ledgertest.Cent
		if res.Degraded {
			buffered++
			return
		}
		ackedAt = append(ackedAt, time.Now())
		if killedFlag.Load() && okAfterKill.IsZero() {
			ackedAfter[client] = true
			if len(ackedAfter) == clients {
				okAfterKill = time.Now()
			}
		}
	}
	for w := range workers {
		wg.Go(func() {
			for i := w; !stop.Load(); i += workers {
				call(fmt.Sprintf("client-%d", i%clients))
			}
		})
	}
	time.Sleep(time.Second) // load before the failure (the workload's length, not a timing assertion)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	require.NoError(t, kill())
	killedFlag.Store(true)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !okAfterKill.IsZero()
	}, 60*time.Second, 20*time.Millisecond, "the new master serves every client")
	time.Sleep(500 * time.Millisecond) // load after the recovery
	stop.Store(true)
	wg.Wait()
	require.Eventually(t, func() bool { return r.Buffered() == 0 }, 60*time.Second, 20*time.Millisecond, "every buffered settlement replayed")

	var want, got, lost int64
	now := time.Now()
	for client, n := range expected {
		sp, err := store.Spend(context.Background(), client, rule, cal.Periods(now), now)
		require.NoError(t, err)
		require.LessOrEqual(t, sp.Day.SpentNano, n, "%s: never charged twice", client)
		want += n
		got += sp.Day.SpentNano
		lost += n - sp.Day.SpentNano
	}
	// The bound: settlements acknowledged in the last second before the kill.
	var window int64
	for _, at := range ackedAt {
		if at.Before(killedAt) && killedAt.Sub(at) < time.Second {
			window += ledgertest.Cent
		}
	}
	t.Logf("%s failover under load: %d requests, %d refused (503) and %d settlements buffered during it, "+
		"recovered (every client acknowledged again) %s after the SIGKILL; spend expected %d, stored %d, lost %d nano-USD (bound: %d acknowledged in the second before the kill)",
		name, totalRequests.Load(), refused, buffered, okAfterKill.Sub(killedAt).Round(time.Millisecond), want, got, lost, window)
	require.LessOrEqual(t, lost, window, "nothing lost beyond Redis's asynchronous-replication window")
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
