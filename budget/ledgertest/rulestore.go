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
	"github.com/proxide/proxide/budget/rules"
)

// StoreFactory returns a new, empty rule store for one test.
type StoreFactory func(t *testing.T) rules.Store

// RunRuleStore runs the RuleStore contract against stores made by newStore.
func RunRuleStore(t *testing.T, newStore StoreFactory) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s rules.Store)
	}{
		{"CRUDAndVersions", testRuleCRUD},
		{"RoundTripFidelity", testRuleFidelity},
		{"InvalidStoresNothing", testRuleInvalid},
		{"ConcurrentPuts", testRuleConcurrentPuts},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func version(t *testing.T, s rules.Store) int64 {
	t.Helper()
	v, err := s.RulesVersion(context.Background())
	require.NoError(t, err)
	return v
}

func testRuleCRUD(t *testing.T, s rules.Store) {
	ctx := context.Background()
	stored, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Empty(t, stored)

	user := rules.Rule{ClientID: "user-12345", Daily: rules.LimitOf(50 * Cent), Monthly: rules.LimitOf(500 * Cent)}
	v0 := version(t, s)
	created, err := s.PutRule(ctx, user)
	require.NoError(t, err)
	require.True(t, created)
	v1 := version(t, s)
	require.NotEqual(t, v0, v1, "a put changes the version")

	got, ok, err := s.GetRule(ctx, rules.Key{ClientID: "user-12345"})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, user, got)

	user.Daily = rules.LimitOf(60 * Cent)
	created, err = s.PutRule(ctx, user)
	require.NoError(t, err)
	require.False(t, created, "upsert of an existing key")
	v2 := version(t, s)
	require.NotEqual(t, v1, v2)
	got, _, err = s.GetRule(ctx, user.Key())
	require.NoError(t, err)
	require.Equal(t, 60*Cent, got.Daily.Nano)

	// Same content again still bumps the version: every write does.
	_, err = s.PutRule(ctx, user)
	require.NoError(t, err)
	v3 := version(t, s)
	require.NotEqual(t, v2, v3)

	for _, r := range []rules.Rule{
		{Match: "user-*", Daily: rules.LimitOf(Cent)},
		{Daily: rules.LimitOf(2 * Cent), Action: rules.ActionAlert}, // the default rule
		{ClientID: "a-client", Monthly: rules.LimitOf(Cent)},
		{Match: "*", Daily: rules.LimitOf(3 * Cent)},
		{ClientID: "user-*"}, // an exact id that looks like a pattern
	} {
		created, err := s.PutRule(ctx, r)
		require.NoError(t, err)
		require.True(t, created, "%+v", r)
	}
	stored, err = s.ListRules(ctx)
	require.NoError(t, err)
	var keys []string
	for _, r := range stored {
		keys = append(keys, r.Key().String())
	}
	require.Equal(t, []string{"default", "match:*", "match:user-*", "client:a-client", "client:user-*", "client:user-12345"}, keys,
		"default first, then patterns, then client ids, each by key string")

	def, ok, err := s.GetRule(ctx, rules.Key{Default: true})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, rules.ActionAlert, def.Action)

	v4 := version(t, s)
	deleted, err := s.DeleteRule(ctx, rules.Key{Match: "user-*"})
	require.NoError(t, err)
	require.True(t, deleted)
	v5 := version(t, s)
	require.NotEqual(t, v4, v5)
	_, ok, err = s.GetRule(ctx, rules.Key{Match: "user-*"})
	require.NoError(t, err)
	require.False(t, ok)
	deleted, err = s.DeleteRule(ctx, rules.Key{Match: "user-*"})
	require.NoError(t, err)
	require.False(t, deleted)
	require.Equal(t, v5, version(t, s), "deleting nothing leaves the version alone")

	_, ok, err = s.GetRule(ctx, rules.Key{ClientID: "nobody"})
	require.NoError(t, err)
	require.False(t, ok)
	stored, err = s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, stored, 5)
}

func testRuleFidelity(t *testing.T, s rules.Store) {
	ctx := context.Background()
	for _, r := range []rules.Rule{
		{ClientID: "nil-thresholds", Daily: rules.LimitOf(1)},
		{ClientID: "no-thresholds", Daily: rules.LimitOf(1), AlertThresholds: []float64{}},
		{ClientID: "own-thresholds", Monthly: rules.LimitOf(7), AlertThresholds: []float64{0.5, 0.9, 2}},
		{ClientID: "zero-limit", Daily: rules.LimitOf(0)},
		{ClientID: "unlimited"},
		{ClientID: "max-limit", Daily: rules.LimitOf(rules.MaxLimitNano), Monthly: rules.LimitOf(rules.MaxLimitNano - 1)},
		{ClientID: "alert", Daily: rules.LimitOf(5), Action: rules.ActionAlert},
		{ClientID: "explicit-block", Action: rules.ActionBlock},
		{ClientID: "ünïcode {braces} :colons: \"quotes\" | pipes"},
		{ClientID: strings.Repeat("x", rules.MaxClientIDBytes)},
		{Match: "tenant-{a}*", Monthly: rules.LimitOf(3)},
		{ClientID: "loop-off", Loop: rules.LoopSettings{Mode: rules.LoopModeOff}},
		{ClientID: "loop-full", Daily: rules.LimitOf(9), Loop: rules.LoopSettings{Mode: rules.LoopModeAlert,
			Window: 90 * time.Second, MaxRepeats: 12, Similarity: 0.875, Cooldown: 7*24*time.Hour - time.Millisecond}},
		{Match: "eval-*", Loop: rules.LoopSettings{Similarity: 1}},
		{Loop: rules.LoopSettings{Mode: rules.LoopModeBlock, Window: time.Millisecond}},
	} {
		_, err := s.PutRule(ctx, r)
		require.NoError(t, err, "%+v", r)
		got, ok, err := s.GetRule(ctx, r.Key())
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, r, got, "stored exactly: nil vs empty thresholds, unset vs zero limits")
	}
	stored, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, stored, 15)
	for _, r := range stored {
		if r.ClientID == "no-thresholds" {
			require.NotNil(t, r.AlertThresholds)
			require.Empty(t, r.AlertThresholds)
		}
		if r.ClientID == "nil-thresholds" {
			require.Nil(t, r.AlertThresholds)
		}
	}
}

func testRuleInvalid(t *testing.T, s rules.Store) {
	ctx := context.Background()
	_, err := s.PutRule(ctx, rules.Rule{ClientID: "keep", Daily: rules.LimitOf(1)})
	require.NoError(t, err)
	v := version(t, s)
	for name, r := range map[string]rules.Rule{
		"both id and match":   {ClientID: "a", Match: "a*"},
		"negative daily":      {ClientID: "a", Daily: rules.LimitOf(-1)},
		"negative monthly":    {ClientID: "a", Monthly: rules.LimitOf(-1)},
		"absurd limit":        {ClientID: "a", Daily: rules.LimitOf(rules.MaxLimitNano + 1)},
		"unknown action":      {ClientID: "a", Action: "shout"},
		"NaN threshold":       {ClientID: "a", AlertThresholds: []float64{math.NaN()}},
		"Inf threshold":       {ClientID: "a", AlertThresholds: []float64{math.Inf(1)}},
		"threshold too big":   {ClientID: "a", AlertThresholds: []float64{11}},
		"duplicate threshold": {ClientID: "a", AlertThresholds: []float64{0.5, 0.5}},
		"id too long":         {ClientID: strings.Repeat("x", rules.MaxClientIDBytes+1)},
		"control character":   {ClientID: "a\nb"},
		"invalid UTF-8":       {ClientID: "a\xffb"},
		"pattern without *":   {Match: "user-"},
		"two stars":           {Match: "u*er-*"},
		"default too":         {Daily: rules.LimitOf(-5)},
		"loop mode":           {ClientID: "a", Loop: rules.LoopSettings{Mode: "shout"}},
		"loop window":         {ClientID: "a", Loop: rules.LoopSettings{Window: -time.Second}},
		"loop sub-ms window":  {ClientID: "a", Loop: rules.LoopSettings{Window: time.Microsecond}},
		"loop max_repeats":    {ClientID: "a", Loop: rules.LoopSettings{MaxRepeats: 32}},
		"loop similarity":     {ClientID: "a", Loop: rules.LoopSettings{Similarity: math.NaN()}},
		"loop cooldown":       {ClientID: "a", Loop: rules.LoopSettings{Cooldown: 8 * 24 * time.Hour}},
	} {
		_, err := s.PutRule(ctx, r)
		require.ErrorIs(t, err, budget.ErrInvalid, name)
	}
	for name, k := range map[string]rules.Key{
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
	stored, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Equal(t, []rules.Rule{{ClientID: "keep", Daily: rules.LimitOf(1)}}, stored)
}

func testRuleConcurrentPuts(t *testing.T, s rules.Store) {
	ctx := context.Background()
	const n = 40
	_, err := s.PutRule(ctx, rules.Rule{ClientID: "seed"}) // a store may seed its first version
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
			for _, r := range []rules.Rule{
				{ClientID: fmt.Sprintf("c-%d", i), Daily: rules.LimitOf(int64(i))},
				{ClientID: "shared", Daily: rules.LimitOf(int64(i))},
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
	stored, err := s.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, stored, n+2)
	require.Equal(t, v0+2*n, version(t, s), "each of the %d writes bumped the version once", 2*n)
}

// RunRuleStoreCap checks the cap on stored rules on a store whose cap was lowered to 3:
// a new key past it is refused and changes nothing, an existing key can still change.
func RunRuleStoreCap(t *testing.T, s rules.Store) {
	ctx := context.Background()
	for i := range 3 {
		_, err := s.PutRule(ctx, rules.Rule{ClientID: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	v := version(t, s)
	_, err := s.PutRule(ctx, rules.Rule{ClientID: "one-too-many"})
	require.ErrorIs(t, err, budget.ErrInvalid)
	require.Equal(t, v, version(t, s), "a refused put changes nothing")
	created, err := s.PutRule(ctx, rules.Rule{ClientID: "1", Daily: rules.LimitOf(1)})
	require.NoError(t, err, "updating an existing rule is fine at the cap")
	require.False(t, created)
	_, err = s.DeleteRule(ctx, rules.Key{ClientID: "0"})
	require.NoError(t, err)
	_, err = s.PutRule(ctx, rules.Rule{ClientID: "one-too-many"})
	require.NoError(t, err, "room again after a delete")
}
