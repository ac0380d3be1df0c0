package extproc

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/proxide/proxide/internal/endpoints"
	"github.com/proxide/proxide/internal/media"
	"github.com/proxide/proxide/pricing"
)

// Operations billed in their own units (images, characters, seconds of audio or
// video, container sessions) rather than by a chat-like token usage. Each is
// priced at the request (exactly when the request tells everything, else its
// worst case) and settled from the response where it reports more.

// unitOperations are the metered operations of this file.
var unitOperations = map[endpoints.Operation]bool{
	endpoints.ImagesGenerate: true, endpoints.ImagesEdit: true, endpoints.ImagesVariation: true,
	endpoints.AudioSpeech: true, endpoints.AudioTranscription: true, endpoints.AudioTranslation: true,
	endpoints.ContainersCreate: true,
	endpoints.VideosCreate:     true, endpoints.VideosRemix: true, endpoints.VideosEdit: true, endpoints.VideosExtend: true,
}

// multipartOperations send multipart/form-data bodies (file uploads).
var multipartOperations = map[endpoints.Operation]bool{
	endpoints.ImagesEdit: true, endpoints.ImagesVariation: true,
	endpoints.AudioTranscription: true, endpoints.AudioTranslation: true,
}

// Bounds of the worst cases that the request does not fix.
const (
	// maxInputImageTokens bounds one uploaded image of an image edit
	// (gpt-image models tile an input image; high input fidelity costs most).
	maxInputImageTokens = 10_000
	// partialImageTokens is what each streamed partial image adds (OpenAI:
	// 100 image output tokens per partial image).
	partialImageTokens = 100
	// speechSecondsPerChar bounds speech length at speed 1: slower than any
	// voice reads (4 characters a second).
	speechSecondsPerChar = 0.25
	// speechTokensPerSecond bounds gpt-4o-mini-tts audio tokens per second of
	// speech (OpenAI prices it at $12/M tokens ≈ $0.015/min, i.e. ≈ 21/s).
	speechTokensPerSecond = 30
	// maxVideoSeconds bounds a remixed, edited or extended video whose length
	// the request does not give.
	maxVideoSeconds = 25
)

// unit is the metering state of a unit-priced request.
type unit struct {
	model string
	row   string // the price row, when it is not the model's (sora-2-pro high resolution)
	// exact: the request fixes the charge (dall-e images, tts-1 characters,
	// container sessions, video seconds, a whisper file of exact duration).
	exact     bool
	exactNano int64
	// tokens: the response reports a token usage to settle from (gpt-image,
	// gpt-4o transcriptions, gpt-4o-mini-tts as SSE).
	tokens bool
	// imageOutput: the response's output tokens are image tokens.
	imageOutput bool
	// audioOutput: the response's output tokens are audio tokens (speech SSE).
	audioOutput bool
	// speech binary: its duration is measured from the audio bytes.
	duration *media.DurationMeter
	// inputChars of a speech request (its input tokens are bounded by them).
	inputChars int64
	// seconds: a video's length is read from the response (remix, edit, extend).
	seconds bool
	// form is the multipart body being read.
	form *media.Form
	// fileDuration measures an uploaded audio file.
	fileDuration *media.DurationMeter
	estimated    bool // the exact charge is itself an estimate (a duration bound, a session price)
}

// speechRequest, imageRequest, videoRequest and containerRequest are the JSON
// bodies of those operations; numbers arrive as numbers or strings.
type speechRequest struct {
	Model          string      `json:"model"`
	Input          string      `json:"input"`
	Instructions   string      `json:"instructions"`
	Speed          json.Number `json:"speed"`
	ResponseFormat string      `json:"response_format"`
	StreamFormat   string      `json:"stream_format"`
}

type imageRequest struct {
	Model         string      `json:"model"`
	Prompt        string      `json:"prompt"`
	N             json.Number `json:"n"`
	Size          string      `json:"size"`
	Quality       string      `json:"quality"`
	PartialImages json.Number `json:"partial_images"`
}

type videoRequest struct {
	Model   string      `json:"model"`
	Seconds json.Number `json:"seconds"`
	Size    string      `json:"size"`
}

type containerRequest struct {
	MemoryLimit string `json:"memory_limit"`
}

// estimateUnit prices the worst case of a unit-priced request from its body
// (JSON) or the multipart form read so far (x.unit.form), and sets e.nano.
func (x *exchange) estimateUnit(body []byte, form media.FormResult) (estimate, error) {
	u := x.unit
	var e estimate
	var err error
	switch x.route.Operation {
	case endpoints.ImagesGenerate:
		var r imageRequest
		if err = decodeUnit(body, &r); err == nil {
			e, err = x.imageEstimate(r, nil)
		}
	case endpoints.ImagesEdit, endpoints.ImagesVariation:
		r := imageRequest{Model: formValue(form, "model"), Prompt: formValue(form, "prompt"), N: json.Number(formValue(form, "n")),
			Size: formValue(form, "size"), Quality: formValue(form, "quality"), PartialImages: json.Number(formValue(form, "partial_images"))}
		e, err = x.imageEstimate(r, form.Files)
	case endpoints.AudioSpeech:
		var r speechRequest
		if err = decodeUnit(body, &r); err == nil {
			e, err = x.speechEstimate(r)
		}
	case endpoints.AudioTranscription, endpoints.AudioTranslation:
		e, err = x.transcriptionEstimate(form)
	case endpoints.ContainersCreate:
		var r containerRequest
		if err = decodeUnit(body, &r); err == nil {
			fee := containerFee(r.MemoryLimit, x.s.opts.Pricer.Fees())
			u.exact, u.exactNano, u.estimated, u.model = true, fee, true, "container:"+orDefault(r.MemoryLimit, "1g")
			e = estimate{model: u.model, nano: fee, known: true}
		}
	default: // videos
		var r videoRequest
		if len(body) > 0 && body[0] == '{' {
			err = decodeUnit(body, &r)
		} else {
			r = videoRequest{Model: formValue(form, "model"), Seconds: json.Number(formValue(form, "seconds")), Size: formValue(form, "size")}
		}
		if err == nil {
			e, err = x.videoEstimate(r)
		}
	}
	return e, err
}

func decodeUnit(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the body is not the JSON this endpoint takes: %w", err)
	}
	return nil
}

func formValue(f media.FormResult, name string) string {
	v, _ := f.Value(name)
	return v
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

// number reads an optional positive count; def when absent.
func number(n json.Number, def int64, name string) (int64, error) {
	if n == "" {
		return def, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e6 || math.IsNaN(f) {
		return 0, fmt.Errorf("field %q must be a number between 0 and 1e6", name)
	}
	return int64(math.Ceil(f)), nil
}

// lookupUnit finds a unit model's prices and its row (shared: read-only), or
// says it cannot be priced.
func (x *exchange) lookupUnit(model string) (pricing.TierPrice, pricing.Price, error) {
	info, known, err := x.s.opts.Pricer.Row(model)
	tp := info.For(pricing.Quote{Region: x.s.opts.Region})
	if err == nil && !known {
		// The fallback price is per token; it cannot price images, audio or
		// video, so an unknown model of these endpoints is refused.
		err = fmt.Errorf("model %q has no price in Proxide's price table", model)
	}
	return tp, info, err
}

// imageEstimate: dall-e images are priced per image by size and quality (exact);
// gpt-image requests are reserved at the most expensive image of their size and
// quality ("auto" = the worst), plus the prompt and the uploaded images, and
// settled from the response's token usage.
func (x *exchange) imageEstimate(r imageRequest, files []media.FilePart) (estimate, error) {
	u := x.unit
	model := orDefault(r.Model, "dall-e-2")
	n, err := number(r.N, 1, "n")
	if err != nil {
		return estimate{}, err
	}
	partial, err := number(r.PartialImages, 0, "partial_images")
	if err != nil {
		return estimate{}, err
	}
	u.model = model
	perImage, known := x.s.opts.Pricer.ImagePrice(model, r.Size, r.Quality)
	if !known {
		if perImage, known = x.s.opts.Pricer.ImagePriceMax(model); !known {
			perImage = 0
		}
	}
	tp, info, err := x.lookupUnit(model)
	if err != nil && perImage == 0 {
		return estimate{}, err
	}
	if strings.HasPrefix(strings.ToLower(model), "dall-e") {
		u.exact, u.exactNano = true, perImage*n
		return estimate{model: model, known: true, row: factsOf(info), nano: u.exactNano}, nil
	}
	u.tokens, u.imageOutput = true, true
	prompt := int64(len(r.Prompt)) + 16 // a token is at least one byte; framing
	inImages := int64(0)
	for _, f := range files {
		if strings.HasPrefix(f.Field, "image") || f.Field == "mask" {
			inImages++
		}
	}
	fees := perImage*n + imageOutputCost(tp, partial*n*partialImageTokens)
	nano, err := pricing.CostOf(worstImageInput(tp), pricing.Usage{PromptTokens: prompt + inImages*maxInputImageTokens, FeeNano: fees})
	return estimate{model: model, known: true, row: factsOf(info), prompt: prompt, nano: nano}, err
}

// worstImageInput prices every input token at the higher of the text and
// image input prices.
func worstImageInput(tp pricing.TierPrice) pricing.TierPrice {
	in := max(tp.Input, tp.ImageInput, tp.CacheWrite)
	return pricing.TierPrice{Input: in, CachedInput: in, CacheWrite: in, ImageInput: in, AudioInput: in, CachedAudioInput: in}
}

func imageOutputCost(tp pricing.TierPrice, tokens int64) int64 {
	c, _ := pricing.CostOf(pricing.TierPrice{Output: max(tp.ImageOutput, tp.Output)}, pricing.Usage{CompletionTokens: tokens})
	return c
}

// speechEstimate: tts-1 and tts-1-hd bill input characters (exact);
// gpt-4o-mini-tts bills input tokens and the audio it generates, reserved at
// the longest speech its input can make.
func (x *exchange) speechEstimate(r speechRequest) (estimate, error) {
	u := x.unit
	u.model = orDefault(r.Model, "tts-1")
	tp, info, err := x.lookupUnit(u.model)
	if err != nil {
		return estimate{}, err
	}
	chars := int64(len([]rune(r.Input)))
	u.inputChars = chars + int64(len([]rune(r.Instructions)))
	if tp.PerMCharacters > 0 {
		u.exact = true
		u.exactNano, err = pricing.CostOf(tp, pricing.Usage{Characters: chars})
		return estimate{model: u.model, known: true, row: factsOf(info), nano: u.exactNano}, err
	}
	speed := 1.0
	if r.Speed != "" {
		if speed, err = r.Speed.Float64(); err != nil || speed <= 0 {
			return estimate{}, fmt.Errorf("field \"speed\" must be a positive number")
		}
	}
	speed = max(speed, 0.25) // OpenAI's slowest speed
	seconds := float64(chars)*speechSecondsPerChar/speed + 1
	if strings.EqualFold(r.StreamFormat, "sse") {
		u.tokens, u.audioOutput = true, true
	} else {
		u.duration = media.NewDurationMeter(orDefault(r.ResponseFormat, "mp3"))
	}
	inputTokens := u.inputChars*4 + 16 // bytes of UTF-8 bound tokens
	perSecond, _ := pricing.CostOf(tp, pricing.Usage{OutputMillis: int64(math.Ceil(seconds * 1000))})
	perToken, _ := pricing.CostOf(pricing.TierPrice{Output: max(tp.AudioOutput, tp.Output)},
		pricing.Usage{CompletionTokens: int64(math.Ceil(seconds * speechTokensPerSecond))})
	in, _ := pricing.CostOf(pricing.TierPrice{Input: tp.Input}, pricing.Usage{PromptTokens: inputTokens})
	return estimate{model: u.model, known: true, row: factsOf(info), prompt: inputTokens, nano: in + max(perSecond, perToken)}, nil
}

// transcriptionEstimate: whisper-1 bills seconds of audio, measured from the
// uploaded file (exact for WAV, MP3, FLAC, Ogg, M4A; else bounded by its
// size); gpt-4o transcription models bill tokens, reserved at their context
// window and maximum output.
func (x *exchange) transcriptionEstimate(form media.FormResult) (estimate, error) {
	u := x.unit
	u.model = orDefault(formValue(form, "model"), "whisper-1")
	tp, info, err := x.lookupUnit(u.model)
	if err != nil {
		return estimate{}, err
	}
	if tp.InputPerMSeconds > 0 {
		d, exact := time.Duration(0), false
		if u.fileDuration != nil {
			d, exact = u.fileDuration.Result()
		}
		millis := d.Milliseconds()
		u.exact, u.estimated = true, !exact
		u.exactNano, err = pricing.CostOf(pricing.TierPrice{InputPerMSeconds: tp.InputPerMSeconds}, pricing.Usage{InputMillis: millis})
		return estimate{model: u.model, known: true, row: factsOf(info), nano: u.exactNano}, err
	}
	u.tokens = true
	in := info.MaxInputTokens
	if in <= 0 {
		in = unknownContextTokens
	}
	out := info.MaxOutputTokens
	if out <= 0 {
		out = unknownOutputTokens
	}
	worst := pricing.TierPrice{Input: max(tp.Input, tp.AudioInput), Output: tp.Output}
	nano, err := pricing.CostOf(worst, pricing.Usage{PromptTokens: in, CompletionTokens: out})
	return estimate{model: u.model, known: true, row: factsOf(info), prompt: in, output: out, nano: nano}, err
}

// videoEstimate: Sora bills seconds of video at the model's per-second price
// (sora-2-pro at its high-resolution price for 1024x1792 and 1792x1024),
// exact when the request gives the length.
func (x *exchange) videoEstimate(r videoRequest) (estimate, error) {
	u := x.unit
	u.model = orDefault(r.Model, "sora-2")
	row := u.model
	if strings.EqualFold(u.model, "sora-2-pro") && (r.Size == "1024x1792" || r.Size == "1792x1024") {
		row = "sora-2-pro-high-res"
	}
	tp, info, err := x.lookupUnit(row)
	if err != nil {
		return estimate{}, err
	}
	u.row = row
	seconds, err := number(r.Seconds, 0, "seconds")
	if err != nil {
		return estimate{}, err
	}
	if seconds == 0 {
		if x.route.Operation == endpoints.VideosCreate {
			seconds = 4 // OpenAI's default length
		} else {
			seconds, u.seconds = maxVideoSeconds, true
		}
	}
	nano, err := pricing.CostOf(pricing.TierPrice{OutputPerMSeconds: tp.OutputPerMSeconds}, pricing.Usage{OutputMillis: seconds * 1000})
	if !u.seconds {
		u.exact, u.exactNano = true, nano
	}
	return estimate{model: u.model, known: true, row: factsOf(info), nano: nano}, err
}

// parseSeconds reads a video object's "seconds" ("8" or 8).
func parseSeconds(raw json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(raw)
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n <= 0 || n > 3600 {
		return 0, false
	}
	return int64(math.Ceil(n)), true
}
