package bpe

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/stretchr/testify/require"
)

// The reference is tiktoken-go's EncodeOrdinary, what usage.CountTokens
// called before this package.

var encodingNames = []string{O200kBase, CL100kBase}

// fixture is one encoding with its reference, built once per test binary.
type fixture struct {
	enc *Encoding
	tik *tiktoken.Tiktoken
}

var (
	fixturesOnce sync.Once
	fixtures     map[string]*fixture
	fixturesErr  error
)

func loadFixtures(tb testing.TB) map[string]*fixture {
	tb.Helper()
	fixturesOnce.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		fixtures = map[string]*fixture{}
		for _, name := range encodingNames {
			f := &fixture{}
			if f.enc, fixturesErr = Load(name); fixturesErr != nil {
				return
			}
			if f.tik, fixturesErr = tiktoken.GetEncoding(name); fixturesErr != nil {
				return
			}
			fixtures[name] = f
		}
	})
	require.NoError(tb, fixturesErr)
	return fixtures
}

// pieces splits text with the hand-written splitter, invalid UTF-8 read as
// U+FFFD as encode does.
func (f *fixture) pieces(text string) []string {
	var out []string
	for p := 0; p < len(text); {
		end := f.enc.next(text, p)
		out = append(out, string([]rune(text[p:end])))
		p = end
	}
	return out
}

// diff reports how text's count and token ids differ from tiktoken-go's,
// showing the tokens where they part, or "" when they agree.
func (f *fixture) diff(text string) string {
	want := f.tik.EncodeOrdinary(text)
	var got []int
	n := f.enc.encode(text, &got)
	count := f.enc.Count(text)
	if n == len(want) && count == n && slices.Equal(got, want) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: count %d (ids %d), want %d", f.enc.Name(), count, n, len(want))
	at := 0
	for at < min(len(got), len(want)) && got[at] == want[at] {
		at++
	}
	fmt.Fprintf(&b, "; from token %d, got %q, want %q", at, f.tokens(got[at:]), f.tokens(want[at:]))
	clip := text
	if len(clip) > 300 {
		clip = clip[:300] + "…"
	}
	fmt.Fprintf(&b, "; pieces %q; text %q", f.pieces(clip), clip)
	return b.String()
}

// tokens decodes the first few ids one by one.
func (f *fixture) tokens(ids []int) []string {
	var out []string
	for _, id := range ids[:min(len(ids), 6)] {
		out = append(out, f.tik.Decode([]int{id}))
	}
	return out
}
