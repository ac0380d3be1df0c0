package bpe

import "testing"

// FuzzCountMatchesTiktoken: for any text, both encodings give tiktoken-go's
// token ids (so its count), and the pieces regexp2 would cut.
func FuzzCountMatchesTiktoken(f *testing.F) {
	for _, s := range fragments {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, fx := range loadFixtures(t) {
			if d := fx.diff(text); d != "" {
				t.Fatal(d)
			}
		}
	})
}
