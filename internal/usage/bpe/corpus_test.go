package bpe

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/internal/loop/corpus"
)

// corpusSource is one part of the exactness corpus.
type corpusSource struct {
	name  string
	texts []string
}

var (
	corpusOnce sync.Once
	corpusSrcs []corpusSource
	corpusErr  error
)

// testCorpus returns the texts the counters are compared on: every string
// of every request body of the loop-detection corpus (and the bodies
// themselves), every file of usage/testdata, and synthetic text covering
// each character class the patterns tell apart.
func testCorpus(tb testing.TB) []corpusSource {
	tb.Helper()
	corpusOnce.Do(func() {
		var loop, files []string
		if loop, corpusErr = loopTexts(filepath.Join("..", "..", "loop", "testdata", "corpus.jsonl.gz")); corpusErr != nil {
			return
		}
		if files, corpusErr = fileTexts(filepath.Join("..", "testdata")); corpusErr != nil {
			return
		}
		corpusSrcs = []corpusSource{
			{"loop corpus", loop},
			{"usage/testdata", files},
			{"fragments", fragmentTexts()},
			{"short strings", shortTexts()},
			{"unicode sweep", sweepTexts()},
			{"categories", categoryTexts()},
		}
	})
	require.NoError(tb, corpusErr)
	return corpusSrcs
}

func loopTexts(path string) ([]string, error) {
	traces, err := corpus.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, tr := range traces {
		for _, req := range tr.Requests {
			seen[string(req.Body)] = true
			var v any
			if err := json.Unmarshal(req.Body, &v); err != nil {
				return nil, err
			}
			jsonStrings(v, seen)
		}
	}
	return sortedKeys(seen), nil
}

func fileTexts(dir string) (texts []string, err error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, root.Close()) }()
	fsys := root.FS() // reads stay inside dir, symlinks or not
	seen := map[string]bool{}
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		seen[string(b)] = true
		for line := range strings.Lines(string(b)) {
			seen[line] = true
			var v any
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &v) == nil {
				jsonStrings(v, seen)
			}
		}
		var v any
		if json.Unmarshal(b, &v) == nil {
			jsonStrings(v, seen)
		}
		return nil
	})
	return sortedKeys(seen), err
}

// jsonStrings adds every string (keys too) under v to seen.
func jsonStrings(v any, seen map[string]bool) {
	switch v := v.(type) {
	case string:
		seen[v] = true
	case []any:
		for _, x := range v {
			jsonStrings(x, seen)
		}
	case map[string]any:
		for k, x := range v {
			seen[k] = true
			jsonStrings(x, seen)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// fragments are snippets of every kind of text the patterns treat
// differently; fragmentTexts strings them together at random.
var fragments = []string{
	// English, contractions in every case, apostrophes that are not contractions
	"Hello, world! How are you today?", "don't", "DON'T", "Don'T", "It's", "IT'S", "we're", "WE'RE", "wE'rE",
	"They've", "THEY'VE", "I'm", "I'M", "you'll", "YOU'LL", "yOu'Ll", "he'd", "HE'D", "'s", "'S", "'t", "'T",
	"'re", "'Re", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'sam", "'RED", "'l", "'r",
	"'v", "O'Neil", "rock'n'roll", "’s", "it’s", "''s", "'ll'll", "x'Ll", "1990's", ")'s", " 's", "\n's",
	"ǅemal's", "ΣΊΣΥΦΟΣ'S", "日本's", "a\u0301's", "'\u017f", "'\u212a", "'İ", "'ſ",
	// case shapes
	"HelloWorld", "iPhone", "XMLHttpRequest", "getHTTPResponseCode", "ÉCOLE", "straße", "ΣΊΣΥΦΟΣ", "Ωmega",
	"ǅ", "ǈ", "ǋ", "ǅemal", "ǅǅa", "AǅB", "ʰʲ", "ªº", "ˈhɛloʊ", "aʰb", "Aʰ", "ʰA", "Aʰb", "ABʰCD", "ABªcd",
	"𝐇𝐞𝐥𝐥𝐨", "𐐀𐐨𐐀", "ＡＢＣａｂｃ", "İstanbul", "ǲ",
	// CJK and other scripts
	"日本語のテキストです。", "中文文本，包括标点符号！", "한국어 텍스트입니다.", "ｶﾀｶﾅ半角", "ー々〆〤",
	"東京タワーは高い", "𠀀𠀁𪚥", "مرحبا بالعالم ١٢٣٤٥٦٧", "مَرْحَبًا", "۱۲۳۴", "\u200fשָׁלוֹם\u200e",
	"नमस्ते दुनिया १२३", "สวัสดีครับ ๑๒๓", "Привет, как дела?", "Ἀθῆναι", "ქართული", "Ꭰꭰ",
	// emoji
	"👍🏽", "👨‍👩‍👧‍👦", "❤️", "🏳️‍🌈", "🇫🇷🇩🇪", "1️⃣", "☺︎", "🙂🙂", "a👍b", "👍a", "\u200d", "\ufe0f",
	// combining marks
	"e\u0301", "a\u0308\u0301", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "\u0301abc", " \u0301", "1\u0301", "\u0301ABC",
	"\u0301\u0301", ".\u0301", "\n\u0301", "A\u0301B", "A\u0301b", "\u20dd", "\u0903",
	// digits in many scripts
	"٠١٢٣٤٥٦٧٨٩", "०१२३", "০১২", "๐๑๒", "①②③", "Ⅻ ⅻ", "½¾", "𝟎𝟏𝟐𝟑", "¹²³", "１２３４５", "1234567890",
	"3.14159", "1,000,000", "-42", "1e10", "0x1F", "12:30", "2025-06-01", "v1.2.3", "a1b2c3", "A123b",
	// whitespace of every kind
	" ", "  ", "   ", "\t", "\t\t", "\n", "\r\n", "\r", "\n\n", "\r\n\r\n", " \n ", "\n \n", "\u00a0", "\u00a0\u00a0",
	"\u2003", "\u3000", "\u2028", "\u2029", "\u0085", "\v", "\f", "\u200b", "\ufeff", "\u1680", "\u202f", "\u205f",
	"foo   ", "   ", " \t\n", "\t \r\n \t", "\n\t", "\r\r\n", "\u00a0x", "\u3000日本", " \u00a0 a",
	// code
	"for i in range(10):\n    print(i)\n", "if (a && b) { return x->y; }", "#include <stdio.h>\n",
	"// comment\n", "/* block */", "</div>\n", "path/to/file.go", "x += 1;//c", "===", "!==", "=>", "...",
	"```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```", "    return nil\n}\n\n", "}\n/", ")/\n/", "*/\r\n//",
	"...\r\r\n", " ---\n", "}}\n\n", "SELECT * FROM users WHERE id = 42;", "$ ls -la /tmp\r\n",
	"def __init__(self):\r\n\t\tpass", "<a href=\"x\">y</a>", "a_b_c", "__dunder__", "@decorator",
	// JSON
	`{"key": "value", "n": [1, 2.5e-3, null, true]}`, `{"a":{"b":[{"c":"d"}]}}`, `"caf\u00e9"`, `\n\t\"`,
	// base64, hex, URLs
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
	"dGhlIHF1aWNrIGJyb3duIGZveA", "_-_-Zm9v", "deadbeef0123456789abcdef", "sha256:9f86d081884c7d659a2feaa0c55ad015",
	"https://example.com/path/to/page?query=1&x=y#frag", "http://localhost:8080/v1/chat/completions",
	"mailto:a@b.c", "s3://bucket/key", "user@example.com", "C:\\Users\\me\\file.txt",
	// special-token markers, symbols, invalid UTF-8
	"<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>", "<|im_start|>", "©®™°±×÷€£¥₿", "→⇒∀∃∈", "«»„“”‘’",
	"—–-", "…", "\x00", "\x01\x02", "\x7f", "\xff", "\xc3", "\xe6\x97", "\xed\xa0\x80", "\x80abc", "caf\xe9",
	"\xef\xbf\xbd", "a\xffb", " \xff", "\xff's", "\xf0\x9f\x98",
}

var separators = []string{"", "", " ", " ", "  ", "\n", "\r\n", "\t", "\n\n", "'", "'s ", "/", ". ", "\u00a0", "1"}

// fragmentTexts strings fragments together, plus long runs that take the
// heap merge.
func fragmentTexts() []string {
	out := slices.Clone(fragments)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(12) + 1 {
			b.WriteString(fragments[rng.IntN(len(fragments))])
			b.WriteString(separators[rng.IntN(len(separators))])
		}
		out = append(out, b.String())
	}
	for _, unit := range []string{"a", "ab", "=", " ", "\n", "\t", "🙂", "日本", "語", "x1", "Ab", "\u0301", "1", "'s",
		"\u00a0", "aaab", "abc", "zq", "\r\n", " \n"} {
		for _, n := range []int{30, 63, 64, 65, 100, 300, 1000} {
			out = append(out, strings.Repeat(unit, n), "x "+strings.Repeat(unit, n)+" y")
		}
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for n := 40; n <= 3000; n = n*3/2 + 1 {
		raw := make([]byte, n)
		word := make([]byte, n)
		for i := range raw {
			raw[i] = byte(rng.Uint32())
			word[i] = letters[rng.IntN(26)]
		}
		out = append(out, base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
			string(word), strings.ToUpper(string(word)), string(raw))
	}
	return out
}

// shortTexts are all strings of up to three characters over an alphabet
// with one or two members of every class, and of four over a smaller one:
// every interaction of neighbours the patterns look at.
func shortTexts() []string {
	big := []string{"a", "s", "A", "S", "ǅ", "ʰ", "日", "\u0301", "1", "١", "½", " ", "\t", "\n", "\r", "\u00a0",
		"\u3000", "'", "l", "L", "e", "E", ".", "/", "-", "😀", "\u200d", "\xff", "\"", "_", "\u0085", "𝐇", "\u2028"}
	small := []string{"a", "A", "ʰ", "\u0301", "1", " ", "\n", "\r", "'", "s", "l", ".", "/", "\xff"}
	var out []string
	var gen func(alpha []string, prefix string, n int)
	gen = func(alpha []string, prefix string, n int) {
		if n == 0 {
			return
		}
		for _, c := range alpha {
			out = append(out, prefix+c)
			gen(alpha, prefix+c, n-1)
		}
	}
	gen(big, "", 3)
	for _, a := range small {
		for _, b := range small {
			for _, c := range small {
				for _, d := range small {
					out = append(out, a+b+c+d)
				}
			}
		}
	}
	return out
}

// sweepTexts runs through every code point (surrogates excluded), 64 at a
// time, once bare and once with each rune between letters and spaces.
func sweepTexts() []string {
	var out []string
	var bare, ctx strings.Builder
	flush := func() {
		out = append(out, bare.String(), ctx.String())
		bare.Reset()
		ctx.Reset()
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if 0xd800 <= r && r <= 0xdfff {
			continue
		}
		if r > 0x30000 && r < 0xe0000 && r%64 != 0 { // unassigned planes: sample
			continue
		}
		bare.WriteRune(r)
		ctx.WriteString([]string{" ", "a", "A", "'", "1", "\n"}[r%6])
		ctx.WriteRune(r)
		if r%3 == 0 {
			ctx.WriteString("b ")
		}
		if bare.Len() > 200 {
			flush()
		}
	}
	flush()
	return out
}

// categoryTexts puts runes of every Unicode category in the contexts the
// patterns care about.
func categoryTexts() []string {
	var out []string
	names := make([]string, 0, len(unicode.Categories))
	for name := range unicode.Categories {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		var runes []rune
		for _, r16 := range unicode.Categories[name].R16 {
			for r := rune(r16.Lo); r <= rune(r16.Hi) && len(runes) < 400; r += rune(r16.Stride) * 7 {
				runes = append(runes, r)
			}
		}
		for _, r32 := range unicode.Categories[name].R32 {
			for r := rune(r32.Lo); r <= rune(r32.Hi) && len(runes) < 600; r += rune(r32.Stride) * 11 {
				runes = append(runes, r)
			}
		}
		for i, r := range runes {
			c := string(r)
			out = append(out, c, " "+c, c+"a", "A"+c, "a"+c, c+"A", c+c+"'s", "1"+c+"2", c+" ", c+"\n", "'"+c,
				c+"'LL", "x"+c+c+"y", " "+c+c, c+" \n", c+string(runes[(i+1)%len(runes)]))
		}
	}
	return out
}

// TestCorpusSize logs what the exactness tests cover.
func TestCorpusSize(t *testing.T) {
	total, bytes := 0, 0
	for _, src := range testCorpus(t) {
		n := 0
		for _, s := range src.texts {
			n += len(s)
		}
		t.Logf("%-15s %7d texts %10d bytes", src.name, len(src.texts), n)
		total += len(src.texts)
		bytes += n
	}
	t.Logf("%-15s %7d texts %10d bytes", "total", total, bytes)
}
