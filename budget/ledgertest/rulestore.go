package ledgertest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget"
)

// StoreFactory returns a new, empty rule store for one test.
type StoreFactory func(t *testing.T) budget.RuleStore

// RunRuleStore runs the RuleStore contract against stores made by newStore.
func RunRuleStore(t *testing.T, newStore StoreFactory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s budget.RuleStore)
	}{
		{"CRUDAndVersions", testRuleCRUD},
		{"RoundTripFidelity", testRuleFidelity},
		{"InvalidStoresNothing", testRuleInvalid},
		{"ConcurrentPuts", testRuleConcurrentPuts},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func version(t *testing.T, s budget.RuleStore) int64 {
	t.Helper()
	v, err := s.RulesVersion(context.Background())
	require.NoError(t, err)
	return v
}

func testRuleCRUD(t *testing.T, s budget.RuleStore) {
	ctx := context.Background()
	rules, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Empty(t, rules)

	user := budget.Rule{ClientID: "user-12345", Daily: budget.LimitOf(50 * Cent), Monthly: budget.LimitOf(500 * Cent)}
	v0 := version(t, s)
	created, err := s.PutRule(ctx, user)
	require.NoError(t, err)
	require.True(t, created)
	v1 := version(t, s)
	require.NotEqual(t, v0, v1, "a put changes the version")

	got, ok, err := s.GetRule(ctx, budget.RuleKey{ClientID: "user-12345"})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, user, got)

	user.Daily = budget.LimitOf(60 * Cent)
	created, err = s.PutRule(ctx, user)
	require.NoError(t, err)
	require.False(t, created, "upsert of an existing key")
	v2 := version(t, s)
	require.NotEqual(t, v1, v2)
	got, _, err = s.GetRule(ctx, user.Key())
	require.NoError(t, err)
	require.Equal(t, int64(60*Cent), got.Daily.Nano)

	// Same content again still bumps the version: every write does.
	_, err = s.PutRule(ctx, user)
	require.NoError(t, err)
	v3 := version(t, s)
	require.NotEqual(t, v2, v3)

	for _, r := range []budget.Rule{
		{Match: "user-*", Daily: budget.LimitOf(Cent)},
		{Daily: budget.LimitOf(2 * Cent), Action: budget.ActionAlert}, // the default rule
		{ClientID: "a-client", Monthly: budget.LimitOf(Cent)},
		{Match: "*", Daily: budget.LimitOf(3 * Cent)},
		{ClientID: "user-*"}, // an exact id that looks like a pattern
	} {
		created, err := s.PutRule(ctx, r)
		require.NoError(t, err)
		require.True(t, created, "%+v", r)
	}
	rules, err = s.ListRules(ctx)
	require.NoError(t, err)
	var keys []string
	for _, r := range rules {
		keys = append(keys, r.Key().String())
	}
	require.Equal(t, []string{"default", "match:*", "match:user-*", "client:a-client", "client:user-*", "client:user-12345"}, keys,
		"default first, then patterns, then client ids, each by key string")

	def, ok, err := s.GetRule(ctx, budget.RuleKey{Default: true})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, budget.ActionAlert, def.Action)

	v4 := version(t, s)
	deleted, err := s.DeleteRule(ctx, budget.RuleKey{Match: "user-*"})
	require.NoError(t, err)
	require.True(t, deleted)
	v5 := version(t, s)
	require.NotEqual(t, v4, v5)
	_, ok, err = s.GetRule(ctx, budget.RuleKey{Match: "user-*"})
	require.NoError(t, err)
	require.False(t, ok)
	deleted, err = s.DeleteRule(ctx, budget.RuleKey{Match: "user-*"})
	require.NoError(t, err)
	require.False(t, deleted)
	require.Equal(t, v5, version(t, s), "deleting nothing leaves the version alone")

	_, ok, err = s.GetRule(ctx, budget.RuleKey{ClientID: "nobody"})
	require.NoError(t, err)
	require.False(t, ok)
	rules, err = s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, rules, 5)
}

func testRuleFidelity(t *testing.T, s budget.RuleStore) {
	ctx := context.Background()
	for _, r := range []budget.Rule{
		{ClientID: "nil-thresholds", Daily: budget.LimitOf(1)},
		{ClientID: "no-thresholds", Daily: budget.LimitOf(1), AlertThresholds: []float64{}},
		{ClientID: "own-thresholds", Monthly: budget.LimitOf(7), AlertThresholds: []float64{0.5, 0.9, 2}},
		{ClientID: "zero-limit", Daily: budget.LimitOf(0)},
		{ClientID: "unlimited"},
		{ClientID: "max-limit", Daily: budget.LimitOf(budget.MaxLimitNano), Monthly: budget.LimitOf(budget.MaxLimitNano - 1)},
		{ClientID: "alert", Daily: budget.LimitOf(5), Action: budget.ActionAlert},
		{ClientID: "explicit-block", Action: budget.ActionBlock},
		{ClientID: "ünïcode {braces} :colons: \"quotes\" | pipes"},
		{ClientID: strings.Repeat("x", budget.MaxClientIDBytes)},
		{Match: "tenant-{a}*", Monthly: budget.LimitOf(3)},
		{ClientID: "loop-off", Loop: budget.LoopSettings{Mode: budget.LoopModeOff}},
		{ClientID: "loop-full", Daily: budget.LimitOf(9), Loop: budget.LoopSettings{Mode: budget.LoopModeAlert,
			Window: 90 * time.Second, MaxRepeats: 12, Similarity: 0.875, Cooldown: 7*24*time.Hour - time.Millisecond}},
		{Match: "eval-*", Loop: budget.LoopSettings{Similarity: 1}},
		{Loop: budget.LoopSettings{Mode: budget.LoopModeBlock, Window: time.Millisecond}},
	} {
		_, err := s.PutRule(ctx, r)
		require.NoError(t, err, "%+v", r)
		got, ok, err := s.GetRule(ctx, r.Key())
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, r, got, "stored exactly: nil vs empty thresholds, unset vs zero limits")
	}
	rules, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, rules, 15)
	for _, r := range rules {
		if r.ClientID == "no-thresholds" {
			require.NotNil(t, r.AlertThresholds)
			require.Empty(t, r.AlertThresholds)
		}
		if r.ClientID == "nil-thresholds" {
			require.Nil(t, r.AlertThresholds)
		}
	}
}

func testRuleInvalid(t *testing.T, s budget.RuleStore) {
	ctx := context.Background()
	_, err := s.PutRule(ctx, budget.Rule{ClientID: "keep", Daily: budget.LimitOf(1)})
	require.NoError(t, err)
	v := version(t, s)
	for name, r := range map[string]budget.Rule{
		"both id and match":   {ClientID: "a", Match: "a*"},
		"negative daily":      {ClientID: "a", Daily: budget.LimitOf(-1)},
		"negative monthly":    {ClientID: "a", Monthly: budget.LimitOf(-1)},
		"absurd limit":        {ClientID: "a", Daily: budget.LimitOf(budget.MaxLimitNano + 1)},
		"unknown action":      {ClientID: "a", Action: "shout"},
		"NaN threshold":       {ClientID: "a", AlertThresholds: []float64{math.NaN()}},
		"Inf threshold":       {ClientID: "a", AlertThresholds: []float64{math.Inf(1)}},
		"threshold too big":   {ClientID: "a", AlertThresholds: []float64{11}},
		"duplicate threshold": {ClientID: "a", AlertThresholds: []float64{0.5, 0.5}},
		"id too long":         {ClientID: strings.Repeat("x", budget.MaxClientIDBytes+1)},
		"control character":   {ClientID: "a\nb"},
		"invalid UTF-8":       {ClientID: "a\xffb"},
		"pattern without *":   {Match: "user-"},
		"two stars":           {Match: "u*er-*"},
		"default too":         {Daily: budget.LimitOf(-5)},
		"loop mode":           {ClientID: "a", Loop: budget.LoopSettings{Mode: "shout"}},
		"loop window":         {ClientID: "a", Loop: budget.LoopSettings{Window: -time.Second}},
		"loop sub-ms window":  {ClientID: "a", Loop: budget.LoopSettings{Window: time.Microsecond}},
		"loop max_repeats":    {ClientID: "a", Loop: budget.LoopSettings{MaxRepeats: 32}},
		"loop similarity":     {ClientID: "a", Loop: budget.LoopSettings{Similarity: math.NaN()}},
		"loop cooldown":       {ClientID: "a", Loop: budget.LoopSettings{Cooldown: 8 * 24 * time.Hour}},
	} {
		_, err := s.PutRule(ctx, r)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
	for name, k := range map[string]budget.RuleKey{
		"zero key":       {},
		"two parts":      {ClientID: "a", Match: "a*"},
		"default and id": {ClientID: "a", Default: true},
		"bad pattern":    {Match: "a"},
		"bad id":         {ClientID: "a\x00"},
	} {
		_, _, err := s.GetRule(ctx, k)
		require.ErrorIs(t, err, budget.ErrInvalid, "get %s", name)
		_, err = s.DeleteRule(ctx, k)
		require.ErrorIs(t, err, budget.ErrInvalid, "delete %s", name)
	}
	require.Equal(t, v, version(t, s), "nothing was written")
	rules, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Equal(t, []budget.Rule{{ClientID: "keep", Daily: budget.LimitOf(1)}}, rules)
}

func testRuleConcurrentPuts(t *testing.T, s budget.RuleStore) {
	ctx := context.Background()
	const n = 40
	_, err := s.PutRule(ctx, budget.Rule{ClientID: "seed"}) // a store may seed its first version
	require.NoError(t, err)
	v0 := version(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	var mu sync.Mutex
	createdCount := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every goroutine writes its own key and one shared key.
			for _, r := range []budget.Rule{
				{ClientID: fmt.Sprintf("c-%d", i), Daily: budget.LimitOf(int64(i))},
				{ClientID: "shared", Daily: budget.LimitOf(int64(i))},
			} {
				created, err := s.PutRule(ctx, r)
				if err != nil {
					errs <- err
					return
				}
				if created {
					mu.Lock()
					createdCount++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, n+1, createdCount, "the shared key is created exactly once")
	rules, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, rules, n+2)
	require.Equal(t, v0+2*n, version(t, s), "each of the %d writes bumped the version once", 2*n)
}
