package pricing

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTableLookup(t *testing.T) {
	tab := Default()
	cases := []struct {
		query string
		want  string // the table entry it must resolve to; "" = not found
	}{
		{"gpt-4o", "gpt-4o"},
		{"  gpt-4o\n", "gpt-4o"},
		{"openai/gpt-4o", "gpt-4o"},
		{"openrouter/openai/gpt-4o-mini", "gpt-4o-mini"},
		{"gpt-4o-2024-08-06", "gpt-4o-2024-08-06"}, // exists exactly
		{"gpt-4o-mini-2099-01-01", "gpt-4o-mini"},
		{"openai/gpt-5-2099-12-31", "gpt-5"},
		{"gpt-4-0613", "gpt-4-0613"},
		{"gpt-3.5-turbo-0125", "gpt-3.5-turbo-0125"},
		{"gpt-3.5-turbo-instruct-0914", "gpt-3.5-turbo-instruct-0914"},
		{"text-embedding-3-small", "text-embedding-3-small"},
		// Names are case-insensitive.
		{"GPT-4O", "gpt-4o"},
		{"O3", "o3"},
		{"OpenAI/GPT-4o-Mini", "gpt-4o-mini"},
		{"GPT-4O-2024-08-06", "gpt-4o-2024-08-06"},
		{"GPT-5-2099-12-31", "gpt-5"},
		// Fine-tunes: the ft: price of the base model, then the base model.
		{"ft:gpt-4o-mini-2024-07-18:org::id", "ft:gpt-4o-mini-2024-07-18"},
		{"ft:gpt-4o-mini-2024-07-18:acme:my-suffix:9Xyz", "ft:gpt-4o-mini-2024-07-18"},
		{"openai/ft:gpt-4.1-2025-04-14:org::id", "ft:gpt-4.1-2025-04-14"},
		{"ft:gpt-3.5-turbo-0301:acme::x", "ft:gpt-3.5-turbo"},
		{"ft:gpt-4o-2024-05-13:org::id", "gpt-4o-2024-05-13"},
		{"ft:gpt-5-2099-01-01:org::id", "gpt-5"},
		{"ft:davinci-002:org::id", "ft:davinci-002"},
		// ...an undated base takes the newest dated fine-tune row.
		{"ft:gpt-4o-mini:acme::abc", "ft:gpt-4o-mini-2024-07-18"},
		{"FT:GPT-4o-mini:acme::abc", "ft:gpt-4o-mini-2024-07-18"},
		{"ft:gpt-4.1:acme::x", "ft:gpt-4.1-2025-04-14"},
		{"ft:gpt-4.1-mini:acme::x", "ft:gpt-4.1-mini-2025-04-14"},
		{"ft:gpt-4o:acme::x", "ft:gpt-4o-2024-11-20"}, // newer than ft:gpt-4o-2024-08-06
		{"ft:o4-mini:acme::x", "ft:o4-mini-2025-04-16"},
		{"ft:gpt-3.5-turbo:acme::x", "ft:gpt-3.5-turbo"}, // the undated row exists
		{"ft:gpt-5:acme::x", "gpt-5"},                    // no fine-tune row at all
		// Legacy models the snapshot lists under Azure.
		{"o1-mini", "o1-mini"},
		{"o1-mini-2024-09-12", "o1-mini-2024-09-12"},
		{"o1-preview", "o1-preview"},
		{"o1-preview-2024-09-12", "o1-preview-2024-09-12"},
		{"gpt-4-32k", "gpt-4-32k"},
		{"gpt-4-32k-0314", "gpt-4-32k"},
		{"gpt-4-32k-0613", "gpt-4-32k-0613"},
		{"computer-use-preview", "computer-use-preview"},
		{"computer-use-preview-2025-03-11", "computer-use-preview"},
		// The supplement: no fall back to gpt-3.5-turbo's lower price.
		{"gpt-3.5-turbo-0613", "gpt-3.5-turbo-0613"},
		{"gpt-3.5-turbo-16k-0613", "gpt-3.5-turbo-16k-0613"},
		{"gpt-3.5-turbo-0301", "gpt-3.5-turbo-0301"},
		// Rows priced by other units.
		{"openai/container", "openai/container"},
		{"tts-1", "tts-1"},
		{"whisper-1", "whisper-1"},
		{"dall-e-3", "dall-e-3"},
		{"hd/1024-x-1024/dall-e-3", "hd/1024-x-1024/dall-e-3"},
		{"sora-2", "sora-2"},
		{"omni-moderation-latest", "omni-moderation-latest"},
		{"gpt-realtime", "gpt-realtime"},
		// Unknown.
		{"claude-3-opus", ""},
		{"", ""},
		{"   ", ""},
		{"gpt-4o-mini-2099-01", ""},
		{"gpt-4o-mini-20990101", ""},
		{"ft:", ""},
		{"ft::org::id", ""},
		{"ft:unknown-base:org::id", ""},
		{"openai/", ""},
		{"/", ""},
		{"-0613", ""},
		{"container", ""},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			got, ok := tab.Lookup(c.query)
			if c.want == "" {
				require.False(t, ok)
				require.Equal(t, Price{}, got)
				return
			}
			require.True(t, ok)
			want, ok := tab.prices[c.want]
			require.True(t, ok, "test names a missing entry %q", c.want)
			require.Equal(t, want, got)
		})
	}
	// Distinguish "exact" from "undated fallback": the dated entry keeps its
	// own prices and only gains the alias's priority tier.
	dated, _ := tab.Lookup("gpt-4o-2024-05-13")
	require.Equal(t, int64(5_000_000_000), dated.Standard.Input)
	require.Nil(t, tab.raw["gpt-4o-2024-08-06"].Priority, "the snapshot row has no priority prices")
	snap, _ := tab.Lookup("gpt-4o-2024-08-06")
	require.Equal(t, int64(4_250_000_000), snap.Priority.Input, "taken from gpt-4o")
	require.Equal(t, int64(1_250_000_000), snap.Batch.Input, "its own")
	// The fine-tune price is not the base price.
	ft, _ := tab.Lookup("ft:gpt-4o-mini-2024-07-18:org::id")
	require.Equal(t, int64(300_000_000), ft.Standard.Input)
	// Legacy and supplement prices, per 1M tokens.
	for model, want := range map[string]TierPrice{
		"o1-mini":                {Input: 1_100_000_000, CachedInput: 550_000_000, Output: 4_400_000_000},
		"o1-preview":             {Input: 15_000_000_000, CachedInput: 7_500_000_000, Output: 60_000_000_000},
		"gpt-4-32k":              {Input: 60_000_000_000, CachedInput: 60_000_000_000, Output: 120_000_000_000},
		"computer-use-preview":   {Input: 3_000_000_000, CachedInput: 3_000_000_000, Output: 12_000_000_000},
		"gpt-3.5-turbo-0613":     {Input: 1_500_000_000, CachedInput: 1_500_000_000, Output: 2_000_000_000},
		"gpt-3.5-turbo-16k-0613": {Input: 3_000_000_000, CachedInput: 3_000_000_000, Output: 4_000_000_000},
		"gpt-3.5-turbo-0301":     {Input: 1_500_000_000, CachedInput: 1_500_000_000, Output: 2_000_000_000},
	} {
		p, ok := tab.Lookup(model)
		require.True(t, ok, model)
		require.Equal(t, want, text(p.Standard), model)
	}
}

func TestNewerFineTune(t *testing.T) {
	require.True(t, newer("ft:m-2025-01-02", "ft:m-2024-12-31"))
	require.False(t, newer("ft:m-2024-12-31", "ft:m-2025-01-02"))
	require.True(t, newer("ft:m-2024-01-01", "ft:m-1231"), "a year beats a bare MMDD")
	require.True(t, newer("ft:a-2024-01-01", "ft:b-2024-01-01"), "ties break on the name")
}

func TestTableLookupReturnsCopies(t *testing.T) {
	tab := Default()
	p, ok := tab.Lookup("gpt-5")
	require.True(t, ok)
	p.Flex.Input = 1
	p.Priority.Output = 1
	again, _ := tab.Lookup("gpt-5")
	require.Equal(t, int64(625_000_000), again.Flex.Input)
	require.Equal(t, int64(20_000_000_000), again.Priority.Output)
}

func TestTableWith(t *testing.T) {
	base := Default()
	flex := &TierPrice{Input: 1, CachedInput: 1, Output: 1}
	custom := map[string]Price{
		"gpt-4o":        {Standard: TierPrice{Input: 7, CachedInput: 7, Output: 7}, Mode: "chat"},
		" my-model ":    {Standard: TierPrice{Input: 1_000_000_000, CachedInput: 500_000_000, Output: 2_000_000_000}, Flex: flex}, //nolint:gocritic // mapKey: the padding is the test: With trims model names
		"":              {Standard: TierPrice{Input: 9}},
		"my-model-0613": {Standard: TierPrice{Input: 42}},
		"My-Audio":      {Standard: TierPrice{Input: 5, Output: 6, AudioInput: 0, AudioOutput: 80}},
	}
	tab := base.With(custom)
	flex.Input = 99 // With copies
	custom["gpt-4o"] = Price{}

	got, ok := tab.Lookup("gpt-4o")
	require.True(t, ok)
	require.Equal(t, int64(7), got.Standard.Input)
	require.Nil(t, got.Priority)
	// A text-only custom price bills audio, image and cache writes at its text prices.
	require.Equal(t, TierPrice{Input: 7, CachedInput: 7, Output: 7, CacheWrite: 7, AudioInput: 7, CachedAudioInput: 7,
		AudioOutput: 7, ImageInput: 7, ImageOutput: 7}, got.Standard)
	// The dated snapshot now takes its missing tiers from the custom alias (none).
	dated, _ := tab.Lookup("gpt-4o-2024-08-06")
	require.Nil(t, dated.Priority)
	got, ok = tab.Lookup("my-model")
	require.True(t, ok)
	require.Equal(t, int64(1), got.Flex.Input)
	require.Equal(t, int64(1), got.Flex.AudioInput)
	got, ok = tab.Lookup("my-model-2099-01-01") // fallbacks apply to custom names too
	require.True(t, ok)
	require.Equal(t, int64(1_000_000_000), got.Standard.Input)
	// my-model-0613 takes my-model's flex, scaled by 42/1e9 per price.
	got, ok = tab.Lookup("MY-MODEL-0613")
	require.True(t, ok)
	require.Equal(t, int64(42), got.Standard.Input)
	require.NotNil(t, got.Flex)
	// A price that sets any audio or image price is used as given.
	got, _ = tab.Lookup("my-audio")
	require.Equal(t, TierPrice{Input: 5, Output: 6, AudioOutput: 80}, got.Standard)
	require.Equal(t, base.Len()+3, tab.Len())

	orig, _ := base.Lookup("gpt-4o")
	require.Equal(t, int64(2_500_000_000), orig.Standard.Input, "With must not change the receiver")
	origDated, _ := base.Lookup("gpt-4o-2024-08-06")
	require.NotNil(t, origDated.Priority)

	var nilTable *Table
	require.Equal(t, 0, nilTable.Len())
	_, ok = nilTable.Lookup("gpt-4o")
	require.False(t, ok)
	require.Equal(t, 1, nilTable.With(map[string]Price{"x": {}}).Len())
	_, ok = nilTable.ImagePrice("dall-e-3", "", "")
	require.False(t, ok)
}

func TestTableOver(t *testing.T) {
	file, err := Parse(strings.NewReader(`{"gpt-4o":{"mode":"chat","input_cost_per_token":1e-06,"output_cost_per_token":2e-06}}`))
	require.NoError(t, err)
	merged := file.Over(Default())
	p, ok := merged.Lookup("gpt-4o")
	require.True(t, ok)
	require.Equal(t, int64(1_000_000_000), p.Standard.Input, "the file's row wins")
	p, ok = merged.Lookup("gpt-3.5-turbo-0613")
	require.True(t, ok, "a row only the embedded table has is kept")
	require.Equal(t, int64(1_500_000_000), p.Standard.Input)
}
