package rules_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
	"github.com/proxide/proxide/budget/memory"
	"github.com/proxide/proxide/budget/rules"
)

// flakyStore is a memory rule store that fails while down is set.
type flakyStore struct {
	*memory.Store
	down atomic.Bool
}

var errDown = errors.New("store down")

func (f *flakyStore) RulesVersion(ctx context.Context) (int64, error) {
	if f.down.Load() {
		return 0, fmt.Errorf("%w: rules version: %w", budget.ErrUnavailable, errDown)
	}
	return f.Store.RulesVersion(ctx)
}

func (f *flakyStore) ListRules(ctx context.Context) ([]rules.Rule, error) {
	if f.down.Load() {
		return nil, fmt.Errorf("%w: list rules: %w", budget.ErrUnavailable, errDown)
	}
	return f.Store.ListRules(ctx)
}

func TestDynamicOutages(t *testing.T) {
	ctx := context.Background()
	s := &flakyStore{Store: memory.New(memory.Options{})}
	_, err := s.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(1)})
	require.NoError(t, err)
	s.down.Store(true)
	file, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(100)}, []rules.Rule{{ClientID: "c", Daily: rules.LimitOf(50)}})
	require.NoError(t, err)
	var changes atomic.Int64
	d, err := rules.NewDynamic(ctx, rules.DynamicOptions{File: file, Store: s, Refresh: 5 * time.Millisecond, OnChange: func() { changes.Add(1) }})
	require.NoError(t, err, "an unreachable store is not an error")
	t.Cleanup(d.Close)
	require.Equal(t, int64(50), d.Resolve("c").Daily.Nano, "starts with the file rules")
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{ClientID: "c"}))

	s.down.Store(false)
	require.Eventually(t, func() bool { return d.Resolve("c").Daily.Nano == 1 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return changes.Load() == 1 }, 5*time.Second, time.Millisecond)

	// Down again: the loaded rules stay in force, Refresh reports the outage.
	s.down.Store(true)
	err = d.Refresh(ctx)
	require.ErrorIs(t, err, budget.ErrUnavailable)
	require.ErrorIs(t, err, errDown)
	require.Equal(t, int64(1), d.Resolve("c").Daily.Nano)
	require.Equal(t, rules.SourceAPI, d.Source(rules.Key{ClientID: "c"}))
	s.down.Store(false)

	// A write that leaves the effective set as it was (same rule again) is no change.
	_, err = s.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(1)})
	require.NoError(t, err)
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, int64(1), changes.Load())
}

func TestDynamicWithoutStore(t *testing.T) {
	ctx := context.Background()
	d, err := rules.NewDynamic(ctx, rules.DynamicOptions{})
	require.NoError(t, err)
	require.Equal(t, rules.Rule{}, d.Resolve("anyone"), "nil File: the unlimited default rule")
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, []rules.Rule{{}}, d.Effective())
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{Default: true}))
	d.Close()
	d.Close()

	_, err = rules.NewDynamic(ctx, rules.DynamicOptions{Refresh: -time.Second})
	require.ErrorContains(t, err, "refresh -1s is negative")
}

// TestDynamicRulesResolveAllocs: the hot path allocates nothing for a rule without
// custom thresholds (only Set.Resolve's copy of a thresholds slice would).
func TestDynamicResolveAllocs(t *testing.T) {
	ctx := context.Background()
	m := memory.New(memory.Options{})
	for _, r := range []rules.Rule{{ClientID: "a", Daily: rules.LimitOf(1)}, {Match: "user-*", Daily: rules.LimitOf(2)}} {
		_, err := m.PutRule(ctx, r)
		require.NoError(t, err)
	}
	d, err := rules.NewDynamic(ctx, rules.DynamicOptions{Store: m, Refresh: time.Hour})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	for _, id := range []string{"a", "user-7", "other"} {
		require.Zero(t, testing.AllocsPerRun(100, func() { _ = d.Resolve(id) }), id)
	}
}

// TestDynamicRulesConcurrent resolves while rules change (run with -race).
func TestDynamicConcurrent(t *testing.T) {
	ctx := context.Background()
	m := memory.New(memory.Options{})
	d, err := rules.NewDynamic(ctx, rules.DynamicOptions{Store: m, Refresh: time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					r := d.Resolve("c")
					if r.ClientID != "" && r.ClientID != "c" {
						t.Errorf("resolved %+v", r)
					}
				}
			}
		}()
	}
	for i := range int64(50) {
		_, err := m.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(i)})
		require.NoError(t, err)
		require.NoError(t, d.Refresh(ctx))
		require.Equal(t, i, d.Resolve("c").Daily.Nano)
	}
	close(stop)
	wg.Wait()
}
