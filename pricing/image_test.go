package pricing

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestImagePrice(t *testing.T) {
	p := New(Options{})
	cases := []struct {
		model, size, quality string
		want                 int64 // nano-USD per image; -1 = unknown
	}{
		// dall-e-3 rows are per pixel: 3.81469e-08 × 1024×1024 = $0.0399999,
		// rounded to the tenth of a cent: $0.04.
		{"dall-e-3", "1024x1024", "standard", 40_000_000},
		{"dall-e-3", "1024x1024", "", 40_000_000},     // default quality
		{"dall-e-3", "1024x1024", "auto", 40_000_000}, // OpenAI's auto is standard on dall-e-3
		{"dall-e-3", "", "", 40_000_000},              // default size 1024x1024
		// 6.539e-08 × 1024×1792 = $0.1199912 → $0.12.
		{"dall-e-3", "1024x1792", "hd", 120_000_000},
		{"DALL-E-3", "1792X1024", "HD", 120_000_000},
		{"openai/dall-e-3", "1024-x-1792", "hd", 120_000_000},
		// 7.629e-08 × 1024×1024 = $0.0799959 → $0.08; 4.359e-08 × 1024×1792 = $0.079988 → $0.08.
		{"dall-e-3", "1024x1024", "hd", 80_000_000},
		{"dall-e-3", "1024x1792", "standard", 80_000_000},
		// Worst cases: auto size = every standard size; an unknown quality = every quality.
		{"dall-e-3", "auto", "standard", 80_000_000},
		{"dall-e-3", "1024x1024", "ultra", 80_000_000},
		{"dall-e-3", "256x256", "standard", -1},
		// dall-e-2: 2.4414e-07 × 256×256 = $0.01599996 → $0.016;
		// 6.86e-08 × 512×512 = $0.01798 → $0.018; 1.9e-08 × 1024×1024 = $0.01992 → $0.02.
		{"dall-e-2", "256x256", "", 16_000_000},
		{"dall-e-2", "512x512", "standard", 18_000_000},
		{"dall-e-2", "1024x1024", "hd", 20_000_000}, // a single quality
		{"dall-e-2", "", "", 20_000_000},
		// gpt-image-1 rows are per image.
		{"gpt-image-1", "1536x1024", "high", 250_000_000},
		{"gpt-image-1", "1024x1024", "low", 11_000_000},
		{"gpt-image-1", "1024x1536", "medium", 63_000_000},
		{"GPT-Image-1", "1024x1024", "auto", 167_000_000},     // worst quality at that size
		{"gpt-image-1", "1024x1024", "standard", 167_000_000}, // not a gpt-image quality
		{"gpt-image-1", "auto", "low", 16_000_000},            // worst size at that quality
		{"gpt-image-1", "", "", 250_000_000},                  // worst of everything
		{"gpt-image-1-2099-01-01", "1024x1024", "low", 11_000_000},
		{"gpt-image-1", "2048x2048", "high", -1},
		{"gpt-image-1", "huge", "high", -1},
		// gpt-image-1-mini: low and medium from the snapshot, high from the supplement.
		{"gpt-image-1-mini", "1024x1024", "low", 5_000_000},
		{"gpt-image-1-mini", "1024x1024", "high", 36_000_000},
		{"gpt-image-1-mini", "", "auto", 52_000_000},
		{"gpt-image-1.5", "1024x1536", "high", 200_000_000},
		{"gpt-image-1.5-2025-12-16", "1024x1024", "medium", 34_000_000},
		// Token-priced only, or not an image model at all.
		{"gpt-image-2", "1024x1024", "high", -1},
		{"gpt-4o", "1024x1024", "", -1},
		{"no-such-model", "1024x1024", "", -1},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.size+"/"+c.quality, func(t *testing.T) {
			got, known := p.ImagePrice(c.model, c.size, c.quality)
			if c.want < 0 {
				require.False(t, known)
				require.Zero(t, got)
				return
			}
			require.True(t, known)
			require.Equal(t, c.want, got)
		})
	}
}

func TestImagePriceMax(t *testing.T) {
	p := New(Options{})
	for model, want := range map[string]int64{
		"dall-e-3":         120_000_000, // hd 1024x1792
		"dall-e-2":         20_000_000,  // 1024x1024
		"gpt-image-1":      250_000_000, // high 1536x1024
		"gpt-image-1-mini": 52_000_000,  // high 1024x1536
		"gpt-image-1.5":    200_000_000, // high 1024x1536
	} {
		got, known := p.ImagePriceMax(model)
		require.True(t, known, model)
		require.Equal(t, want, got, model)
	}
	_, known := p.ImagePriceMax("gpt-image-2")
	require.False(t, known)
	_, known = p.ImagePriceMax("nope")
	require.False(t, known)
}

func TestImagePriceRowOnly(t *testing.T) {
	// Custom models without per-size rows use their own row.
	tab := Default().With(map[string]Price{
		"my-image": {PerImage: 50_000_000, Mode: "image_generation"},
		// 1e-7 USD per pixel: 1000×1000 pixels = $0.10.
		"my-pixel": {PerMPixels: 100_000_000, Mode: "image_generation"},
	})
	got, known := tab.ImagePrice("my-image", "1024x1024", "hd")
	require.True(t, known)
	require.Equal(t, int64(50_000_000), got)
	got, known = tab.ImagePriceMax("my-image")
	require.True(t, known)
	require.Equal(t, int64(50_000_000), got)
	got, known = tab.ImagePrice("my-pixel", "1000x1000", "")
	require.True(t, known)
	require.Equal(t, int64(100_000_000), got)
	_, known = tab.ImagePrice("my-pixel", "", "")
	require.False(t, known, "a pixel price needs a size")
	_, known = tab.ImagePriceMax("my-pixel")
	require.False(t, known)
}

func TestPixelPrice(t *testing.T) {
	// Rounded to the tenth of a cent: 3.81469e-08 USD/pixel × 1048576.
	require.Equal(t, int64(40_000_000), pixelPrice(38_146_900, 1024*1024))
	// Below $0.0005 the exact nano-USD: 1e-15 USD/pixel × 1e6 pixels = 1 nano.
	require.Equal(t, int64(1), pixelPrice(1, 1_000_000))
	// $0.0006 rounds to $0.001.
	require.Equal(t, int64(1_000_000), pixelPrice(600, 1_000_000_000))
	require.Equal(t, int64(math.MaxInt64), pixelPrice(math.MaxInt64, maxSide*maxSide), "saturates")
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		w, h int64
		ok   bool
	}{
		{"1024x1024", 1024, 1024, true},
		{"1024-x-1792", 1024, 1792, true},
		{"1x1", 1, 1, true},
		{"65535x65535", 65535, 65535, true},
		{"65536x1", 0, 0, false},
		{"0x10", 0, 0, false},
		{"-1x10", 0, 0, false},
		{"x", 0, 0, false},
		{"1024", 0, 0, false},
		{"auto", 0, 0, false},
		{"1024x1024x2", 0, 0, false},
	}
	for _, c := range cases {
		w, h, ok := parseSize(c.in)
		require.Equal(t, c.ok, ok, c.in)
		require.Equal(t, c.w, w, c.in)
		require.Equal(t, c.h, h, c.in)
	}
}
