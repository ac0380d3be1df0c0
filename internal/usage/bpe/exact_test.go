package bpe

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCountMatchesTiktoken compares counts and token ids with tiktoken-go's
// EncodeOrdinary on the whole corpus, for both encodings.
func TestCountMatchesTiktoken(t *testing.T) {
	fx := loadFixtures(t)
	for _, src := range testCorpus(t) {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range encodingNames {
				var diffs []string
				for i, text := range src.texts {
					if (testing.Short() || raceEnabled) && i%20 != 0 {
						continue
					}
					if d := fx[name].diff(text); d != "" {
						diffs = append(diffs, d)
					}
				}
				if len(diffs) > 0 {
					t.Errorf("%d of %d texts differ, first ones:\n%s", len(diffs), len(src.texts),
						strings.Join(diffs[:min(len(diffs), 20)], "\n"))
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	_, err := Load("p50k_base")
	require.ErrorIs(t, err, ErrUnknownEncoding)
	for _, name := range encodingNames {
		e, err := Load(name)
		require.NoError(t, err)
		require.Equal(t, name, e.Name())
		require.Equal(t, 0, e.Count(""))
	}
}

// TestCountAllocs: counting allocates nothing, long pieces included, once
// the heap merge's pooled buffers exist.
func TestCountAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	fx := loadFixtures(t)
	text := strings.Repeat("Hello, world! Here's some text: 日本語のテキスト, 😀 and code {\"a\": [1, 2]}.\n", 40) +
		strings.Repeat("x", 500)
	for _, name := range encodingNames {
		e := fx[name].enc
		e.Count(text)
		require.Zero(t, testing.AllocsPerRun(20, func() { e.Count(text) }), name)
	}
}

// TestCountConcurrent shares encodings between goroutines, long pieces
// (pooled buffers) included; meaningful under -race.
func TestCountConcurrent(t *testing.T) {
	fx := loadFixtures(t)
	texts := []string{"Hello, world!", strings.Repeat("日本語", 50), strings.Repeat("ab", 400), "x\xff y"}
	want := map[string][]int{}
	for _, name := range encodingNames {
		for _, s := range texts {
			want[name] = append(want[name], fx[name].enc.Count(s))
		}
	}
	errs := make(chan string, 8)
	for g := range 8 {
		go func() {
			name := encodingNames[g%2]
			for range 50 {
				for i, s := range texts {
					if got := fx[name].enc.Count(s); got != want[name][i] {
						errs <- name + ": count changed under concurrency"
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for range 8 {
		require.Empty(t, <-errs)
	}
}

// TestMergeLargeMatchesSmall: the heap merge agrees with the rescanning one
// on every piece of the synthetic texts short enough for both.
func TestMergeLargeMatchesSmall(t *testing.T) {
	fx := loadFixtures(t)
	for _, name := range encodingNames {
		e := fx[name].enc
		n := 0
		for _, text := range fragmentTexts() {
			for _, piece := range fx[name].pieces(text) {
				if len(piece) < 2 || len(piece) > smallPiece {
					continue
				}
				var small, large []int
				require.Equal(t, e.mergeSmall(piece, &small), e.mergeLarge(piece, &large), "%s %q", name, piece)
				require.Equal(t, small, large, "%s %q", name, piece)
				n++
			}
		}
		require.Greater(t, n, 10000, name)
	}
}
