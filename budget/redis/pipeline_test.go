package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
)

// incr is a script that counts its runs in KEYS[1] and returns {count,
// ARGV[1]}: the caller's own argument back, so a reply given to the wrong
// caller shows.
var incr = goredis.NewScript(`return {redis.call('INCR', KEYS[1]), ARGV[1]}`)

func newTestPipeline(t *testing.T) (*pipeline, *goredis.Client, *roundTrips) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = c.Close() })
	rt := &roundTrips{c: c}
	c.AddHook(rt)
	p := newPipeline(c)
	t.Cleanup(p.close)
	return p, c, rt
}

// runConcurrently runs n calls of incr on key at once and returns their replies.
func runConcurrently(t *testing.T, p *pipeline, key string, n int) []int64 {
	t.Helper()
	var wg sync.WaitGroup
	got := make([]int64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			mine := strconv.Itoa(i)
			v, err := p.run(ctx, incr, []string{key}, []any{mine})
			errs[i] = err
			if err == nil {
				got[i] = v[0].(int64)
				if len(v) != 2 || v[1] != mine {
					errs[i] = fmt.Errorf("call %s got the reply %v", mine, v)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
	return got
}

func TestPipelineBatchesConcurrentCalls(t *testing.T) {
	p, c, rt := newTestPipeline(t)
	require.NoError(t, incr.Load(context.Background(), c).Err())
	const n = 2000
	before := rt.n.Load()
	got := runConcurrently(t, p, "k", n)

	// Every call ran exactly once and got its own reply.
	seen := make(map[int64]bool, n)
	for _, v := range got {
		require.False(t, seen[v], "reply %d twice", v)
		seen[v] = true
	}
	total, err := c.Get(context.Background(), "k").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(n), total)
	// More calls than directCalls were in flight at once, so most went in
	// shared pipelines: far fewer round trips than calls.
	trips := rt.n.Load() - before
	require.Less(t, trips, int64(n/2), "round trips for %d concurrent calls", n)
	t.Logf("%d concurrent calls in %d round trips", n, trips)
}

func TestPipelineReloadsLostScripts(t *testing.T) {
	p, c, _ := newTestPipeline(t)
	ctx := context.Background()
	require.NoError(t, incr.Load(ctx, c).Err())
	for round := range 3 {
		// A restarted or failed-over Redis has lost its scripts: the batched
		// EVALSHAs fail with NOSCRIPT and go again as EVAL.
		require.NoError(t, c.ScriptFlush(ctx).Err())
		key := "k" + strconv.Itoa(round)
		runConcurrently(t, p, key, 500)
		total, err := c.Get(ctx, key).Int64()
		require.NoError(t, err)
		require.Equal(t, int64(500), total, "round %d", round)
	}
}

// TestPipelineBatchReloadsLostScripts drives a batch straight through exec
// (a direct call would reload the script first): one script of the batch is
// loaded, the other lost, so the NOSCRIPT calls go again as EVAL.
func TestPipelineBatchReloadsLostScripts(t *testing.T) {
	p, c, _ := newTestPipeline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other := goredis.NewScript(`return {redis.call('INCR', KEYS[1]), 'other'}`)
	require.NoError(t, c.ScriptFlush(ctx).Err())
	require.NoError(t, other.Load(ctx, c).Err())
	mk := func(s *goredis.Script, arg string) *scriptCall {
		return &scriptCall{ctx: ctx, script: s, keys: []string{"lost"}, args: []any{arg}, sent: make(chan struct{}, 1)}
	}
	calls := []*scriptCall{mk(incr, "a"), mk(other, ""), mk(incr, "b")}
	p.exec(slices.Clone(calls))
	for i, want := range []string{"a", "other", "b"} {
		<-calls[i].sent
		v, err := calls[i].cmd.Slice()
		require.NoError(t, err, "call %d", i)
		require.Equal(t, want, v[1], "call %d", i)
	}
	loaded, err := c.ScriptExists(ctx, incr.Hash()).Result()
	require.NoError(t, err)
	require.Equal(t, []bool{true}, loaded, "EVAL loaded the lost script")
	total, err := c.Get(ctx, "lost").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(3), total, "each call ran once")
}

// TestPipelineCloseStrandsNoCall: callers racing close each get a reply or
// ErrClosed; none is left queued after the senders stopped (it would wait
// forever: these calls have no deadline), and once closed every call fails.
func TestPipelineCloseStrandsNoCall(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = c.Close() })
	for range 100 {
		p := newPipeline(c)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					if _, err := p.run(context.Background(), incr, []string{"race"}, []any{"x"}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		p.close() // at once, while the callers are making their first calls
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a call queued while the pipeline closed was never sent")
		}
		close(errs)
		for err := range errs {
			require.ErrorIs(t, err, goredis.ErrClosed)
		}
		// Once closed, even a call alone (which would go directly) fails.
		_, err := p.run(context.Background(), incr, []string{"race"}, nil)
		require.ErrorIs(t, err, goredis.ErrClosed)
	}
}

func TestPipelineSkipsCallsWhoseContextEnded(t *testing.T) {
	p, c, _ := newTestPipeline(t)
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	live, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	mk := func(ctx context.Context) *scriptCall {
		return &scriptCall{ctx: ctx, script: incr, keys: []string{"k"}, sent: make(chan struct{}, 1)}
	}
	batch := []*scriptCall{mk(live), mk(gone), mk(live)}
	calls := append([]*scriptCall(nil), batch...)
	p.exec(batch)
	for i, call := range calls {
		<-call.sent
		if i == 1 {
			require.ErrorIs(t, call.cmd.Err(), context.Canceled)
			continue
		}
		require.NoError(t, call.cmd.Err())
	}
	total, err := c.Get(ctx, "k").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(2), total, "the cancelled call was not sent")

	// A call made with an ended context is refused before it is queued.
	_, err = p.run(gone, incr, []string{"k"}, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestPipelineCloseSendsQueuedCalls(t *testing.T) {
	p, c, _ := newTestPipeline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Queue calls with no sender running, then close: they are sent, not dropped.
	p.close()
	p2 := &pipeline{c: c, calls: make(chan *scriptCall, 8), stop: make(chan struct{})}
	var calls []*scriptCall
	for range 5 {
		call := &scriptCall{ctx: ctx, script: incr, keys: []string{"q"}, sent: make(chan struct{}, 1)}
		p2.calls <- call
		calls = append(calls, call)
	}
	p2.done.Add(1)
	go p2.send()
	p2.close()
	for _, call := range calls {
		select {
		case <-call.sent:
			require.NoError(t, call.cmd.Err())
		default:
			t.Fatal("a queued call was not sent before close returned")
		}
	}
	total, err := c.Get(ctx, "q").Int64()
	require.NoError(t, err)
	require.Equal(t, int64(5), total)

	// After close, a call that cannot run directly fails instead of waiting.
	for range directCalls {
		p2.inFlight.Add(1)
	}
	_, err = p2.run(ctx, incr, []string{"q"}, nil)
	require.ErrorIs(t, err, goredis.ErrClosed)
}
