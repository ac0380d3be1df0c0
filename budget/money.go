package budget

import (
	"math"
	"math/bits"
	"sort"
	"strconv"
)

// MaxAmountNano bounds a single estimate or actual cost (1e15 nano-USD = $1,000,000).
// Anything larger is a pricing bug, and the bound keeps the int64 counters far from overflow.
const MaxAmountNano int64 = 1_000_000_000_000_000

// NanoPerUSD is the number of ledger units in one US dollar.
const NanoPerUSD int64 = 1_000_000_000

// Limit is a spending limit in nano-USD. The zero value means unlimited.
type Limit struct {
	Nano int64
	Set  bool
}

// LimitOf returns a set limit of nano nano-USD.
func LimitOf(nano int64) Limit { return Limit{Nano: nano, Set: true} }

// ppmScale is the fixed-point scale of alert thresholds: 0.8 becomes 800000.
const ppmScale = 1_000_000

// thresholdPPM converts a validated fraction to parts per million, never 0 so that a
// tiny threshold still needs some spend to fire.
func thresholdPPM(f float64) int64 {
	return max(1, int64(math.Round(f*ppmScale)))
}

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

// thresholdMark is one alert threshold of one period, resolved to an integer spend.
type thresholdMark struct {
	kind     PeriodKind
	fraction float64
	ppm      int64
	limit    int64
	amount   int64 // fire when spent >= amount
}

// markKey identifies a fired threshold within a period. It includes the limit so that a
// raised limit alerts again at its own thresholds.
type markKey struct{ ppm, limit int64 }

// field is the mark's Redis hash field, "a|<ppm>|<limit>", set once per period (HSETNX).
func (m thresholdMark) field() string {
	return "a|" + strconv.FormatInt(m.ppm, 10) + "|" + strconv.FormatInt(m.limit, 10)
}

// marks lists the reachable alert thresholds of every set limit of r, day first, each in
// ascending order.
func (r Rule) marks() []thresholdMark {
	if !r.Daily.Set && !r.Monthly.Set {
		return nil
	}
	fs := r.AlertThresholds
	if fs == nil {
		fs = []float64{0.8, 1.0}
	} else if !sort.Float64sAreSorted(fs) {
		fs = append([]float64(nil), fs...)
		sort.Float64s(fs)
	}
	out := make([]thresholdMark, 0, 2*len(fs))
	for _, p := range [...]struct {
		kind  PeriodKind
		limit Limit
	}{{Daily, r.Daily}, {Monthly, r.Monthly}} {
		if !p.limit.Set {
			continue
		}
		for _, f := range fs {
			ppm := thresholdPPM(f)
			amt, ok := thresholdAmount(p.limit.Nano, ppm)
			if !ok {
				continue
			}
			out = append(out, thresholdMark{kind: p.kind, fraction: f, ppm: ppm, limit: p.limit.Nano, amount: amt})
		}
	}
	return out
}

// addSat adds two non-negative amounts without wrapping around.
func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}
