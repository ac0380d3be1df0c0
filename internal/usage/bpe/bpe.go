// Package bpe counts tokens under OpenAI's o200k_base and cl100k_base
// byte-pair encodings, exactly as tiktoken-go's EncodeOrdinary does, at a
// fraction of its cost: the pre-split patterns are hand-written scanners (no
// regular expressions), a piece that is a whole token takes one lookup, and
// counting allocates nothing.
//
// The ranks come from the files embedded by tiktoken-go-loader; nothing is
// downloaded. An Encoding is immutable and safe for concurrent use.
package bpe

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// The encodings Load knows.
const (
	O200kBase  = "o200k_base"
	CL100kBase = "cl100k_base"
)

// ErrUnknownEncoding is returned by Load for a name other than O200kBase or
// CL100kBase.
var ErrUnknownEncoding = errors.New("bpe: unknown encoding")

// Encoding is one byte-pair encoding: its ranks and its pre-splitter.
type Encoding struct {
	name    string
	o200k   bool // else cl100k
	ranks   *ranks
	classes *classTable
}

// Load builds the named encoding from the embedded ranks (tens of
// milliseconds and a few megabytes); callers keep it for the process's life.
func Load(name string) (*Encoding, error) {
	e := &Encoding{name: name}
	switch name {
	case O200kBase:
		e.o200k = true
	case CL100kBase:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownEncoding, name)
	}
	data, err := assets.Assets.ReadFile(name + ".tiktoken")
	if err != nil {
		return nil, fmt.Errorf("bpe: read %s ranks: %w", name, err)
	}
	if e.ranks, err = parseRanks(data); err != nil {
		return nil, fmt.Errorf("bpe: parse %s ranks: %w", name, err)
	}
	e.classes = newClassTable()
	return e, nil
}

// Name returns the encoding's name, such as "o200k_base".
func (e *Encoding) Name() string { return e.name }

// Count returns the number of tokens text encodes to. Special-token markers
// such as "<|endoftext|>" are ordinary text, and each byte of invalid UTF-8
// is read as U+FFFD, both as in tiktoken-go's EncodeOrdinary. The one
// exception: a pre-split piece (a run of letters, of punctuation or of
// spaces) longer than 2 GiB counts as a token per byte, never below the true
// count.
func (e *Encoding) Count(text string) int {
	return e.encode(text, nil)
}

// encode counts text's tokens and, when ids is not nil, appends their ids.
func (e *Encoding) encode(text string, ids *[]int) int {
	valid := utf8.ValidString(text)
	n := 0
	for p := 0; p < len(text); {
		end := e.next(text, p)
		piece := text[p:end]
		if !valid && !utf8.ValidString(piece) {
			piece = string([]rune(piece)) // what tiktoken-go's pieces are made of
		}
		n += e.tokens(piece, ids)
		p = end
	}
	return n
}

// next returns the end of the pre-split piece that starts at text[p].
func (e *Encoding) next(text string, p int) int {
	if e.o200k {
		return e.classes.nextO200k(text, p)
	}
	return e.classes.nextCL100k(text, p)
}
