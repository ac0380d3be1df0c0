package pricing

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	const file = `{
	  "sample_spec": {"mode": "one of: chat, embedding", "input_cost_per_token": 0.0, "max_input_tokens": "max input tokens"},
	  "last_updated": "2026-07-24T18:23:43+00:00",
	  "bucket-without-mode": {"input_cost_per_token": 1e-06},
	  "no-price": {"mode": "chat", "output_cost_per_token": 1e-06},
	  "no-input-but-unit": {"mode": "chat", "output_cost_per_token": 1e-06, "input_cost_per_image": 0.01},
	  "null-price": {"mode": "chat", "input_cost_per_token": null},
	  "unmodelled-price": {"mode": "image_generation", "output_cost_per_image": 0.04},
	  "rerank": {"mode": "rerank", "input_cost_per_token": 1e-06},
	  "odd-mode": {"mode": 7, "input_cost_per_token": 1e-06},
	  "list": [1, 2],
	  "m-chat": {"mode": "chat", "litellm_provider": "x", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
	             "cache_read_input_token_cost": 1.25e-06, "max_input_tokens": 128000, "max_output_tokens": 16384.0,
	             "input_cost_per_token_flex": 1.25e-06, "supports_vision": true},
	  "m-embed": {"mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0},
	  "m-resp": {"mode": "responses", "input_cost_per_token": 1e-06, "output_cost_per_token_priority": 4e-06},
	  "m-free": {"mode": "completion", "input_cost_per_token": 0},
	  "m-token-image": {"mode": "image_generation", "input_cost_per_token": 1e-06}
	}`
	tab, err := Parse(strings.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, 5, tab.Len())

	chat, ok := tab.Lookup("m-chat")
	require.True(t, ok)
	require.Equal(t, Price{
		Standard: TierPrice{Input: 2_500_000_000, CachedInput: 1_250_000_000, Output: 10_000_000_000,
			CacheWrite: 2_500_000_000, AudioInput: 2_500_000_000, CachedAudioInput: 2_500_000_000,
			AudioOutput: 10_000_000_000, ImageInput: 2_500_000_000, ImageOutput: 10_000_000_000},
		// Flex gives only the input price: every input-side price halves.
		Flex: &TierPrice{Input: 1_250_000_000, CachedInput: 625_000_000, Output: 10_000_000_000,
			CacheWrite: 1_250_000_000, AudioInput: 1_250_000_000, CachedAudioInput: 1_250_000_000,
			AudioOutput: 10_000_000_000, ImageInput: 1_250_000_000, ImageOutput: 10_000_000_000},
		Mode:            "chat",
		MaxInputTokens:  128000,
		MaxOutputTokens: 16384,
	}, chat)

	embed, _ := tab.Lookup("m-embed")
	require.Equal(t, TierPrice{Input: 20_000_000, CachedInput: 20_000_000}, text(embed.Standard))
	require.Equal(t, "embedding", embed.Mode)

	resp, _ := tab.Lookup("m-resp")
	require.Nil(t, resp.Flex)
	require.Equal(t, TierPrice{Input: 1_000_000_000, CachedInput: 1_000_000_000, Output: 4_000_000_000}, text(*resp.Priority))

	free, ok := tab.Lookup("m-free")
	require.True(t, ok)
	require.Equal(t, TierPrice{}, free.Standard)
}

func TestParseNewFields(t *testing.T) {
	const file = `{
	  "m-long": {"mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.5e-05,
	             "cache_read_input_token_cost": 2.5e-07, "input_cost_per_token_above_272k_tokens": 5e-06,
	             "output_cost_per_token_above_272k_tokens": 2.25e-05, "cache_read_input_token_cost_above_272k_tokens": 5e-07,
	             "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 7.5e-06,
	             "regional_processing_uplift_multiplier_eu": 1.1, "regional_processing_uplift_multiplier_us": 1.1,
	             "supports_reasoning": true, "max_input_tokens": 1050000,
	             "search_context_cost_per_query": {"search_context_size_low": 0.03, "search_context_size_medium": 0.035, "search_context_size_high": 0.05}},
	  "m-audio": {"mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
	              "input_cost_per_audio_token": 4e-05, "output_cost_per_audio_token": 8e-05},
	  "m-realtime": {"mode": "realtime", "input_cost_per_token": 4e-06, "cache_read_input_token_cost": 4e-07,
	                 "input_cost_per_audio_token": 3.2e-05, "cache_creation_input_audio_token_cost": 4e-07},
	  "m-write": {"mode": "chat", "input_cost_per_token": 5e-06, "cache_creation_input_token_cost": 6.25e-06,
	              "input_cost_per_token_flex": 2.5e-06, "cache_creation_input_token_cost_flex": 3.125e-06},
	  "m-image-tokens": {"mode": "image_generation", "input_cost_per_token": 5e-06, "input_cost_per_image_token": 1e-05,
	                     "output_cost_per_image_token": 4e-05},
	  "m-tts": {"mode": "audio_speech", "input_cost_per_character": 1.5e-05},
	  "m-whisper": {"mode": "audio_transcription", "input_cost_per_second": 0.0001, "output_cost_per_second": 0.0001},
	  "m-video": {"mode": "video_generation", "output_cost_per_video_per_second": 0.1},
	  "m-img": {"mode": "image_generation", "input_cost_per_image": 0.04},
	  "hd/1024-x-1024/m-img": {"mode": "image_generation", "input_cost_per_pixel": 7.629e-08, "output_cost_per_pixel": 0.0},
	  "m-container": {"mode": "chat", "code_interpreter_cost_per_session": 0.03}
	}`
	tab, err := Parse(strings.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, 11, tab.Len())

	long, _ := tab.Lookup("m-long")
	require.Equal(t, Price{
		Standard: TierPrice{Input: 2_500_000_000, CachedInput: 250_000_000, Output: 15_000_000_000,
			CacheWrite: 2_500_000_000, AudioInput: 2_500_000_000, CachedAudioInput: 2_500_000_000,
			AudioOutput: 15_000_000_000, ImageInput: 2_500_000_000, ImageOutput: 15_000_000_000},
		// Batch halves: cache 2.5e-7 × 1.25e-6/2.5e-6.
		Batch: &TierPrice{Input: 1_250_000_000, CachedInput: 125_000_000, Output: 7_500_000_000,
			CacheWrite: 1_250_000_000, AudioInput: 1_250_000_000, CachedAudioInput: 1_250_000_000,
			AudioOutput: 7_500_000_000, ImageInput: 1_250_000_000, ImageOutput: 7_500_000_000},
		LongContextThreshold: 272_000,
		LongContext: &TierPrice{Input: 5_000_000_000, CachedInput: 500_000_000, Output: 22_500_000_000,
			CacheWrite: 5_000_000_000, AudioInput: 5_000_000_000, CachedAudioInput: 5_000_000_000,
			AudioOutput: 22_500_000_000, ImageInput: 5_000_000_000, ImageOutput: 22_500_000_000},
		Mode:                  "chat",
		MaxInputTokens:        1_050_000,
		Reasoning:             true,
		RegionalUplift:        map[string]int64{"eu": 1100, "us": 1100},
		SearchContextPerQuery: map[string]int64{"low": 30_000_000, "medium": 35_000_000, "high": 50_000_000},
	}, long)

	audio, _ := tab.Lookup("m-audio")
	require.Equal(t, TierPrice{Input: 2_500_000_000, CachedInput: 2_500_000_000, Output: 10_000_000_000,
		CacheWrite: 2_500_000_000, AudioInput: 40_000_000_000, CachedAudioInput: 40_000_000_000,
		AudioOutput: 80_000_000_000, ImageInput: 2_500_000_000, ImageOutput: 10_000_000_000}, audio.Standard)

	// The realtime row's cache_creation_input_audio_token_cost is its cached audio price.
	rt, _ := tab.Lookup("m-realtime")
	require.Equal(t, TierPrice{Input: 4_000_000_000, CachedInput: 400_000_000, CacheWrite: 4_000_000_000,
		AudioInput: 32_000_000_000, CachedAudioInput: 400_000_000, ImageInput: 4_000_000_000}, rt.Standard)
	require.Equal(t, "realtime", rt.Mode)

	write, _ := tab.Lookup("m-write")
	require.Equal(t, int64(6_250_000_000), write.Standard.CacheWrite)
	require.Equal(t, int64(3_125_000_000), write.Flex.CacheWrite)
	require.Equal(t, int64(2_500_000_000), write.Flex.AudioInput, "halved with the flex input")

	img, _ := tab.Lookup("m-image-tokens")
	require.Equal(t, int64(10_000_000_000), img.Standard.ImageInput)
	require.Equal(t, int64(40_000_000_000), img.Standard.ImageOutput)
	require.Equal(t, int64(40_000_000_000), img.Standard.Output, "no text output price: output is image tokens")

	tts, _ := tab.Lookup("m-tts")
	require.Equal(t, Price{Standard: TierPrice{PerMCharacters: 15_000_000_000}, Mode: "audio_speech"}, tts)
	whisper, _ := tab.Lookup("m-whisper")
	require.Equal(t, TierPrice{InputPerMSeconds: 100_000_000_000, OutputPerMSeconds: 100_000_000_000}, whisper.Standard)
	video, _ := tab.Lookup("m-video")
	require.Equal(t, TierPrice{OutputPerMSeconds: 100_000_000_000_000}, video.Standard)
	perImage, _ := tab.Lookup("m-img")
	require.Equal(t, int64(40_000_000), perImage.PerImage)
	perPixel, _ := tab.Lookup("hd/1024-x-1024/m-img")
	require.Equal(t, int64(76_290_000), perPixel.PerMPixels)
	container, _ := tab.Lookup("m-container")
	require.Equal(t, int64(30_000_000), container.PerSession)
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
		{"bad audio price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_audio_token": "x"}}`, "output_cost_per_audio_token"},
		{"bad long-context price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "input_cost_per_token_above_272k_tokens": -1}}`, "input_cost_per_token_above_272k_tokens"},
		{"bad batch price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token_batches": true}}`, "output_cost_per_token_batches"},
		{"bad character price", `{"m": {"mode": "audio_speech", "input_cost_per_character": "a"}}`, `"m": input_cost_per_character`},
		{"absurd second price", `{"m": {"mode": "audio_transcription", "input_cost_per_second": 5000}}`, "input_cost_per_second"},
		{"negative image price", `{"m": {"mode": "image_generation", "input_cost_per_image": -0.04}}`, "input_cost_per_image"},
		{"bad pixel price", `{"m": {"mode": "image_generation", "input_cost_per_pixel": {}}}`, "input_cost_per_pixel"},
		{"bad session price", `{"m": {"mode": "chat", "code_interpreter_cost_per_session": "x"}}`, "code_interpreter_cost_per_session"},
		{"bad uplift", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "regional_processing_uplift_multiplier_eu": "x"}}`, "regional_processing_uplift_multiplier_eu"},
		{"absurd uplift", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "regional_processing_uplift_multiplier_us": 1000}}`, "regional_processing_uplift_multiplier_us"},
		{"search context not an object", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "search_context_cost_per_query": 0.03}}`, "search_context_cost_per_query"},
		{"bad search context price", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "search_context_cost_per_query": {"search_context_size_high": "x"}}}`, "search_context_cost_per_query.search_context_size_high"},
		{"bad reasoning flag", `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "supports_reasoning": "yes"}}`, "supports_reasoning"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := Parse(strings.NewReader(c.file))
			require.Error(t, err)
			require.Nil(t, tab)
			require.Contains(t, err.Error(), c.wantInErr)
		})
	}
	// Every invalid field of a row is reported, not just the first.
	_, err := Parse(strings.NewReader(`{"m": {"mode": "chat", "input_cost_per_token": -1, "output_cost_per_audio_token": "x"}}`))
	require.ErrorIs(t, err, ErrInvalidAmount)
	require.ErrorContains(t, err, "input_cost_per_token")
	require.ErrorContains(t, err, "output_cost_per_audio_token")
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
