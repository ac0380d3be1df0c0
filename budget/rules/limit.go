package rules

import "math"

// NanoPerUSD is the number of ledger units (nano-USD) in one US dollar.
const NanoPerUSD int64 = 1_000_000_000

// MaxLimitUSD is the largest limit a rule may set, in dollars: anything above is a typo,
// not a budget, and the bound keeps the ledger's sums far from overflow.
const MaxLimitUSD = 1e9

// MaxLimitNano is MaxLimitUSD in nano-USD.
const MaxLimitNano = int64(MaxLimitUSD) * NanoPerUSD

// Limit is a spending limit in nano-USD. The zero value means unlimited.
type Limit struct {
	Nano int64
	Set  bool
}

// LimitOf returns a set limit of nano nano-USD.
func LimitOf(nano int64) Limit { return Limit{Nano: nano, Set: true} }

// limitFromUSD is the one conversion of a limit in dollars (the config file, the REST API,
// the gRPC *_usd fields): rounded to the nano-dollar, within [0, MaxLimitUSD]. field names
// the key for the error.
func limitFromUSD(field string, usd float64) (Limit, error) {
	switch {
	case math.IsNaN(usd) || math.IsInf(usd, 0):
		return Limit{}, fieldErr(field, "must be a finite number")
	case usd < 0:
		return Limit{}, fieldErr(field, "must not be negative (got %g)", usd)
	case usd > MaxLimitUSD:
		return Limit{}, fieldErr(field, "must be at most %.0f USD (got %g)", MaxLimitUSD, usd)
	}
	return LimitOf(int64(math.Round(usd * float64(NanoPerUSD)))), nil
}

// limitFromNano takes an exact limit in nano-USD (the gRPC *_nano fields).
func limitFromNano(field string, nano int64) (Limit, error) {
	if nano < 0 || nano > MaxLimitNano {
		return Limit{}, fieldErr(field, "must be in [0, %d] (got %d)", MaxLimitNano, nano)
	}
	return LimitOf(nano), nil
}

// checkLimit reports a set limit outside [0, MaxLimitNano]; field is the dollar key of the
// config file and the REST API.
func checkLimit(field string, l Limit) error {
	switch {
	case !l.Set:
		return nil
	case l.Nano < 0:
		return fieldErr(field, "must not be negative (got %d nano-USD)", l.Nano)
	case l.Nano > MaxLimitNano:
		return fieldErr(field, "%d nano-USD is above the maximum of %.0f USD", l.Nano, MaxLimitUSD)
	}
	return nil
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
