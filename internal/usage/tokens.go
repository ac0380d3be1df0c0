package usage

import (
	"fmt"
	"strings"
	"sync"

	"github.com/proxide/proxide/internal/usage/bpe"
)

// The two encodings Proxide counts with. Each is loaded once, on first use,
// from the BPE ranks embedded in the binary (package bpe counts exactly as
// tiktoken does, without its cost); nothing is downloaded.
const (
	encO200k  = bpe.O200kBase
	encCL100k = bpe.CL100kBase
)

var (
	o200k  lazyEncoding
	cl100k lazyEncoding
)

// lazyEncoding is a read-only encoding built once on first use.
type lazyEncoding struct {
	once sync.Once
	enc  *bpe.Encoding
	err  error
}

func (l *lazyEncoding) get(name string) (*bpe.Encoding, error) {
	l.once.Do(func() {
		l.enc, l.err = bpe.Load(name)
		if l.err != nil {
			l.err = fmt.Errorf("usage: load encoding %s: %w", name, l.err)
		}
	})
	return l.enc, l.err
}

// PreloadTokenizers builds both encodings now (tens of milliseconds) so
// that the first metered request does not pay for it. It fails only when
// the embedded BPE tables are unusable.
func PreloadTokenizers() error {
	if _, err := o200k.get(encO200k); err != nil {
		return err
	}
	_, err := cl100k.get(encCL100k)
	return err
}

// encodingName picks the tokenizer OpenAI uses for model: cl100k_base for the
// GPT-4 (non-"o") and GPT-3.5 families, embeddings and the -002 base models;
// o200k_base for everything newer and for unknown models, which are most
// likely new ones.
func encodingName(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	m = strings.TrimPrefix(m, "ft:")
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:] // "openai/gpt-4" style provider prefixes
	}
	switch {
	case strings.HasPrefix(m, "gpt-4o"), strings.HasPrefix(m, "gpt-4."):
		return encO200k
	case strings.HasPrefix(m, "gpt-4"),
		strings.HasPrefix(m, "gpt-3.5"), strings.HasPrefix(m, "gpt-35"),
		strings.HasPrefix(m, "text-embedding-"),
		strings.HasPrefix(m, "davinci"), strings.HasPrefix(m, "babbage"),
		strings.HasPrefix(m, "text-davinci"), strings.HasPrefix(m, "text-babbage"):
		return encCL100k
	default:
		return encO200k
	}
}

func encodingFor(model string) (*bpe.Encoding, error) {
	return encodingNamed(encodingName(model))
}

func encodingNamed(name string) (*bpe.Encoding, error) {
	if name == encCL100k {
		return cl100k.get(encCL100k)
	}
	return o200k.get(encO200k)
}

// CountTokens returns the number of tokens text encodes to with model's
// tokenizer, exactly as tiktoken's EncodeOrdinary counts: special-token
// markers such as "<|endoftext|>" count as ordinary text, as they do in a
// prompt, and each byte of invalid UTF-8 as U+FFFD. It allocates nothing.
// Should the embedded tables ever fail to load, it returns the byte length,
// which is never below the true count.
func CountTokens(model, text string) int64 {
	if text == "" {
		return 0
	}
	enc, err := encodingFor(model)
	if err != nil {
		return int64(len(text))
	}
	return int64(enc.Count(text))
}
