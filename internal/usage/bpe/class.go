package bpe

import (
	"unicode"
	"unicode/utf8"
)

// class is a set of the character classes the two pre-split patterns name.
// Each pattern's classes are unions of these bits, so one table lookup
// answers every membership question about a rune.
type class uint8

const (
	// cUpper: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], o200k's leading letters.
	cUpper class = 1 << iota
	// cLower: [\p{Ll}\p{Lm}\p{Lo}\p{M}], o200k's trailing letters.
	cLower
	// cLetter: \p{L}.
	cLetter
	// cNumber: \p{N}.
	cNumber
	// cSpace: \s, which regexp2 defines as unicode.IsSpace.
	cSpace
	// cNewline: \r or \n.
	cNewline
	// cPrefix: [^\r\n\p{L}\p{N}], the optional character before a word.
	cPrefix
	// cOther: [^\s\p{L}\p{N}], punctuation and symbols (marks too).
	cOther
)

// classify computes r's classes from the unicode package's tables, the same
// tables regexp2 (and so tiktoken-go) consults.
func classify(r rune) class {
	var c class
	switch {
	case unicode.IsLetter(r):
		c |= cLetter
		switch {
		case unicode.Is(unicode.Lu, r), unicode.Is(unicode.Lt, r):
			c |= cUpper
		case unicode.Is(unicode.Ll, r):
			c |= cLower
		default: // Lm, Lo
			c |= cUpper | cLower
		}
	case unicode.IsMark(r):
		c |= cUpper | cLower
	case unicode.IsNumber(r):
		c |= cNumber
	}
	if unicode.IsSpace(r) {
		c |= cSpace
	}
	if r == '\r' || r == '\n' {
		c |= cNewline
	}
	if c&(cNewline|cLetter|cNumber) == 0 {
		c |= cPrefix
	}
	if c&(cSpace|cLetter|cNumber) == 0 {
		c |= cOther
	}
	return c
}

// classTable holds the classes of the Basic Multilingual Plane, where almost
// all text lives; runes above it are classified on the fly.
type classTable [1 << 16]class

func newClassTable() *classTable {
	t := new(classTable)
	for r := range t {
		t[r] = classify(rune(r))
	}
	return t
}

// at returns the classes and UTF-8 width of the rune starting at s[i]. An
// invalid byte is one rune, U+FFFD, exactly as []rune(s) (and so regexp2)
// sees it.
func (t *classTable) at(s string, i int) (class, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return t[b], 1
	}
	return t.atMultibyte(s, i)
}

func (t *classTable) atMultibyte(s string, i int) (class, int) {
	r, w := utf8.DecodeRuneInString(s[i:])
	if r < 1<<16 {
		return t[r], w
	}
	return classify(r), w
}
