package bpe

// The tests in this file compare the pre-splitter with regexp2 itself, the
// engine tiktoken-go runs the patterns with: the pieces, the character
// classes of every code point, and case folding. They are the only
// importers of github.com/dlclark/regexp2 (a dependency of tiktoken-go),
// which go.mod lists as indirect: `go mod tidy` moves it to direct.

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/dlclark/regexp2"
	"github.com/stretchr/testify/require"
)

// patterns are tiktoken-go v0.1.8's (encoding.go).
var patterns = map[string]string{
	O200kBase: strings.Join([]string{
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`,
		`\p{N}{1,3}`,
		` ?[^\s\p{L}\p{N}]+[\r\n/]*`,
		`\s*[\r\n]+`,
		`\s+(?!\S)`,
		`\s+`,
	}, "|"),
	CL100kBase: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
}

// refRegexps are the patterns compiled as tiktoken-go compiles them.
var refRegexps = sync.OnceValue(func() map[string]*regexp2.Regexp {
	out := map[string]*regexp2.Regexp{}
	for name, pat := range patterns {
		out[name] = regexp2.MustCompile(pat, regexp2.None)
	}
	return out
})

// refPieces splits text with f's pattern as tiktoken-go does: regexp2 over
// []rune(text), pieces rebuilt from the runes.
func refPieces(f *fixture, text string) []string {
	re := refRegexps()[f.enc.Name()]
	runes := []rune(text)
	var out []string
	m, _ := re.FindRunesMatch(runes)
	for m != nil {
		out = append(out, string(runes[m.Index:m.Index+m.Length]))
		m, _ = re.FindNextMatch(m)
	}
	return out
}

// TestPiecesMatchRegexp2 compares the pieces of the whole corpus.
func TestPiecesMatchRegexp2(t *testing.T) {
	fx := loadFixtures(t)
	for _, src := range testCorpus(t) {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range encodingNames {
				bad := 0
				for i, text := range src.texts {
					if (testing.Short() || raceEnabled) && i%20 != 0 {
						continue
					}
					if want, got := refPieces(fx[name], text), fx[name].pieces(text); !slices.Equal(want, got) {
						bad++
						if bad <= 10 {
							t.Errorf("%s: pieces of %q:\n got %q\nwant %q", name, text, got, want)
						}
					}
				}
			}
		})
	}
}

// TestClassesMatchRegexp2 checks every code point's classes against the
// character classes as regexp2 itself matches them.
func TestClassesMatchRegexp2(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("sweeps all of Unicode")
	}
	var all []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r < 0xd800 || r > 0xdfff { // []rune(string) never holds surrogates
			all = append(all, r)
		}
	}
	table := newClassTable()
	var text strings.Builder
	for _, r := range all {
		text.WriteRune(r)
	}
	for _, tc := range []struct {
		re   string
		want class
	}{
		{`[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+`, cUpper},
		{`[\p{Ll}\p{Lm}\p{Lo}\p{M}]+`, cLower},
		{`\p{L}+`, cLetter},
		{`\p{N}+`, cNumber},
		{`\s+`, cSpace},
		{`[\r\n]+`, cNewline},
		{`[^\r\n\p{L}\p{N}]+`, cPrefix},
		{`[^\s\p{L}\p{N}]+`, cOther},
	} {
		re := regexp2.MustCompile(tc.re, regexp2.None)
		in := make([]bool, len(all))
		m, err := re.FindRunesMatch(all)
		for ; m != nil; m, err = re.FindNextMatch(m) {
			for i := m.Index; i < m.Index+m.Length; i++ {
				in[i] = true
			}
		}
		require.NoError(t, err)
		for i, r := range all {
			got := classify(r)&tc.want != 0
			if r < 1<<16 {
				c, _ := table.at(string(r), 0)
				got = c&tc.want != 0
			}
			if got != in[i] {
				t.Fatalf("%s on %U: regexp2 says %v, classes %v", tc.re, r, in[i], got)
			}
		}
	}
}

// TestContractionFolding checks the case-insensitive contractions against
// regexp2 for every rune that folds to, or lower-cases to, a letter they use.
func TestContractionFolding(t *testing.T) {
	re := regexp2.MustCompile(`^(?i:'s|'t|'re|'ve|'m|'ll|'d)`, regexp2.None)
	var candidates []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r < 0x80 || strings.ContainsRune("stremvld'", unicode.ToLower(r)) {
			candidates = append(candidates, r)
		}
	}
	for _, c := range "stremvld'STREMVLD" {
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			candidates = append(candidates, f)
		}
	}
	for _, a := range candidates {
		for _, b := range append(slices.Clone(candidates), 'x') {
			s := "'" + string(a) + string(b)
			m, err := re.FindStringMatch(s)
			require.NoError(t, err)
			want := 0
			if m != nil {
				want = len(string([]rune(s)[:m.Length]))
			}
			require.Equal(t, want, contraction(s, 0), "%q", s)
		}
	}
}

// TestPieces spells out pieces the patterns are easy to get wrong on.
func TestPieces(t *testing.T) {
	fx := loadFixtures(t)
	for _, tc := range []struct {
		enc, text string
		want      []string
	}{
		{O200kBase, "Hello world", []string{"Hello", " world"}},
		{O200kBase, "HELLO world", []string{"HELLO", " world"}},
		{O200kBase, "HelloWorld", []string{"Hello", "World"}},
		{O200kBase, "don't DON'T", []string{"don't", " DON'T"}},
		{O200kBase, "\u0301ABC", []string{"\u0301", "ABC"}},
		{O200kBase, "1234567", []string{"123", "456", "7"}},
		{O200kBase, "a  b", []string{"a", " ", " b"}},
		{O200kBase, "a  \n\n  b", []string{"a", "  \n\n", " ", " b"}},
		{O200kBase, "x   ", []string{"x", "   "}},
		{O200kBase, "}\n/x", []string{"}\n/", "x"}},
		{CL100kBase, "}\n/x", []string{"}\n", "/x"}},
		{CL100kBase, "'sam", []string{"'s", "am"}},
		{CL100kBase, "e\u0301", []string{"e", "\u0301"}},
		{CL100kBase, "\tfoo", []string{"\tfoo"}},
	} {
		require.Equal(t, tc.want, refPieces(fx[tc.enc], tc.text), "reference, %s %q", tc.enc, tc.text)
		require.Equal(t, tc.want, fx[tc.enc].pieces(tc.text), "%s %q", tc.enc, tc.text)
	}
}
