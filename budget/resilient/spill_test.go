package resilient_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// spillRule has every field the stored form must keep: limits, nil vs empty thresholds,
// loop overrides.
var spillRule = rules.Rule{ClientID: "c", Daily: rules.LimitOf(100 * ledgertest.Cent), Monthly: rules.LimitOf(900 * ledgertest.Cent),
	AlertThresholds: []float64{}, Loop: rules.LoopSettings{Mode: "alert", Window: 90 * time.Second}, Admission: rules.AdmissionStrict}

// TestSpillPastMemory: past MaxBuffered, settlements go to disk instead of being lost;
// Close keeps what it could not flush there, and the next process replays all of it,
// exactly once.
func TestSpillPastMemory(t *testing.T) {
	dir := t.TempDir()
	inner := newFlaky()
	var logs syncBuffer
	r, err := resilient.Open(inner, resilient.Options{Logger: quietLogger(&logs), RetryEvery: time.Hour, MaxBuffered: 2,
		CloseTimeout: 50 * time.Millisecond, SpillDir: dir})
	require.NoError(t, err)
	f := fixture(t, inner, r)
	f.Reserve("r0", "c", spillRule, 10*ledgertest.Cent)
	inner.down.Store(true)

	_, err = resilient.Open(inner, resilient.Options{SpillDir: dir})
	require.ErrorContains(t, err, "in use by another process")

	for i := range 7 {
		res := f.Settle(fmt.Sprintf("r%d", i), "c", spillRule, int64(i+1)*ledgertest.Cent)
		require.True(t, res.Degraded, "settlement %d kept, not lost", i)
	}
	require.Equal(t, 7, r.Buffered())
	require.NotContains(t, logs.String(), "LOST")
	err = r.Close()
	require.ErrorContains(t, err, "7 settlements not flushed (kept in")
	require.False(t, inner.closed.Load())

	// The next process, the store back: everything is replayed from disk, once.
	inner.down.Store(false)
	logs.Reset()
	r2, err := resilient.Open(inner, resilient.Options{Logger: quietLogger(&logs), RetryEvery: time.Hour, MaxBuffered: 2, SpillDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r2.Close() })
	require.Equal(t, 7, r2.Buffered())
	require.Contains(t, logs.String(), "left by a previous process")
	require.NoError(t, r2.Flush(t.Context()))
	require.Zero(t, r2.Buffered())
	f.RequireSpend("c", spillRule, 28*ledgertest.Cent, 0, 28*ledgertest.Cent, 0) // 1+…+7
	require.Equal(t, int64(7), f.Spend("c", spillRule).Today.Requests)
	require.Empty(t, segments(t, dir), "replayed segments are removed")

	// Replaying twice changes nothing (a process killed between a replay and the
	// segment's removal).
	res, err := r2.Settle(t.Context(), f.SettleReq("r3", "c", spillRule, 4*ledgertest.Cent))
	require.NoError(t, err)
	require.True(t, res.Duplicate)
}

// TestSpillDrainedFromMemory: when memory held every buffered settlement, the segment is
// removed once they are replayed (nothing is replayed twice), and new outages start a new one.
func TestSpillDrainedFromMemory(t *testing.T) {
	dir := t.TempDir()
	inner := newFlaky()
	r, err := resilient.Open(inner, resilient.Options{Logger: quietLogger(&syncBuffer{}), RetryEvery: time.Hour, SpillDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	f := fixture(t, inner, r)
	for round := range 2 {
		inner.down.Store(true)
		for i := range 3 {
			f.Settle(fmt.Sprintf("%d-%d", round, i), "c", rules.Rule{}, ledgertest.Cent)
		}
		require.Len(t, segments(t, dir), 1)
		inner.down.Store(false)
		require.NoError(t, r.Flush(t.Context()))
		require.Zero(t, r.Buffered())
		require.Empty(t, segments(t, dir))
	}
	f.RequireSpend("c", rules.Rule{}, 6*ledgertest.Cent, 0, 6*ledgertest.Cent, 0)
}

// TestSpillSurvivesSIGKILL buffers settlements in a child process whose Redis is down,
// kills it with SIGKILL (no Close, no flush), and starts a new ledger on the same spill
// directory with Redis up: every settlement the child acknowledged lands once.
func TestSpillSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process and redis-server")
	}
	srv := redistest.StartServer(t, redistest.Options{})
	dir := t.TempDir()
	const n = 300
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSpillChild$") //nolint:gosec // G204: this test binary
	cmd.Env = append(os.Environ(), "SPILL_CHILD_DIR="+dir, "SPILL_CHILD_N="+strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	acked := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "acked ") {
			acked, err = strconv.Atoi(strings.TrimPrefix(sc.Text(), "acked "))
			require.NoError(t, err)
			break
		}
	}
	require.Equal(t, n, acked, "the child acknowledged every settlement")
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: nothing runs after it
	_ = cmd.Wait()                         // "signal: killed" is the point

	store, err := budgetredis.Open("redis://"+srv.Addr+"/0", budgetredis.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	r, err := resilient.Open(store, resilient.Options{Logger: quietLogger(&syncBuffer{}), RetryEvery: time.Hour, SpillDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	require.Equal(t, n, r.Buffered())
	require.NoError(t, r.Flush(t.Context()))
	f := ledgertest.NewFixture(t, store, "UTC", childNow)
	f.RequireSpend("c", spillRule, n*ledgertest.Cent, 0, n*ledgertest.Cent, 0)
	require.Equal(t, int64(n), f.Spend("c", spillRule).Today.Requests)
}

var childNow = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// TestSpillChild is the child of TestSpillSurvivesSIGKILL (it does nothing on its own):
// it settles N requests against a store that is down, prints how many were acknowledged,
// and waits to be killed.
func TestSpillChild(t *testing.T) {
	dir := os.Getenv("SPILL_CHILD_DIR")
	if dir == "" {
		t.Skip("child process of TestSpillSurvivesSIGKILL")
	}
	n, err := strconv.Atoi(os.Getenv("SPILL_CHILD_N"))
	require.NoError(t, err)
	r, err := resilient.Open(downLedger{}, resilient.Options{Logger: quietLogger(&syncBuffer{}), RetryEvery: time.Hour,
		MaxBuffered: n / 3, SpillDir: dir})
	require.NoError(t, err)
	cal, err := budget.NewCalendar("UTC")
	require.NoError(t, err)
	acked := 0
	for i := range n {
		res, err := r.Settle(context.Background(), budget.SettleRequest{ID: fmt.Sprintf("k%d", i), ClientID: "c", Rule: spillRule,
			Periods: cal.Periods(childNow), ActualNano: ledgertest.Cent, Model: "gpt-4o-mini", Now: childNow})
		if err == nil && res.Degraded {
			acked++
		}
	}
	fmt.Printf("acked %d\n", acked) //nolint:forbidigo // the parent reads it
	time.Sleep(time.Minute)         // killed by the parent long before
}

// downLedger is a store that is down for every call (the child cannot even connect).
type downLedger struct{ budget.Ledger }

func (downLedger) Settle(context.Context, budget.SettleRequest) (budget.SettleResult, error) {
	return budget.SettleResult{}, fmt.Errorf("%w: connection refused", budget.ErrUnavailable)
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "settle-*.jsonl"))
	require.NoError(t, err)
	return m
}
