package ledgertest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/rules"
)

// ReplicaFactory returns two handles on one new, empty rule store, as two sidecar
// replicas would hold them (for Memory, the same instance twice).
type ReplicaFactory func(t *testing.T) (a, b rules.Store)

// RunDynamicRules runs the DynamicRules tests against stores made by newStores.
func RunDynamicRules(t *testing.T, newStores ReplicaFactory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, a, b rules.Store)
	}{
		{"APIOverFile", testAPIOverFile},
		{"RefreshAppliesAtOnce", testRefreshAtOnce},
		{"OtherReplicaWithinOneSecond", testCrossReplica},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newStores(t)
			tc.fn(t, a, b)
		})
	}
}

// fileRules are the config-file rules of the DynamicRules tests.
func fileRules(t *testing.T) *rules.Set {
	rs, err := rules.NewSet(rules.Rule{Daily: rules.LimitOf(100 * Cent)}, []rules.Rule{
		{ClientID: "user-12345", Daily: rules.LimitOf(50 * Cent)},
		{Match: "trial-*", Daily: rules.LimitOf(5 * Cent), Action: rules.ActionAlert},
		{Match: "user-*", Daily: rules.LimitOf(20 * Cent)},
	})
	require.NoError(t, err)
	return rs
}

func newDynamic(t *testing.T, s rules.Store, refresh time.Duration, onChange func()) *rules.Dynamic {
	t.Helper()
	d, err := rules.NewDynamic(context.Background(), rules.DynamicOptions{
		File: fileRules(t), Store: s, Refresh: refresh, OnChange: onChange,
	})
	require.NoError(t, err)
	t.Cleanup(d.Close)
	return d
}

func daily(d *rules.Dynamic, id string) int64 { return d.Resolve(id).Daily.Nano }

func testAPIOverFile(t *testing.T, s, _ rules.Store) {
	ctx := context.Background()
	var changes atomic.Int64
	d := newDynamic(t, s, time.Hour, func() { changes.Add(1) }) // only Refresh reloads
	require.Equal(t, 50*Cent, daily(d, "user-12345"))
	require.Equal(t, 20*Cent, daily(d, "user-9"))
	require.Equal(t, 100*Cent, daily(d, "someone"))
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{ClientID: "user-12345"}))
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{Default: true}))
	require.Empty(t, d.Source(rules.Key{ClientID: "nobody"}))

	for _, r := range []rules.Rule{
		{ClientID: "user-12345", Daily: rules.LimitOf(7 * Cent)}, // same key as a file rule
		{Match: "user-*", Daily: rules.LimitOf(8 * Cent)},        // same pattern as a file rule
		{Daily: rules.LimitOf(9 * Cent)},                         // the default rule
		{ClientID: "vip", Daily: rules.LimitOf(1000 * Cent)},     // new
		{Match: "user-vip-*", Daily: rules.LimitOf(11 * Cent)},   // new, longer prefix
	} {
		_, err := s.PutRule(ctx, r)
		require.NoError(t, err)
	}
	require.Equal(t, 50*Cent, daily(d, "user-12345"), "not applied before a reload")
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, int64(1), changes.Load())
	for id, want := range map[string]int64{
		"user-12345": 7 * Cent,    // API beats the file rule with the same id
		"user-9":     8 * Cent,    // API pattern replaces the file pattern
		"someone":    9 * Cent,    // API default replaces the file default
		"vip":        1000 * Cent, // API-only exact rule
		"user-vip-1": 11 * Cent,   // longest prefix wins across sources
		"trial-1":    5 * Cent,    // file rule without an API twin stays
	} {
		require.Equal(t, want, daily(d, id), id)
	}
	require.Equal(t, rules.ActionAlert, d.Resolve("trial-x").Action)
	require.Equal(t, rules.SourceAPI, d.Source(rules.Key{ClientID: "user-12345"}))
	require.Equal(t, rules.SourceAPI, d.Source(rules.Key{Default: true}))
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{Match: "trial-*"}))

	var keys []string
	for _, r := range d.Effective() {
		keys = append(keys, r.Key().String())
	}
	require.Equal(t, []string{"default", "match:trial-*", "match:user-*", "match:user-vip-*", "client:user-12345", "client:vip"}, keys)
	require.Equal(t, 9*Cent, d.Effective()[0].Daily.Nano)

	// A refresh without a change does not report one.
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, int64(1), changes.Load())

	// Deleting the API rules brings the file rules back.
	for _, k := range []rules.Key{{ClientID: "user-12345"}, {Default: true}, {Match: "user-*"}} {
		ok, err := s.DeleteRule(ctx, k)
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.NoError(t, d.Refresh(ctx))
	require.Equal(t, int64(2), changes.Load())
	require.Equal(t, 50*Cent, daily(d, "user-12345"))
	require.Equal(t, 20*Cent, daily(d, "user-9"))
	require.Equal(t, 100*Cent, daily(d, "someone"))
	require.Equal(t, rules.SourceFile, d.Source(rules.Key{Default: true}))
}

func testRefreshAtOnce(t *testing.T, s, _ rules.Store) {
	ctx := context.Background()
	d := newDynamic(t, s, time.Hour, nil)
	for i := range int64(5) {
		_, err := s.PutRule(ctx, rules.Rule{ClientID: "c", Daily: rules.LimitOf(i)})
		require.NoError(t, err)
		require.NoError(t, d.Refresh(ctx))
		require.Equal(t, i, daily(d, "c"), "visible on the very next Resolve after Refresh")
	}
}

// testCrossReplica: a rule written through one replica is applied by another, which only
// polls, within one second at the default refresh interval.
func testCrossReplica(t *testing.T, a, b rules.Store) {
	ctx := context.Background()
	var changed atomic.Bool
	d1 := newDynamic(t, a, 0, nil)
	d2 := newDynamic(t, b, 0, func() { changed.Store(true) })
	require.Equal(t, 100*Cent, daily(d2, "new-client"))

	_, err := a.PutRule(ctx, rules.Rule{ClientID: "new-client", Daily: rules.LimitOf(3 * Cent)})
	require.NoError(t, err)
	require.NoError(t, d1.Refresh(ctx))
	require.Equal(t, 3*Cent, daily(d1, "new-client"))
	start := time.Now()
	require.Eventually(t, func() bool { return daily(d2, "new-client") == 3*Cent }, time.Second, 5*time.Millisecond)
	t.Logf("applied by the other replica after %v", time.Since(start))
	require.True(t, changed.Load(), "OnChange ran on the polling replica")

	ok, err := b.DeleteRule(ctx, rules.Key{ClientID: "new-client"})
	require.NoError(t, err)
	require.True(t, ok)
	require.Eventually(t, func() bool { return daily(d1, "new-client") == 100*Cent }, time.Second, 5*time.Millisecond)
}
