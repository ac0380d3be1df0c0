package budget

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/redistest"
)

func TestRuleKeyStringAndParse(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want string
	}{
		{Rule{ClientID: "user-12345"}, "client:user-12345"},
		{Rule{ClientID: "client:x"}, "client:client:x"},
		{Rule{ClientID: "default"}, "client:default"},
		{Rule{Match: "user-*"}, "match:user-*"},
		{Rule{Match: "*"}, "match:*"},
		{Rule{}, "default"},
		{Rule{Daily: LimitOf(5)}, "default"},
	} {
		k := tc.rule.Key()
		require.Equal(t, tc.want, k.String())
		back, err := ParseRuleKey(k.String())
		require.NoError(t, err, tc.want)
		require.Equal(t, k, back)
	}
	require.Empty(t, RuleKey{}.String())
	for _, bad := range []string{"", "Default", "client:", "match:", "match:user-", "client:a\x00", "user-1", "id:x",
		"client:" + strings.Repeat("x", MaxClientIDBytes+1)} {
		_, err := ParseRuleKey(bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
}

func TestRuleStoreCap(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	m.maxRules = 3
	client := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = client.Close() })
	r, err := NewRedis(client, RedisOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	r.maxRules = 3
	ctx := context.Background()
	for name, s := range map[string]RuleStore{"memory": m, "redis": r} {
		for i := range 3 {
			_, err := s.PutRule(ctx, Rule{ClientID: fmt.Sprint(i)})
			require.NoError(t, err, name)
		}
		v, err := s.RulesVersion(ctx)
		require.NoError(t, err)
		_, err = s.PutRule(ctx, Rule{ClientID: "one-too-many"})
		require.ErrorIs(t, err, ErrInvalid, name)
		v2, err := s.RulesVersion(ctx)
		require.NoError(t, err)
		require.Equal(t, v, v2, "%s: a refused put changes nothing", name)
		created, err := s.PutRule(ctx, Rule{ClientID: "1", Daily: LimitOf(1)})
		require.NoError(t, err, "%s: updating an existing rule is fine at the cap", name)
		require.False(t, created)
		_, err = s.DeleteRule(ctx, RuleKey{ClientID: "0"})
		require.NoError(t, err)
		_, err = s.PutRule(ctx, Rule{ClientID: "one-too-many"})
		require.NoError(t, err, "%s: room again after a delete", name)
	}
}

func TestDecodeRule(t *testing.T) {
	r := Rule{Match: "a*", Monthly: LimitOf(9), AlertThresholds: []float64{}}
	v, err := encodeRule(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"match":"a*","monthly_limit_nano":9,"alert_thresholds":[]}`, v)
	got, err := decodeRule("match:a*", v)
	require.NoError(t, err)
	require.Equal(t, r, got)
	_, err = decodeRule("match:b*", v)
	require.Error(t, err, "stored under another key")
	_, err = decodeRule("match:a*", `{"match":"a*","monthly_limit_nano":1.5}`)
	require.Error(t, err)
}
