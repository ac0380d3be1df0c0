package budget

import (
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/proxide/proxide/budget/rules"
)

// MaxAmountNano bounds a single estimate or actual cost (1e15 nano-USD = $1,000,000).
// Anything larger is a pricing bug, and the bound keeps the int64 counters far from overflow.
const MaxAmountNano int64 = 1_000_000_000_000_000

// ppmScale is rules.PPM's fixed-point scale: 0.8 is 800000 parts per million.
const ppmScale = 1_000_000

// thresholdAmount is the smallest spend s with s*1e6 >= limit*ppm, i.e. ceil(limit*ppm/1e6),
// computed in 128 bits. ok is false when that spend is beyond int64 and can never be reached.
func thresholdAmount(limit, ppm int64) (amount int64, ok bool) {
	if limit < 0 || ppm < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(limit), uint64(ppm))
	lo, carry := bits.Add64(lo, ppmScale-1, 0)
	hi += carry
	if hi >= ppmScale { // quotient would not fit in 64 bits
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, ppmScale)
	if q > math.MaxInt64 {
		return 0, false
	}
	return int64(q), true
}

// Mark is one alert threshold of one period, resolved to an integer spend: it fires once
// per period when the period's settled spend reaches Amount.
type Mark struct {
	Kind     PeriodKind
	Fraction float64
	PPM      int64
	Limit    int64
	Amount   int64
}

// Field is the mark's Redis hash field, "a|<ppm>|<limit>", set once per period (HSETNX).
// It includes the limit so that a raised limit alerts again at its own thresholds.
func (m Mark) Field() string {
	return "a|" + strconv.FormatInt(m.PPM, 10) + "|" + strconv.FormatInt(m.Limit, 10)
}

// Marks lists the reachable alert thresholds of every set limit of r, day first, each in
// ascending order.
func Marks(r rules.Rule) []Mark {
	if !r.Daily.Set && !r.Monthly.Set {
		return nil
	}
	fs := r.AlertThresholds
	def := rules.DefaultThresholds()
	if fs == nil {
		fs = def[:]
	} else if !slices.IsSorted(fs) {
		fs = slices.Sorted(slices.Values(fs))
	}
	out := make([]Mark, 0, 2*len(fs))
	for _, p := range [...]struct {
		kind  PeriodKind
		limit rules.Limit
	}{{Daily, r.Daily}, {Monthly, r.Monthly}} {
		if !p.limit.Set {
			continue
		}
		for _, f := range fs {
			ppm := rules.PPM(f)
			amt, ok := thresholdAmount(p.limit.Nano, ppm)
			if !ok {
				continue
			}
			out = append(out, Mark{Kind: p.kind, Fraction: f, PPM: ppm, Limit: p.limit.Nano, Amount: amt})
		}
	}
	return out
}

// AddSat adds two non-negative amounts without wrapping around.
func AddSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}
