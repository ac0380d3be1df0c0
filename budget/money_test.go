package budget

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/budget/rules"
)

func TestThresholdAmount(t *testing.T) {
	for _, tc := range []struct {
		limit, ppm, want int64
		ok               bool
	}{
		{1000, 800000, 800, true},
		{10, 333333, 4, true}, // ceil(3.33333)
		{0, 1000000, 0, true},
		{math.MaxInt64, 1000000, math.MaxInt64, true},
		{math.MaxInt64, 10000000, 0, false}, // 10× max is unreachable
		{math.MaxInt64 / 2, 2000000, math.MaxInt64 - 1, true},
		{1, 1, 1, true},
	} {
		got, ok := thresholdAmount(tc.limit, tc.ppm)
		require.Equal(t, tc.ok, ok, "%+v", tc)
		if ok {
			require.Equal(t, tc.want, got, "%+v", tc)
		}
	}
	require.Equal(t, int64(1), rules.PPM(1e-9), "a tiny threshold still needs spend")
	require.Equal(t, int64(800000), rules.PPM(0.8))
}

func TestMarks(t *testing.T) {
	r := rules.Rule{Daily: rules.LimitOf(100), Monthly: rules.LimitOf(1000), AlertThresholds: []float64{1, 0.5}}
	ms := Marks(r)
	require.Len(t, ms, 4)
	require.Equal(t, Mark{Kind: Daily, Fraction: 0.5, PPM: 500000, Limit: 100, Amount: 50}, ms[0])
	require.Equal(t, "a|500000|100", ms[0].Field())
	require.Equal(t, Mark{Kind: Monthly, Fraction: 1, PPM: 1000000, Limit: 1000, Amount: 1000}, ms[3])
	require.Equal(t, []float64{1, 0.5}, r.AlertThresholds, "Marks does not reorder the rule")
	require.Empty(t, Marks(rules.Rule{}), "no limits, no alerts")
	require.Len(t, Marks(rules.Rule{Daily: rules.LimitOf(10)}), 2, "the default thresholds")
}
