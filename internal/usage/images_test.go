package usage

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImageTokensMax(t *testing.T) {
	for model, want := range map[string]int64{
		"gpt-4o":                  85 + 8*170,
		"gpt-4o-2024-08-06":       1445,
		"openai/GPT-4o":           1445,
		"gpt-4o-mini":             2833 + 8*5667,
		"gpt-4o-mini-2024-07-18":  48169,
		"gpt-4.1":                 1445,
		"gpt-4.1-mini":            2489, // ceil(1536 × 1.62)
		"gpt-4.1-nano-2025-04-14": 3779, // ceil(1536 × 2.46)
		"o4-mini":                 2642, // ceil(1536 × 1.72)
		"o3":                      75 + 8*150,
		"o3-pro":                  1275,
		"o1-2024-12-17":           1275,
		"gpt-5":                   70 + 8*140,
		"gpt-5-2025-08-07":        1190,
		"gpt-5-mini":              2489,
		"ft:gpt-4o-mini:acme::x":  48169,
		"computer-use-preview":    65 + 8*129,
		"gpt-5.4":                 0, // unknown maximum: bounded by the context window
		"gpt-3.5-turbo":           0,
		"gpt-4o1":                 0, // not a "-suffix"
		"":                        0,
	} {
		require.Equal(t, want, ImageTokensMax(model), model)
	}
}
