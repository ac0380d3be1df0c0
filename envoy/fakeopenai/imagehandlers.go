package fakeopenai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
)

// imageGenerations answers POST /v1/images/generations (JSON).
func (ex *exchange) imageGenerations() error {
	var req imageRequest
	if !ex.decode(&req) {
		return nil
	}
	p := ex.planImages(req, 0, true)
	if p == nil {
		return nil
	}
	return ex.answerImages(p, "image_generation")
}

// imageEdits answers POST /v1/images/edits (multipart: image or image[]
// files, mask, prompt, model, n, size, quality, input_fidelity, stream…).
func (ex *exchange) imageEdits() error {
	f, ok := ex.parseForm()
	if !ok {
		return nil
	}
	req := imageFormRequest(f)
	images := f.fileList("image")
	if len(images) == 0 {
		ex.invalid("Missing required parameter: 'image'.", "image")
		return nil
	}
	p := ex.planImages(req, len(images), true)
	if p == nil {
		return nil
	}
	if !p.gpt && len(images) > 1 {
		ex.invalid("Only one image may be provided for model '"+p.req.Model+"'.", "image")
		return nil
	}
	return ex.answerImages(p, "image_edit")
}

// imageVariations answers POST /v1/images/variations (multipart, dall-e-2 only).
func (ex *exchange) imageVariations() error {
	f, ok := ex.parseForm()
	if !ok {
		return nil
	}
	req := imageFormRequest(f)
	if req.Model == "" {
		req.Model = "dall-e-2"
	}
	if req.Model != "dall-e-2" {
		ex.invalid("Invalid model '"+req.Model+"'. Only 'dall-e-2' supports image variations.", "model")
		return nil
	}
	if len(f.fileList("image")) == 0 {
		ex.invalid("Missing required parameter: 'image'.", "image")
		return nil
	}
	p := ex.planImages(req, 1, false)
	if p == nil {
		return nil
	}
	ex.writeJSON(http.StatusOK, ex.imagesAnswer(p))
	return nil
}

func imageFormRequest(f *form) imageRequest {
	req := imageRequest{
		Model: f.get("model"), Prompt: f.get("prompt"), Size: f.get("size"), Quality: f.get("quality"),
		ResponseFormat: f.get("response_format"), OutputFormat: f.get("output_format"),
		Background: f.get("background"), InputFidelity: f.get("input_fidelity"),
		Stream: f.boolean("stream"), PartialImages: f.integer("partial_images", 0), Moderation: f.get("moderation"),
	}
	if f.get("n") != "" {
		n := f.integer("n", 0)
		req.N = &n
	}
	return req
}

func (ex *exchange) answerImages(p *imagePlan, eventPrefix string) error {
	if p.req.Stream {
		return ex.streamImages(p, eventPrefix)
	}
	ex.writeJSON(http.StatusOK, ex.imagesAnswer(p))
	return nil
}

// imageEventJSON is image_generation.* / image_edit.* (partial_image, completed).
type imageEventJSON struct {
	Type              string          `json:"type"`
	B64JSON           string          `json:"b64_json"`
	CreatedAt         int64           `json:"created_at"`
	Size              string          `json:"size"`
	Quality           string          `json:"quality"`
	Background        string          `json:"background"`
	OutputFormat      string          `json:"output_format"`
	PartialImageIndex *int            `json:"partial_image_index,omitempty"`
	Usage             json.RawMessage `json:"usage,omitempty"`
}

// streamImages sends, for each image, partial_images (0–3) partial_image
// events and one completed event carrying that image's usage; the prompt
// and uploads are charged on the first image, so the completed usages add
// up to the non-streaming usage.
func (ex *exchange) streamImages(p *imagePlan, prefix string) error {
	s := ex.startSSE()
	b64 := imageB64(p.ofmt)
	base := imageEventJSON{B64JSON: b64, CreatedAt: ex.created(), Size: p.size, Quality: p.quality,
		Background: p.background, OutputFormat: p.ofmt}
	for i := range p.n {
		for k := range min(max(p.req.PartialImages, 0), 3) {
			ev := base
			ev.Type, ev.PartialImageIndex = prefix+".partial_image", &k
			if err := s.event(ev.Type, ev); err != nil {
				return err
			}
		}
		ev := base
		ev.Type = prefix + ".completed"
		ev.Usage = ex.ctl.usageJSON(p.usage(1, i == 0))
		if err := s.event(ev.Type, ev); err != nil {
			return err
		}
	}
	return nil
}

// imageB64 is a base64 1×1 image: JPEG for jpeg, PNG otherwise (webp too:
// the standard library has no webp encoder).
func imageB64(format string) string {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.NRGBA{R: 0x10, G: 0xA3, B: 0x7F, A: 0xFF})
	var buf bytes.Buffer
	if format == "jpeg" {
		_ = jpeg.Encode(&buf, img, nil)
	} else {
		_ = png.Encode(&buf, img)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
