package usage

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCountCacheSlots(t *testing.T) {
	c := NewCountCache()
	const h = uint64(0xabcdef0123456789)
	sameSlotOtherText := h ^ 1<<63 // same index bits, another tag
	for _, tc := range []struct {
		name  string
		put   uint64
		n     int
		get   uint64
		want  int
		found bool
	}{
		{"empty slot misses", 0, -1, h, 0, false},
		{"a hit returns the count", h, 1234, h, 1234, true},
		{"another text in the same slot misses", h, 1234, sameSlotOtherText, 0, false},
		{"the largest count fits", h, maxCached, h, maxCached, true},
		{"a count too large is not cached", h, maxCached + 1, h, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &CountCache{seed: c.seed}
			if tc.n >= 0 {
				c.put(tc.put, tc.n)
			}
			n, ok := c.get(tc.get)
			require.Equal(t, tc.found, ok)
			require.Equal(t, tc.want, n)
		})
	}
}

// A cached count is the count: for both encodings (the same text counts
// differently in each), first and second time, from many goroutines at once
// (run with -race), with more texts than the cache has slots so that slots
// are overwritten while others read them.
func TestCountCacheCountIsExact(t *testing.T) {
	cache := NewCountCache()
	enc, err := encodingNamed(encO200k)
	require.NoError(t, err)
	cl, err := encodingNamed(encCL100k)
	require.NoError(t, err)
	texts := make([]string, 3<<countIndexBits/2)
	for i := range texts {
		texts[i] = fmt.Sprintf("message %d: ", i) + strings.Repeat("the quick brown fox jumps over the lazy dog 1234 ", 6+i%7)
	}
	want := func(model, s string) int64 {
		if encodingName(model) == encCL100k {
			return int64(cl.Count(s))
		}
		return int64(enc.Count(s))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 2 {
				for i := w; i < len(texts); i += 2 {
					for _, model := range []string{"gpt-4o", "gpt-4"} {
						if got, exp := cache.Count(model, texts[i]), want(model, texts[i]); got != exp {
							select {
							case errs <- fmt.Sprintf("round %d, %s, text %d: %d tokens, want %d", round, model, i, got, exp):
							default:
							}
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// A nil cache is no cache, and short texts are counted every time.
func TestCountCacheNilAndShort(t *testing.T) {
	var none *CountCache
	text := strings.Repeat("a longer text that would be cached ", 20)
	require.Equal(t, CountTokens("gpt-4o", text), none.Count("gpt-4o", text))
	c := NewCountCache()
	require.Equal(t, CountTokens("gpt-4o", "short"), c.Count("gpt-4o", "short"))
	for i := range c.slots {
		require.Zero(t, c.slots[i].Load(), "a short text is not cached")
	}
}
