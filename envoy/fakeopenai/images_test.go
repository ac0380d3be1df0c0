package fakeopenai

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// imagesResponse is shaped like openai-python's ImagesResponse.
type imagesResponse struct {
	Created int64 `json:"created"`
	Data    []struct {
		URL           string `json:"url"`
		B64JSON       string `json:"b64_json"`
		RevisedPrompt string `json:"revised_prompt"`
	} `json:"data"`
	Background   string       `json:"background"`
	OutputFormat string       `json:"output_format"`
	Quality      string       `json:"quality"`
	Size         string       `json:"size"`
	Usage        *imagesUsage `json:"usage"`
}

type imagesUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		ImageTokens int `json:"image_tokens"`
		TextTokens  int `json:"text_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	TotalTokens         int `json:"total_tokens"`
	OutputTokensDetails *struct {
		ImageTokens int `json:"image_tokens"`
		TextTokens  int `json:"text_tokens"`
	} `json:"output_tokens_details"`
}

const otterPrompt = "A cute baby sea otter" // 21 bytes: PromptTokens = 21/4 + 7 = 12

func TestImageGenerationsDallE(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/images/generations", `{"prompt":"`+otterPrompt+`","n":2}`, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NotContains(t, r.body, `"usage"`, "dall-e answers carry no usage")
	var ir imagesResponse
	decodeInto(t, r.body, &ir)
	require.Equal(t, int64(1_700_000_000), ir.Created)
	require.Len(t, ir.Data, 2)
	require.True(t, strings.HasPrefix(ir.Data[0].URL, "https://"), "dall-e-2 (the default) answers URLs")
	require.Empty(t, ir.Data[0].RevisedPrompt)

	r = call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-3","prompt":"`+otterPrompt+`","response_format":"b64_json","size":"1792x1024"}`, nil)
	decodeInto(t, r.body, &ir)
	require.Equal(t, otterPrompt, ir.Data[0].RevisedPrompt)
	requirePNG(t, ir.Data[0].B64JSON)

	r = call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-3","prompt":"x","n":2}`, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	r = call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-2","prompt":"x","size":"1536x1024"}`, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, `"param":"size"`)
	r = call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-2"}`, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestImageGenerationsGPTImageTokenTable(t *testing.T) {
	_, srv := start(t)
	cases := []struct {
		quality, size string
		perImage      int
		wantQ, wantS  string
	}{
		{"low", "1024x1024", 272, "low", "1024x1024"},
		{"medium", "1024x1024", 1056, "medium", "1024x1024"},
		{"high", "1024x1024", 4160, "high", "1024x1024"},
		{"low", "1024x1536", 408, "low", "1024x1536"},
		{"medium", "1536x1024", 1584, "medium", "1536x1024"},
		{"high", "1024x1536", 6240, "high", "1024x1536"},
		{"auto", "auto", 1056, "medium", "1024x1024"},
		{"", "", 1056, "medium", "1024x1024"},
	}
	for _, tc := range cases {
		t.Run(tc.quality+"/"+tc.size, func(t *testing.T) {
			body := `{"model":"gpt-image-1","prompt":"` + otterPrompt + `","n":3,"quality":"` + tc.quality + `","size":"` + tc.size + `"}`
			r := call(t, srv, http.MethodPost, "/v1/images/generations", body, nil)
			require.Equal(t, http.StatusOK, r.status, r.body)
			var ir imagesResponse
			decodeInto(t, r.body, &ir)
			require.Equal(t, tc.wantQ, ir.Quality)
			require.Equal(t, tc.wantS, ir.Size)
			require.Equal(t, "opaque", ir.Background)
			require.Equal(t, "png", ir.OutputFormat)
			require.Len(t, ir.Data, 3)
			require.Empty(t, ir.Data[0].URL)
			requirePNG(t, ir.Data[2].B64JSON)
			u := ir.Usage
			require.NotNil(t, u)
			require.Equal(t, 12, u.InputTokens)
			require.Equal(t, 12, u.InputTokensDetails.TextTokens)
			require.Zero(t, u.InputTokensDetails.ImageTokens)
			require.Equal(t, 3*tc.perImage, u.OutputTokens)
			require.Equal(t, 12+3*tc.perImage, u.TotalTokens)
			require.Nil(t, u.OutputTokensDetails, "gpt-image-1 does not split output tokens")
		})
	}
	require.True(t, strings.HasPrefix(call(t, srv, http.MethodPost, "/v1/images/generations",
		`{"model":"gpt-image-1","prompt":"x"}`, nil).body, `{"created":1700000000,"background":"opaque","data":[{"b64_json":"`))
}

func TestImageGenerationsGPTImage15OutputDetails(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/images/generations",
		`{"model":"gpt-image-1.5","prompt":"`+otterPrompt+`","quality":"high","n":2,"output_format":"jpeg","background":"transparent"}`, nil)
	var ir imagesResponse
	decodeInto(t, r.body, &ir)
	require.Equal(t, "transparent", ir.Background)
	require.Equal(t, "jpeg", ir.OutputFormat)
	raw, err := base64.StdEncoding.DecodeString(ir.Data[0].B64JSON)
	require.NoError(t, err)
	require.Equal(t, []byte{0xFF, 0xD8}, raw[:2], "a JPEG")
	require.NotNil(t, ir.Usage.OutputTokensDetails)
	require.Equal(t, 2*4160, ir.Usage.OutputTokensDetails.ImageTokens)
	require.Equal(t, 2*16, ir.Usage.OutputTokensDetails.TextTokens)
	require.Equal(t, 2*(4160+16), ir.Usage.OutputTokens)
}

func TestImageGenerationsStream(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-image-1","prompt":"` + otterPrompt + `","stream":true,"partial_images":2,"n":2,"quality":"low"}`
	r := call(t, srv, http.MethodPost, "/v1/images/generations", body, nil)
	evs := eventsOf(t, r.body)
	var types []string
	outTotal, inTotal := 0, 0
	for _, ev := range evs {
		types = append(types, ev["type"].(string))
		require.Equal(t, "1024x1024", ev["size"])
		require.Equal(t, "low", ev["quality"])
		require.NotEmpty(t, ev["b64_json"])
		if ev["type"] == "image_generation.completed" {
			u := ev["usage"].(map[string]any)
			outTotal += num(u["output_tokens"])
			inTotal += num(u["input_tokens"])
			require.NotContains(t, ev, "partial_image_index")
		} else {
			require.NotContains(t, ev, "usage")
		}
	}
	require.Equal(t, []string{"image_generation.partial_image", "image_generation.partial_image", "image_generation.completed",
		"image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"}, types)
	require.Equal(t, 1, count(t, evs[1]["partial_image_index"]))
	require.Equal(t, 2*272, outTotal, "the completed usages add up to the non-streaming usage")
	require.Equal(t, 12, inTotal, "the prompt is charged once")

	r = call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"dall-e-3","prompt":"x","stream":true}`, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestImageEditsMultipart(t *testing.T) {
	f, srv := start(t)
	png1, png2 := tinyPNG(t), tinyPNG(t)
	body, hdr := multipartBody(t, upload("image[]", "a.png", png1), upload("image[]", "b.png", png2),
		upload("mask", "mask.png", png1), value("prompt", otterPrompt), value("model", "gpt-image-1"),
		value("quality", "low"), value("n", "1"))
	r := call(t, srv, http.MethodPost, "/v1/images/edits", body, hdr)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var ir imagesResponse
	decodeInto(t, r.body, &ir)
	require.Equal(t, 2*323, ir.Usage.InputTokensDetails.ImageTokens, "323 per image at low fidelity; the mask is free")
	require.Equal(t, 12, ir.Usage.InputTokensDetails.TextTokens)
	require.Equal(t, 2*323+12, ir.Usage.InputTokens)
	require.Equal(t, 272, ir.Usage.OutputTokens)
	require.True(t, strings.HasPrefix(f.Last().Header.Get("Content-Type"), "multipart/form-data"))

	body, hdr = multipartBody(t, upload("image", "a.png", png1), value("prompt", otterPrompt),
		value("model", "gpt-image-1"), value("input_fidelity", "high"), value("stream", "true"), value("partial_images", "1"))
	r = call(t, srv, http.MethodPost, "/v1/images/edits", body, hdr)
	evs := eventsOf(t, r.body)
	require.Len(t, evs, 2)
	require.Equal(t, "image_edit.partial_image", evs[0]["type"])
	require.Equal(t, "image_edit.completed", evs[1]["type"])
	u := evs[1]["usage"].(map[string]any)
	require.Equal(t, 4483, num(u["input_tokens_details"].(map[string]any)["image_tokens"]), "323 + 4160 at high fidelity")

	// dall-e-2 (the default without GPT-only parameters): one image, URLs, no usage.
	body, hdr = multipartBody(t, upload("image", "a.png", png1), value("prompt", "x"))
	r = call(t, srv, http.MethodPost, "/v1/images/edits", body, hdr)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NotContains(t, r.body, "usage")
	require.Contains(t, r.body, `"url":"https://`)

	r = call(t, srv, http.MethodPost, "/v1/images/edits", `{"prompt":"x"}`, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, http.StatusBadRequest, r.status)
	body, hdr = multipartBody(t, value("prompt", "x"))
	r = call(t, srv, http.MethodPost, "/v1/images/edits", body, hdr)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, `"param":"image"`)
}

func TestImageVariations(t *testing.T) {
	_, srv := start(t)
	body, hdr := multipartBody(t, upload("image", "a.png", tinyPNG(t)), value("n", "3"), value("size", "256x256"))
	r := call(t, srv, http.MethodPost, "/v1/images/variations", body, hdr)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var ir imagesResponse
	decodeInto(t, r.body, &ir)
	require.Len(t, ir.Data, 3)
	require.Nil(t, ir.Usage)

	body, hdr = multipartBody(t, upload("image", "a.png", tinyPNG(t)), value("model", "gpt-image-1"))
	r = call(t, srv, http.MethodPost, "/v1/images/variations", body, hdr)
	require.Equal(t, http.StatusBadRequest, r.status)
}

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(imageB64("png"))
	require.NoError(t, err)
	return raw
}

func requirePNG(t *testing.T, b64 string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err, "b64_json is a valid PNG")
	require.Equal(t, 1, img.Bounds().Dx())
}
