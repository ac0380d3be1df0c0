package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flakyStore is a Memory rule store that fails while down is set.
type flakyStore struct {
	*Memory
	down atomic.Bool
}

var errDown = errors.New("store down")

func (f *flakyStore) RulesVersion(ctx context.Context) (int64, error) {
	if f.down.Load() {
		return 0, unavailable("rules version", errDown)
	}
	return f.Memory.RulesVersion(ctx)
}

func (f *flakyStore) ListRules(ctx context.Context) ([]Rule, error) {
	if f.down.Load() {
		return nil, unavailable("list rules", errDown)
	}
	return f.Memory.ListRules(ctx)
}

func TestDynamicRulesOutages(t *testing.T) {
	ctx := context.Background()
	s := &flakyStore{Memory: NewMemory(MemoryOptions{})}
	_, err := s.PutRule(ctx, Rule{ClientID: "c", Daily: LimitOf(1)})
	require.NoError(t, err)
	s.down.Store(true)
	file, err := NewRules(Rule{Daily: LimitOf(100)}, []Rule{{ClientID: "c", Daily: LimitOf(50)}})
	require.NoError(t, err)
	var changes atomic.Int64
	d, err := NewDynamicRules(ctx, DynamicRulesOptions{File: file, Store: s, Refresh: 5 * time.Millisecond, OnChange: func() { changes.Add(1) }})
	require.NoError(t, err, "an unreachable store is not an error")
	t.Cleanup(d.Close)
	require.Equal(t, int64(50), d.Resolve("c").Daily.Nano, "starts with the file rules")
	require.Equal(t, SourceFile, d.Source(RuleKey{ClientID: "c"}))

	s.down.Store(false)
	require.Eventually(t, func() bool { return d.Resolve("c").Daily.Nano == 1 }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return changes.Load() == 1 }, 5*time.Second, time.Millisecond)

	// Down again: the loaded rules stay in force, Refresh reports the outage.
	s.down.Store(true)
	err = d.Refresh(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, errDown)
	require.Equal(t, int64(1), d.Resolve("c").Daily.Nano)
	require.Equal(t, SourceAPI, d.Source(RuleKey{ClientID: "c"}))
	s.down.Store(false)

	// A write that leaves the effective set as it was (same rule again) is no change.
	_, err = s.PutRule(ctx, Rule{ClientID: "c", Daily: LimitOf(1)})
	require.NoError(t, err)
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, int64(1), changes.Load())
}

func TestDynamicRulesWithoutStore(t *testing.T) {
	ctx := context.Background()
	d, err := NewDynamicRules(ctx, DynamicRulesOptions{})
	require.NoError(t, err)
	require.Equal(t, Rule{}, d.Resolve("anyone"), "nil File: the unlimited default rule")
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, []Rule{{}}, d.Effective())
	require.Equal(t, SourceFile, d.Source(RuleKey{Default: true}))
	d.Close()
	d.Close()

	_, err = NewDynamicRules(ctx, DynamicRulesOptions{Refresh: -time.Second})
	require.ErrorIs(t, err, ErrInvalid)
}

// TestDynamicRulesResolveAllocs: the hot path allocates nothing for a rule without
// custom thresholds (only Rules.Resolve's copy of a thresholds slice would).
func TestDynamicRulesResolveAllocs(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	for _, r := range []Rule{{ClientID: "a", Daily: LimitOf(1)}, {Match: "user-*", Daily: LimitOf(2)}} {
		_, err := m.PutRule(ctx, r)
		require.NoError(t, err)
	}
	d, err := NewDynamicRules(ctx, DynamicRulesOptions{Store: m, Refresh: time.Hour})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	for _, id := range []string{"a", "user-7", "other"} {
		require.Zero(t, testing.AllocsPerRun(100, func() { _ = d.Resolve(id) }), id)
	}
}

// TestDynamicRulesConcurrent resolves while rules change (run with -race).
func TestDynamicRulesConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	d, err := NewDynamicRules(ctx, DynamicRulesOptions{Store: m, Refresh: time.Millisecond})
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
		_, err := m.PutRule(ctx, Rule{ClientID: "c", Daily: LimitOf(i)})
		require.NoError(t, err)
		require.NoError(t, d.Refresh(ctx))
		require.Equal(t, i, d.Resolve("c").Daily.Nano)
	}
	close(stop)
	wg.Wait()
}
