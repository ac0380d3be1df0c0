package pricing

import "testing"

// BenchmarkNoop is the loop overhead baseline for BenchmarkCost.
func BenchmarkNoop(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
	}
}

// BenchmarkCost measures a lookup plus cost, as extproc does per response.
func BenchmarkCost(b *testing.B) {
	p := New(Options{})
	u := Usage{PromptTokens: 1200, CachedTokens: 1024, CompletionTokens: 350}
	for _, model := range []string{
		"gpt-4o-2024-08-06",                 // dated snapshot present in the table
		"gpt-4o-mini-2099-01-01",            // dated snapshot resolved to its alias
		"ft:gpt-4o-mini-2024-07-18:org::id", // fine-tune
	} {
		b.Run(model, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := p.Cost(model, "default", u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
