package bpe

import (
	"os"
	"path/filepath"
	"testing"
)

// benchInputs are the texts both counters are timed on: a 2 KB and a 32 KB
// prompt (the loop corpus's prose, tool calls and tool output), Japanese,
// Chinese and Korean prose, and Go source.
var benchInputs = []struct{ name, file, enc string }{
	{"chat2k", "chat2k.txt", O200kBase},
	{"prompt32k", "prompt32k.txt", O200kBase},
	{"cjk", "cjk.txt", O200kBase},
	{"code", "code.txt", O200kBase},
	{"chat2k-cl100k", "chat2k.txt", CL100kBase},
	{"cjk-cl100k", "cjk.txt", CL100kBase},
}

// BenchmarkCount times this package against tiktoken-go's EncodeOrdinary
// (what usage.CountTokens called before) on the same inputs.
func BenchmarkCount(b *testing.B) {
	fx := loadFixtures(b)
	for _, in := range benchInputs {
		raw, err := os.ReadFile(filepath.Join("testdata", "bench", in.file))
		if err != nil {
			b.Fatal(err)
		}
		text := string(raw)
		f := fx[in.enc]
		if got, want := f.enc.Count(text), len(f.tik.EncodeOrdinary(text)); got != want {
			b.Fatalf("%s: count %d, want %d", in.name, got, want)
		}
		b.Run(in.name+"/bpe", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				f.enc.Count(text)
			}
		})
		b.Run(in.name+"/tiktoken", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				f.tik.EncodeOrdinary(text)
			}
		})
	}
}

// BenchmarkLoad times building an encoding (PreloadTokenizers' cost).
func BenchmarkLoad(b *testing.B) {
	for _, name := range encodingNames {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
