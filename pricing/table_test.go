package pricing

import (
	"io/fs"
	"os"
	"path/filepath"
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
		{"gpt-4o-2024-08-06", "gpt-4o-2024-08-06"}, // exists exactly (no priority tier, unlike gpt-4o)
		{"gpt-4o-mini-2099-01-01", "gpt-4o-mini"},
		{"openai/gpt-5-2099-12-31", "gpt-5"},
		{"gpt-4-0613", "gpt-4-0613"},
		{"gpt-3.5-turbo-0613", "gpt-3.5-turbo"}, // 4-digit snapshot suffix
		{"gpt-3.5-turbo-instruct-0914", "gpt-3.5-turbo-instruct-0914"},
		{"text-embedding-3-small", "text-embedding-3-small"},
		// Fine-tunes: the ft: price of the base model, then the base model.
		{"ft:gpt-4o-mini-2024-07-18:org::id", "ft:gpt-4o-mini-2024-07-18"},
		{"ft:gpt-4o-mini-2024-07-18:acme:my-suffix:9Xyz", "ft:gpt-4o-mini-2024-07-18"},
		{"openai/ft:gpt-4.1-2025-04-14:org::id", "ft:gpt-4.1-2025-04-14"},
		{"ft:gpt-3.5-turbo-0301:acme::x", "ft:gpt-3.5-turbo"},
		{"ft:gpt-4o-2024-05-13:org::id", "gpt-4o-2024-05-13"},
		{"ft:gpt-5-2099-01-01:org::id", "gpt-5"},
		{"ft:davinci-002:org::id", "ft:davinci-002"},
		// Unknown.
		{"claude-3-opus", ""},
		{"", ""},
		{"   ", ""},
		{"GPT-4O", ""}, // case-sensitive
		{"gpt-4o-mini-2099-01", ""},
		{"gpt-4o-mini-20990101", ""},
		{"ft:", ""},
		{"ft::org::id", ""},
		{"ft:unknown-base:org::id", ""},
		{"openai/", ""},
		{"/", ""},
		{"-0613", ""},
		{"openai/container", ""}, // has no price in the snapshot
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
	// Distinguish "exact" from "undated fallback": the dated entry has no
	// priority tier, the alias has one.
	dated, _ := tab.Lookup("gpt-4o-2024-08-06")
	require.Nil(t, dated.Priority)
	alias, _ := tab.Lookup("gpt-4o-mini-2099-01-01")
	require.NotNil(t, alias.Priority)
	// The fine-tune price is not the base price.
	ft, _ := tab.Lookup("ft:gpt-4o-mini-2024-07-18:org::id")
	require.Equal(t, int64(300_000_000), ft.Standard.Input)
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
		" my-model ":    {Standard: TierPrice{Input: 1_000_000_000, CachedInput: 500_000_000, Output: 2_000_000_000}, Flex: flex},
		"":              {Standard: TierPrice{Input: 9}},
		"my-model-0613": {Standard: TierPrice{Input: 42}},
	}
	tab := base.With(custom)
	flex.Input = 99 // With copies
	custom["gpt-4o"] = Price{}

	got, ok := tab.Lookup("gpt-4o")
	require.True(t, ok)
	require.Equal(t, int64(7), got.Standard.Input)
	require.Nil(t, got.Priority)
	got, ok = tab.Lookup("my-model")
	require.True(t, ok)
	require.Equal(t, int64(1), got.Flex.Input)
	got, ok = tab.Lookup("my-model-2099-01-01") // fallbacks apply to custom names too
	require.True(t, ok)
	require.Equal(t, int64(1_000_000_000), got.Standard.Input)
	require.Equal(t, base.Len()+2, tab.Len())

	orig, _ := base.Lookup("gpt-4o")
	require.Equal(t, int64(2_500_000_000), orig.Standard.Input, "With must not change the receiver")

	var nilTable *Table
	require.Equal(t, 0, nilTable.Len())
	_, ok = nilTable.Lookup("gpt-4o")
	require.False(t, ok)
	require.Equal(t, 1, nilTable.With(map[string]Price{"x": {}}).Len())
}

func TestParse(t *testing.T) {
	const file = `{
	  "sample_spec": {"mode": "one of: chat, embedding", "input_cost_per_token": 0.0, "max_input_tokens": "max input tokens"},
	  "last_updated": "2026-07-24T18:23:43+00:00",
	  "bucket-without-mode": {"input_cost_per_token": 1e-06},
	  "dall-e-3": {"mode": "image_generation", "input_cost_per_token": 1e-06},
	  "no-price": {"mode": "chat", "output_cost_per_token": 1e-06},
	  "null-price": {"mode": "chat", "input_cost_per_token": null},
	  "odd-mode": {"mode": 7, "input_cost_per_token": 1e-06},
	  "list": [1, 2],
	  "m-chat": {"mode": "chat", "litellm_provider": "x", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
	             "cache_read_input_token_cost": 1.25e-06, "max_input_tokens": 128000, "max_output_tokens": 16384.0,
	             "input_cost_per_token_flex": 1.25e-06, "supports_vision": true, "input_cost_per_token_batches": 1e-06},
	  "m-embed": {"mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0},
	  "m-resp": {"mode": "responses", "input_cost_per_token": 1e-06, "output_cost_per_token_priority": 4e-06},
	  "m-free": {"mode": "completion", "input_cost_per_token": 0}
	}`
	tab, err := Parse(strings.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, 4, tab.Len())

	chat, ok := tab.Lookup("m-chat")
	require.True(t, ok)
	require.Equal(t, Price{
		Standard:        TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000},
		Flex:            &TierPrice{Input: 1_250_000_000, CachedInput: 625_000_000, Output: 10_000_000_000},
		Mode:            "chat",
		MaxInputTokens:  128000,
		MaxOutputTokens: 16384,
	}, chat)

	embed, _ := tab.Lookup("m-embed")
	require.Equal(t, Price{Standard: TierPrice{Input: 20_000_000, CachedInput: 20_000_000}, Mode: "embedding"}, embed)

	resp, _ := tab.Lookup("m-resp")
	require.Nil(t, resp.Flex)
	require.Equal(t, &TierPrice{Input: 1_000_000_000, CachedInput: 1_000_000_000, Output: 4_000_000_000}, resp.Priority)

	free, ok := tab.Lookup("m-free")
	require.True(t, ok)
	require.Equal(t, TierPrice{}, free.Standard)
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, file, wantInErr string
	}{
		{"empty", ``, "parse price file"},
		{"truncated", `{"gpt-4o": {"mode": "chat"`, "parse price file"},
		{"array", `[{"mode": "chat"}]`, "parse price file"},
		{"trailing garbage", `{"a": {"mode": "chat", "input_cost_per_token": 1e-06}} x`, "parse price file"},
		{"no models", `{}`, "no chat"},
		{"only metadata", `{"sample_spec": {"mode": "x"}, "last_updated": "2026"}`, "no chat"},
		{"string price", `{"m": {"mode": "chat", "input_cost_per_token": "cheap"}}`, `"m": input_cost_per_token`},
		{"negative price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": -1e-06}}`, "output_cost_per_token"},
		{"absurd price", `{"m": {"mode": "chat", "input_cost_per_token": 2}}`, "input_cost_per_token"},
		{"bad tier price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "cache_read_input_token_cost_flex": []}}`, "cache_read_input_token_cost_flex"},
		{"bad limit", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "max_input_tokens": "lots"}}`, "max_input_tokens"},
		{"negative limit", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "max_output_tokens": -1}}`, "max_output_tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := Parse(strings.NewReader(c.file))
			require.Error(t, err)
			require.Nil(t, tab)
			require.Contains(t, err.Error(), c.wantInErr)
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"m": {"mode": "chat", "input_cost_per_token": 1e-06}}`), 0o600))
	tab, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, tab.Len())

	_, err = LoadFile(filepath.Join(dir, "missing.json"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{`), 0o600))
	_, err = LoadFile(bad)
	require.ErrorContains(t, err, bad)
}

func TestUndated(t *testing.T) {
	cases := []struct{ in, want string }{
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"gpt-4-0613", "gpt-4"},
		{"o1-2024-12-17", "o1"},
		{"gpt-4o", ""},
		{"babbage-002", ""},
		{"gpt-4o-2024-0806", "gpt-4o-2024"},
		{"x-2024-08-0a", ""},
		{"-2024-08-06", ""}, // nothing before the date
	}
	for _, c := range cases {
		got, ok := undated(c.in)
		require.Equal(t, c.want != "", ok, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}
