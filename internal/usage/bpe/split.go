package bpe

import (
	"unicode"
	"unicode/utf8"
)

// The pre-splitters below reproduce, piece for piece, what tiktoken-go's
// regexp2 (a backtracking engine: first alternative that matches wins,
// greedy quantifiers give back one character at a time) finds with each
// encoding's pattern. Every character of the text starts some alternative,
// so the pieces tile the text.
//
// o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// cl100k_base:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//	| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

// nextO200k returns the end of the o200k piece that starts at s[p].
func (t *classTable) nextO200k(s string, p int) int {
	c, w := t.at(s, p)
	// A word, lower-case-ending first, then upper-case; each tried first
	// with the optional prefix character, then without it.
	if c&cPrefix != 0 && p+w < len(s) {
		if end, ok := t.wordLower(s, p+w); ok {
			return contraction(s, end)
		}
	}
	if c&(cUpper|cLower) != 0 {
		if end, ok := t.wordLower(s, p); ok {
			return contraction(s, end)
		}
	}
	if c&cPrefix != 0 && p+w < len(s) {
		if end, ok := t.wordUpper(s, p+w); ok {
			return contraction(s, end)
		}
	}
	if c&cUpper != 0 {
		if end, ok := t.wordUpper(s, p); ok {
			return contraction(s, end)
		}
	}
	if c&cNumber != 0 {
		return t.digits(s, p+w)
	}
	if end, ok := t.punct(s, p, c, true); ok {
		return end
	}
	return t.space(s, p, w)
}

// nextCL100k returns the end of the cl100k piece that starts at s[p].
func (t *classTable) nextCL100k(s string, p int) int {
	if s[p] == '\'' {
		if end := contraction(s, p); end > p {
			return end
		}
	}
	c, w := t.at(s, p)
	if c&cPrefix != 0 && p+w < len(s) {
		if c2, w2 := t.at(s, p+w); c2&cLetter != 0 {
			return t.run(s, p+w+w2, cLetter)
		}
	}
	if c&cLetter != 0 {
		return t.run(s, p+w, cLetter)
	}
	if c&cNumber != 0 {
		return t.digits(s, p+w)
	}
	if end, ok := t.punct(s, p, c, false); ok {
		return end
	}
	return t.space(s, p, w)
}

// wordLower matches [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+
// at s[q]. The leading run is greedy: when the character after it cannot
// start the trailing run, the engine gives back characters until the last
// one of the leading run that belongs to both classes (Lm, Lo, M), and the
// trailing run is then that one character.
func (t *classTable) wordLower(s string, q int) (int, bool) {
	i, lastBoth := q, -1
	for i < len(s) {
		c, w := t[s[i]], 1 // at, inlined by hand for ASCII
		if s[i] >= utf8.RuneSelf {
			c, w = t.atMultibyte(s, i)
		}
		if c&cUpper == 0 {
			if c&cLower != 0 {
				return t.run(s, i+w, cLower), true
			}
			break
		}
		i += w
		if c&cLower != 0 {
			lastBoth = i
		}
	}
	return lastBoth, lastBoth >= 0
}

// wordUpper matches [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*
// at s[q]; the trailing run may be empty, so nothing is ever given back.
func (t *classTable) wordUpper(s string, q int) (int, bool) {
	i := t.run(s, q, cUpper)
	if i == q {
		return 0, false
	}
	return t.run(s, i, cLower), true
}

// run returns the end of the run of characters of class c from s[i].
func (t *classTable) run(s string, i int, c class) int {
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf { // at, inlined by hand
			if t[b]&c == 0 {
				break
			}
			i++
			continue
		}
		ci, w := t.atMultibyte(s, i)
		if ci&c == 0 {
			break
		}
		i += w
	}
	return i
}

// digits ends \p{N}{1,3} whose first digit ends at s[i].
func (t *classTable) digits(s string, i int) int {
	for range 2 {
		if i == len(s) {
			break
		}
		c, w := t.at(s, i)
		if c&cNumber == 0 {
			break
		}
		i += w
	}
	return i
}

// punct matches ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (o200k) or ` ?[^\s\p{L}\p{N}]+[\r\n]*`
// (cl100k) at s[p], whose first character has classes c.
func (t *classTable) punct(s string, p int, c class, slash bool) (int, bool) {
	q := p
	if s[p] == ' ' && p+1 < len(s) {
		if c2, _ := t.at(s, p+1); c2&cOther != 0 {
			q = p + 1
			c = c2
		}
	}
	if c&cOther == 0 {
		return 0, false
	}
	i := t.run(s, q, cOther)
	for i < len(s) && (s[i] == '\r' || s[i] == '\n' || slash && s[i] == '/') {
		i++
	}
	return i, true
}

// space matches the whitespace alternatives at s[p] (a rune of width w):
// `\s*[\r\n]+` takes the run up to its last newline; else `\s+(?!\S)` takes
// the run but for its last character, which is left to lead the next
// piece, unless the run ends the text or is that one character; else `\s+`.
func (t *classTable) space(s string, p, w int) int {
	i, lastNL, lastStart := p, -1, p
	for i < len(s) {
		c, w := t.at(s, i)
		if c&cSpace == 0 {
			break
		}
		lastStart = i
		i += w
		if c&cNewline != 0 {
			lastNL = i
		}
	}
	switch {
	case i == p: // not whitespace: unreachable, as every class is covered above
		return p + w
	case lastNL >= 0:
		return lastNL
	case i == len(s), lastStart == p:
		return i
	default:
		return lastStart
	}
}

// contraction extends a piece ending at s[e] by (?i:'s|'t|'re|'ve|'m|'ll|'d)
// when one follows. regexp2 folds case with unicode.ToLower.
func contraction(s string, e int) int {
	if e+1 >= len(s) || s[e] != '\'' {
		return e
	}
	r1, w1 := lowerAt(s, e+1)
	switch r1 {
	case 's', 't', 'm', 'd':
		return e + 1 + w1
	case 'r', 'v', 'l':
		want := 'e'
		if r1 == 'l' {
			want = 'l'
		}
		if j := e + 1 + w1; j < len(s) {
			if r2, w2 := lowerAt(s, j); r2 == want {
				return j + w2
			}
		}
	}
	return e
}

func lowerAt(s string, i int) (rune, int) {
	if b := s[i]; b < utf8.RuneSelf {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return rune(b), 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return unicode.ToLower(r), w
}
