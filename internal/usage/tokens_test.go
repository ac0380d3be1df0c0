package usage

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/stretchr/testify/require"
)

func TestEncodingName(t *testing.T) {
	tests := map[string]string{
		"gpt-4o":                     encO200k,
		"gpt-4o-mini-2024-07-18":     encO200k,
		"gpt-4.1-nano":               encO200k,
		"gpt-4.5-preview":            encO200k,
		"gpt-5":                      encO200k,
		"o1-mini":                    encO200k,
		"o3":                         encO200k,
		"o4-mini":                    encO200k,
		"chatgpt-4o-latest":          encO200k,
		"ft:gpt-4o-mini:acme::abc12": encO200k,
		"some-new-model":             encO200k,
		"":                           encO200k,
		"gpt-4":                      encCL100k,
		"gpt-4-0613":                 encCL100k,
		"gpt-4-turbo-2024-04-09":     encCL100k,
		"GPT-4-32k":                  encCL100k,
		"gpt-3.5-turbo":              encCL100k,
		"gpt-3.5-turbo-instruct":     encCL100k,
		"gpt-35-turbo":               encCL100k,
		"text-embedding-3-small":     encCL100k,
		"text-embedding-ada-002":     encCL100k,
		"davinci-002":                encCL100k,
		"babbage-002":                encCL100k,
		"ft:gpt-3.5-turbo:acme::x":   encCL100k,
		"openai/gpt-4":               encCL100k,
	}
	for model, want := range tests {
		require.Equal(t, want, encodingName(model), model)
	}
}

// TestCountTokensMatchesTiktoken: CountTokens picks each model's encoding
// and counts what tiktoken-go's EncodeOrdinary, its former implementation,
// counts (package bpe compares the two exhaustively).
func TestCountTokensMatchesTiktoken(t *testing.T) {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	ref := map[string]*tiktoken.Tiktoken{}
	for _, name := range []string{encO200k, encCL100k} {
		enc, err := tiktoken.GetEncoding(name)
		require.NoError(t, err)
		ref[name] = enc
	}
	texts := []string{
		"Hello!", "<|endoftext|> and <|fim_prefix|>", "caf\xe9 \xff's", "日本語のテキストです。",
		"don't DON'T it'S", "  \r\n\t x  ", strings.Repeat("abc", 100),
	}
	for _, f := range []string{"chat_text.txt", "chat_tools_text.txt", "completions_text.txt", "responses_text.txt", "chat.json", "responses.sse"} {
		texts = append(texts, string(readTestdata(t, f)))
	}
	for _, model := range []string{"gpt-4o-mini", "gpt-5", "o3", "gpt-4", "gpt-3.5-turbo", "text-embedding-3-small", "unknown"} {
		enc := ref[encodingName(model)]
		for _, text := range texts {
			require.Equal(t, int64(len(enc.EncodeOrdinary(text))), CountTokens(model, text), "%s %q", model, text)
		}
	}
}

func TestCountTokens(t *testing.T) {
	tests := []struct {
		model, text string
		want        int64
	}{
		{"gpt-4o", "", 0},
		{"gpt-4o", "Hello!", 2},
		{"gpt-4o", "You are helpful.", 4},
		{"gpt-4o", "こんにちは、世界。日本語のテキストです。", 12},
		{"gpt-4", "こんにちは、世界。日本語のテキストです。", 16}, // cl100k differs
		{"gpt-3.5-turbo", "Привет, как дела?", 8},
		{"gpt-5", "Привет, как дела?", 6},
		{"gpt-4o", "<|endoftext|>", 7}, // special tokens are plain text, no panic
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, CountTokens(tc.model, tc.text), "%s %q", tc.model, tc.text)
	}
	require.NoError(t, PreloadTokenizers())
}

// TestTokenUpperBound checks the claim the cheap prompt bound rests on: a
// token is at least one byte of UTF-8, so the byte length bounds the count.
func TestTokenUpperBound(t *testing.T) {
	alphabets := [][]rune{
		[]rune("abcdefghijklmnopqrstuvwxyz ABC0123456789"),
		[]rune(" \t\n\r.,;:!?'\"()[]{}<>/\\|-_=+*&^%$#@~`"),
		[]rune("éèàçüößñøåœ"),
		[]rune("日本語中文한국어テキスト"),
		[]rune("😀🎉👍🏽🇫🇷"),
		[]rune("\u0301\u0308\u200d\ufe0f"),
		[]rune("абвгдежзийклмнопрстуфхцчшщъыьэюя"),
	}
	rng := rand.New(rand.NewPCG(42, 7))
	n := 300
	if testing.Short() {
		n = 60
	}
	for range n {
		var b strings.Builder
		for range rng.IntN(400) + 1 {
			a := alphabets[rng.IntN(len(alphabets))]
			for range rng.IntN(6) + 1 {
				b.WriteRune(a[rng.IntN(len(a))])
			}
		}
		s := b.String()
		require.True(t, utf8.ValidString(s))
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			require.LessOrEqual(t, CountTokens(model, s), int64(len(s)), "%s %q", model, s)
		}
	}
}

// TestCountTokensConcurrent runs counts and meters side by side (meaningful
// under -race: the encodings are shared, read-only).
func TestCountTokensConcurrent(t *testing.T) {
	stream := readTestdata(t, "chat_plain.sse") // no usage: the meter counts
	want := CountTokens("gpt-4o-mini", string(readTestdata(t, "chat_text.txt")))
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			model := []string{"gpt-4o-mini", "gpt-4"}[i%2]
			if CountTokens(model, "Hello!") != 2 {
				errs <- fmt.Errorf("count differs for %s", model)
				return
			}
			m := NewMeter(MeterOptions{Endpoint: ChatCompletions, SSE: true, StripInjectedUsage: true})
			m.Write(stream, true)
			if got := m.Result().OutputTokens; got != want {
				errs <- fmt.Errorf("meter counted %d, want %d", got, want)
				return
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
