package bpe

import (
	"math"
	"testing"
)

// TestLargeLen checks the bound of mergeLarge's uint32 positions.
func TestLargeLen(t *testing.T) {
	for _, c := range []struct {
		n    int
		want uint32
		ok   bool
	}{
		{0, 0, true},
		{smallPiece + 1, smallPiece + 1, true},
		{math.MaxInt32, math.MaxInt32, true},
		{-1, 0, false},
	} {
		if got, ok := largeLen(c.n); got != c.want || ok != c.ok {
			t.Errorf("largeLen(%d) = %d, %v; want %d, %v", c.n, got, ok, c.want, c.ok)
		}
	}
	if n := math.MaxInt32; n+1 > n { // int is 64 bits wide
		if _, ok := largeLen(n + 1); ok {
			t.Errorf("largeLen(%d) fits", n+1)
		}
	}
}
