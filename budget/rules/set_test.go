package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetResolve(t *testing.T) {
	def := Rule{Daily: LimitOf(100)}
	rs, err := NewSet(def, []Rule{
		{Match: "user-*", Daily: LimitOf(1)},
		{Match: "user-vip-*", Daily: LimitOf(2)},
		{ClientID: "user-vip-7", Daily: LimitOf(3)},
		{Match: "u*", Daily: LimitOf(4)},
		{ClientID: "user-*", Daily: LimitOf(5)}, // an exact id that looks like a pattern
	})
	require.NoError(t, err)
	for id, want := range map[string]int64{
		"user-vip-7":  3, // exact beats every pattern
		"user-vip-8":  2, // longest prefix
		"user-1":      1,
		"user-":       1, // the prefix itself matches
		"us":          4,
		"user-*":      5,
		"service":     100, // default
		"":            100,
		"USER-1":      100, // case-sensitive
		"user-vip-7x": 2,
	} {
		require.Equal(t, want, rs.Resolve(id).Daily.Nano, id)
	}
	require.Equal(t, "user-vip-*", rs.Resolve("user-vip-8").Match)

	star, err := NewSet(def, []Rule{{Match: "*", Daily: LimitOf(9)}, {Match: "a*", Daily: LimitOf(8)}})
	require.NoError(t, err)
	require.Equal(t, int64(9), star.Resolve("zzz").Daily.Nano, `"*" matches everything`)
	require.Equal(t, int64(8), star.Resolve("abc").Daily.Nano)
}

func TestSetImmutable(t *testing.T) {
	in := []Rule{{ClientID: "a", AlertThresholds: []float64{0.5}}}
	rs, err := NewSet(Rule{}, in)
	require.NoError(t, err)
	in[0].AlertThresholds[0] = 0.9
	in[0].ClientID = "b"
	require.Equal(t, []float64{0.5}, rs.Resolve("a").AlertThresholds)
	got := rs.Resolve("a")
	got.AlertThresholds[0] = 0.1
	require.Equal(t, []float64{0.5}, rs.Resolve("a").AlertThresholds)
	all := rs.All()
	all[0].AlertThresholds[0] = 0.2
	require.Equal(t, []float64{0.5}, rs.All()[0].AlertThresholds)
	require.Len(t, rs.All(), 1)
	require.Equal(t, Rule{}, rs.Default())
}

func TestNewSetErrors(t *testing.T) {
	_, err := NewSet(Rule{ClientID: "x", Action: "nope"}, []Rule{
		{ClientID: "a"},
		{ClientID: "a"},
		{Match: "p*"},
		{Match: "p*"},
		{Daily: LimitOf(1)},
		{Match: "bad"},
	})
	require.Error(t, err)
	for _, want := range []string{
		"default rule: action", "default rule: must set neither",
		`rules[1] (client_id "a"): duplicate client_id`,
		`rules[3] (match "p*"): duplicate match pattern`,
		"rules[4]: set client_id or match",
		`rules[5] (match "bad"): match:`,
	} {
		require.ErrorContains(t, err, want)
	}
	rs, err := NewSet(Rule{}, nil)
	require.NoError(t, err)
	require.Empty(t, rs.All())
}
