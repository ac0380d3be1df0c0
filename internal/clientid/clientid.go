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
		// Invisible characters are checked before folding too: NFKC keeps
		// most of them, but this reports the character the caller sent.
		if err := visible(id); err != nil {
			return "", err
		}
		id = norm.NFKC.String(id)
	}
	if err := visible(id); err != nil {
		return "", err
	}
	if id != "" && (isSpace(id[0]) || isSpace(id[len(id)-1])) {
		return "", ErrEdgeSpace
	}
	if !ascii {
		if err := singleScript(id); err != nil {
			return "", err
		}
	}
	return id, nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// visible refuses invisible, unassigned and private-use characters.
func visible(id string) error {
	for i, r := range id {
		if r < utf8.RuneSelf {
			continue
		}
		switch {
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point):
			return fmt.Errorf("%w (%U) at byte %d", ErrInvisible, r, i)
		case unicode.Is(unicode.Co, r) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf):
			return fmt.Errorf("%w (%U) at byte %d", ErrUnassigned, r, i)
		}
	}
	return nil
}

// allowedMixes are the script sets of Unicode TS #39's "highly restrictive"
// level beyond a single script: a set of scripts that is a subset of one of
// them is accepted.
var allowedMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// scriptNames lists unicode.Scripts in a fixed order, so a rune's script is
// found the same way every time.
var scriptNames = func() []string {
	names := make([]string, 0, len(unicode.Scripts))
	for name := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}()

func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return "Latin"
		}
		return "" // digits, punctuation: Common
	}
	for _, name := range scriptNames {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return "" // Common or Inherited (marks follow their base)
}

// singleScript refuses an id whose letters come from a set of scripts no
// allowed mix covers.
func singleScript(id string) error {
	var seen []string
	for _, r := range id {
		if s := scriptOf(r); s != "" && !slices.Contains(seen, s) {
			seen = append(seen, s)
		}
	}
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
// invisible character) matches no normalised id.
func NormalPrefix(prefix string) bool {
	if !utf8.ValidString(prefix) || visible(prefix) != nil {
		return false
	}
	return norm.NFKC.IsNormalString(prefix)
}
