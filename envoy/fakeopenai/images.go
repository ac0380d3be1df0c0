package fakeopenai

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Image token formulas: see the package doc. The output table is OpenAI's
// published one for gpt-image-1 (1024x1024: 272/1056/4160 for low/medium/
// high; 1024x1536 and 1536x1024: 408/1584/6240), which is exactly
// base × area / 1024², so other sizes (gpt-image-2) follow the same rule.
const (
	imageTokensLowFidelity  = 323
	imageTokensHighFidelity = 323 + 4160
	imageTextOutputTokens   = 16
)

var imageQualityBase = map[string]int{"low": 272, "medium": 1056, "high": 4160}

type imageRequest struct {
	Model          string `json:"model"`
	Prompt         string `json:"prompt"`
	N              *int   `json:"n"`
	Size           string `json:"size"`
	Quality        string `json:"quality"`
	ResponseFormat string `json:"response_format"`
	OutputFormat   string `json:"output_format"`
	Background     string `json:"background"`
	InputFidelity  string `json:"input_fidelity"`
	Stream         bool   `json:"stream"`
	PartialImages  int    `json:"partial_images"`
	Moderation     string `json:"moderation"`
}

// imagePlan is one image request, resolved.
type imagePlan struct {
	req                              imageRequest
	gpt                              bool // GPT image model: tokens, b64 only
	n, w, h                          int
	size, quality, background, ofmt  string
	textIn, imageIn, imageOut, txOut int // imageOut and txOut per image
}

func isGPTImage(model string) bool {
	return strings.HasPrefix(model, "gpt-image") || strings.HasPrefix(model, "chatgpt-image")
}

// reportsOutputDetails: gpt-image-1 and gpt-image-1-mini do not split output tokens.
func reportsOutputDetails(model string) bool {
	return isGPTImage(model) && model != "gpt-image-1" && !strings.HasPrefix(model, "gpt-image-1-")
}

// defaultImageModel is dall-e-2 unless a parameter only GPT image models take is used.
func defaultImageModel(r *imageRequest) string {
	if r.Background != "" || r.OutputFormat != "" || r.InputFidelity != "" || r.Moderation != "" ||
		r.Stream || r.PartialImages > 0 || imageQualityBase[r.Quality] > 0 {
		return "gpt-image-1"
	}
	return "dall-e-2"
}

// planImages validates req and applies the formulas; images is the number
// of uploaded images (edits). It answers 400 itself and returns nil then.
func (ex *exchange) planImages(req imageRequest, images int, needPrompt bool) *imagePlan {
	if req.Model == "" {
		req.Model = defaultImageModel(&req)
	}
	p := &imagePlan{req: req, gpt: isGPTImage(req.Model), n: 1}
	if req.N != nil {
		p.n = *req.N
	}
	switch {
	case needPrompt && req.Prompt == "":
		ex.invalid("Missing required parameter: 'prompt'.", "prompt")
		return nil
	case p.n < 1 || p.n > 10:
		ex.invalid(fmt.Sprintf("Invalid 'n': integer below minimum value. Expected a value between 1 and 10, but got %d instead.", p.n), "n")
		return nil
	case req.Model == "dall-e-3" && p.n != 1:
		ex.invalid("You must provide n=1 for this model.", "n")
		return nil
	case req.Stream && !p.gpt:
		ex.invalid("Streaming is not supported for model '"+req.Model+"'.", "stream")
		return nil
	}
	p.size = req.Size
	if p.size == "" || p.size == "auto" {
		p.size = "1024x1024"
	}
	var ok bool
	if p.w, p.h, ok = parseSize(p.size); !ok || !sizeAllowed(req.Model, p.size) {
		ex.invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: '256x256', '512x512', '1024x1024', '1024x1536', '1536x1024', '1792x1024', '1024x1792' and 'auto'.", req.Size), "size")
		return nil
	}
	if !p.gpt {
		return p
	}
	p.quality = req.Quality
	if p.quality == "" || p.quality == "auto" {
		p.quality = "medium"
	}
	p.background, p.ofmt = req.Background, req.OutputFormat
	if p.background == "" || p.background == "auto" {
		p.background = "opaque"
	}
	if p.ofmt == "" {
		p.ofmt = "png"
	}
	if imageQualityBase[p.quality] == 0 {
		ex.invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'low', 'medium', 'high', and 'auto'.", req.Quality), "quality")
		return nil
	}
	p.textIn = PromptTokens(len(req.Prompt))
	perImage := imageTokensLowFidelity
	if req.InputFidelity == "high" {
		perImage = imageTokensHighFidelity
	}
	p.imageIn = images * perImage
	p.imageOut = ceilDiv(imageQualityBase[p.quality]*p.w*p.h, 1024*1024)
	if reportsOutputDetails(req.Model) {
		p.txOut = imageTextOutputTokens
	}
	return p
}

func parseSize(s string) (w, h int, ok bool) {
	ws, hs, found := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	return w, h, found && err1 == nil && err2 == nil && w > 0 && h > 0
}

func sizeAllowed(model, size string) bool {
	switch model {
	case "dall-e-2":
		return size == "256x256" || size == "512x512" || size == "1024x1024"
	case "dall-e-3":
		return size == "1024x1024" || size == "1792x1024" || size == "1024x1792"
	}
	// GPT image models: the standard sizes; gpt-image-2 takes any multiple of 16.
	w, h, _ := parseSize(size)
	return size == "1024x1024" || size == "1024x1536" || size == "1536x1024" ||
		strings.HasPrefix(model, "gpt-image-2") && w%16 == 0 && h%16 == 0
}

type imagesResponseJSON struct {
	Created      int64           `json:"created"`
	Background   string          `json:"background,omitempty"`
	Data         []imageJSON     `json:"data"`
	OutputFormat string          `json:"output_format,omitempty"`
	Quality      string          `json:"quality,omitempty"`
	Size         string          `json:"size,omitempty"`
	Usage        json.RawMessage `json:"usage,omitempty"`
}

type imageJSON struct {
	URL           string `json:"url,omitempty"`
	B64JSON       string `json:"b64_json,omitempty"`
	RevisedPrompt string `json:"revised_prompt,omitempty"`
}

type imageUsageJSON struct {
	InputTokens         int               `json:"input_tokens"`
	InputTokensDetails  imageDetailsJSON  `json:"input_tokens_details"`
	OutputTokens        int               `json:"output_tokens"`
	TotalTokens         int               `json:"total_tokens"`
	OutputTokensDetails *imageDetailsJSON `json:"output_tokens_details,omitempty"`
}

type imageDetailsJSON struct {
	ImageTokens int `json:"image_tokens"`
	TextTokens  int `json:"text_tokens"`
}

// usage is the usage of images images, with the prompt (and uploads) when
// withInput — a stream charges the input on its first image only.
func (p *imagePlan) usage(images int, withInput bool) imageUsageJSON {
	u := imageUsageJSON{OutputTokens: images * (p.imageOut + p.txOut)}
	if withInput {
		u.InputTokens = p.textIn + p.imageIn
		u.InputTokensDetails = imageDetailsJSON{ImageTokens: p.imageIn, TextTokens: p.textIn}
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens
	if reportsOutputDetails(p.req.Model) {
		u.OutputTokensDetails = &imageDetailsJSON{ImageTokens: images * p.imageOut, TextTokens: images * p.txOut}
	}
	return u
}

// answer is the non-streaming ImagesResponse.
func (ex *exchange) imagesAnswer(p *imagePlan) imagesResponseJSON {
	out := imagesResponseJSON{Created: ex.created(), Data: make([]imageJSON, p.n)}
	for i := range out.Data {
		switch {
		case p.gpt:
			out.Data[i].B64JSON = imageB64(p.ofmt)
		case p.req.ResponseFormat == "b64_json":
			out.Data[i].B64JSON = imageB64("png")
		default:
			out.Data[i].URL = fmt.Sprintf("https://images.fake-openai.test/img-fake%06d-%d.png", ex.id, i)
		}
		if p.req.Model == "dall-e-3" {
			out.Data[i].RevisedPrompt = p.req.Prompt
		}
	}
	if p.gpt {
		out.Background, out.OutputFormat, out.Quality, out.Size = p.background, p.ofmt, p.quality, p.size
		out.Usage = ex.ctl.usageJSON(p.usage(p.n, true))
	}
	return out
}
