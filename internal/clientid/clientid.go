// Package clientid normalises client ids so that one client has one id.
//
// Spend is tracked per distinct id, so a caller that can vary its id by an
// invisible or look-alike character ("user-12345" + U+200B, a Cyrillic "е"
// for a Latin "e", fullwidth "ｕｓｅｒ") gets a fresh default budget each
// time. Normalize folds compatibility forms (Unicode NFKC: fullwidth, ligatures,
// non-breaking spaces) and refuses what cannot be told apart by eye:
// invisible (format, default-ignorable, variation-selector) characters,
// unassigned and private-use code points, leading or trailing white space, and
// ids mixing scripts beyond what Unicode TS #39 calls "highly restrictive"
// (one script, or Latin with Han and Japanese kana, Han and Bopomofo, or Han
// and Hangul). A single-script look-alike (an id wholly in Cyrillic that reads
// like a Latin one) is not caught: bind keys to ids (keys[].client_ids) for that.
package clientid

import (
	"errors"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Reasons a client id is refused; wrapped with the offending position.
var (
	ErrInvisible   = errors.New("has an invisible character")
	ErrUnassigned  = errors.New("has an unassigned or private-use character")
	ErrEdgeSpace   = errors.New("starts or ends with white space")
	ErrMixedScript = errors.New("mixes scripts")
)

// Normalize returns id in NFKC form, or why it is refused ("client id has an
// invisible character (U+200B) at byte 10"). An ASCII id without leading or
// trailing spaces is returned as it is, without allocating.
func Normalize(id string) (string, error) {
	n, err := normalize(id)
	if err != nil {
		return "", fmt.Errorf("client id %w", err)
	}
	return n, nil
}

func normalize(id string) (string, error) {
	if !utf8.ValidString(id) {
		return "", errors.New("is not valid UTF-8")
	}
	ascii := true
	for i := 0; i < len(id); i++ {
		if id[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		id = norm.NFKC.String(id)
	}
	if id != "" && (isSpace(id[0]) || isSpace(id[len(id)-1])) {
		return "", ErrEdgeSpace
	}
	if ascii {
		return id, nil
	}
	return id, check(id)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// check refuses invisible, private-use and unassigned characters and a mix
// of scripts no allowed mix covers, in one pass.
func check(id string) error {
	var seen []string
	add := func(s string) {
		if !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
	for i, r := range id {
		if r < utf8.RuneSelf {
			if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
				add("Latin")
			}
			continue // digits, punctuation: Common
		}
		switch {
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point):
			return fmt.Errorf("%w (%U) at byte %d", ErrInvisible, r, i)
		case unicode.Is(unicode.Co, r):
			return fmt.Errorf("%w (%U) at byte %d", ErrUnassigned, r, i)
		case unicode.In(r, unicode.Common, unicode.Inherited):
			continue // punctuation, symbols, marks that follow their base
		}
		s := scriptOf(r)
		if s == "" { // in no script: unassigned (Unicode's "Unknown")
			return fmt.Errorf("%w (%U) at byte %d", ErrUnassigned, r, i)
		}
		add(s)
	}
	return mixed(seen)
}

// allowedMixes are the script sets of Unicode TS #39's "highly restrictive"
// level beyond a single script: a set of scripts that is a subset of one of
// them is accepted.
var allowedMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// script is one entry of scripts.
type script struct {
	name  string
	table *unicode.RangeTable
}

// scripts lists unicode.Scripts in a fixed order, the most used first, so a
// rune's script is found the same way every time and usually at once (a
// 252-byte Japanese id takes ~12 µs, not the 140 µs of a sorted scan).
var scripts = func() []script {
	first := []string{"Latin", "Han", "Hiragana", "Katakana", "Hangul", "Cyrillic", "Greek", "Arabic", "Hebrew",
		"Devanagari", "Thai", "Bopomofo"}
	var rest []string
	for name := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && !slices.Contains(first, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	out := make([]script, 0, len(first)+len(rest))
	for _, name := range append(first, rest...) {
		out = append(out, script{name, unicode.Scripts[name]})
	}
	return out
}()

// scriptOf is r's script, "" when it is in none.
func scriptOf(r rune) string {
	for _, sc := range scripts {
		if unicode.Is(sc.table, r) {
			return sc.name
		}
	}
	return ""
}

// mixed refuses a set of scripts no allowed mix covers.
func mixed(seen []string) error {
	if len(seen) <= 1 {
		return nil
	}
	for _, mix := range allowedMixes {
		covered := true
		for _, s := range seen {
			if !slices.Contains(mix, s) {
				covered = false
				break
			}
		}
		if covered {
			return nil
		}
	}
	slices.Sort(seen)
	return fmt.Errorf("%w (%v)", ErrMixedScript, seen)
}

// NormalPrefix reports whether a "prefix*" pattern's prefix is in the form
// Normalize produces: a pattern written in another form (fullwidth, an
// invisible character, mixed scripts) matches no normalised id.
func NormalPrefix(prefix string) bool {
	if !utf8.ValidString(prefix) || check(prefix) != nil {
		return false
	}
	return norm.NFKC.IsNormalString(prefix)
}
