package usage

import "strings"

// ImageTokensMax is the most prompt tokens one image part can cost on model, or 0 when
// Proxide knows no maximum for the model's family (the caller then bounds the prompt by
// the model's context window).
//
// OpenAI prices an input image by its size after scaling, so every family has a maximum
// whatever the image or its "detail":
//   - tile-based families (gpt-4o, gpt-4.1, o1, o3, gpt-5, computer-use): the image is
//     fitted into 2048×2048, then its short side scaled to 768 px, so at most 4×2 = 8
//     tiles of 512 px: base + 8 × per-tile tokens;
//   - patch-based families (gpt-4.1-mini/nano, o4-mini, gpt-5-mini/nano): at most 1536
//     patches of 32 px, times the family's multiplier.
//
// Source: OpenAI's "Images and vision" guide, "Calculating costs" (base and per-tile
// tokens, patch multipliers). A family name covers its "-suffixed" variants; longer
// names are listed first.
func ImageTokensMax(model string) int64 {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 { // "openai/gpt-4o"
		m = m[i+1:]
	}
	m = strings.TrimPrefix(m, "ft:")
	for _, f := range imageFamilies {
		// The family name must end where the model's name or a "-suffix" does:
		// "gpt-5" covers gpt-5-2025-08-07 but not gpt-5.4.
		if rest, ok := strings.CutPrefix(m, f.prefix); ok && (rest == "" || rest[0] == '-' || rest[0] == ':') {
			return f.max
		}
	}
	return 0
}

type imageFamily struct {
	prefix string
	max    int64
}

func tiles(base, perTile int64) int64 { return base + 8*perTile }
func patches(mult float64) int64      { return int64(1536*mult + 0.999) }

// imageFamilies is searched in order: a longer prefix must come before a shorter one.
var imageFamilies = []imageFamily{
	{"gpt-4o-mini", tiles(2833, 5667)},
	{"gpt-4.1-mini", patches(1.62)},
	{"gpt-4.1-nano", patches(2.46)},
	{"gpt-5-mini", patches(1.62)},
	{"gpt-5-nano", patches(2.46)},
	{"o4-mini", patches(1.72)},
	{"gpt-4o", tiles(85, 170)},
	{"chatgpt-4o", tiles(85, 170)},
	{"gpt-4.1", tiles(85, 170)},
	{"gpt-4.5", tiles(85, 170)},
	{"gpt-4-turbo", tiles(85, 170)},
	{"o1", tiles(75, 150)},
	{"o3", tiles(75, 150)},
	{"computer-use", tiles(65, 129)},
	{"gpt-5", tiles(70, 140)}, // not gpt-5.x, which may read images at a higher detail
}
