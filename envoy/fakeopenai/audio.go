package fakeopenai

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"unicode/utf8"
)

type speechRequest struct {
	Model          string   `json:"model"`
	Input          string   `json:"input"`
	Voice          any      `json:"voice"` // a name, or {"id": …} for a custom voice
	ResponseFormat string   `json:"response_format"`
	Speed          *float64 `json:"speed"`
	Instructions   string   `json:"instructions"`
	StreamFormat   string   `json:"stream_format"`
}

// speechChunkBytes is the audio carried by one speech.audio.delta event.
const speechChunkBytes = 4800

// speech answers POST /v1/audio/speech with silence of the documented length
// (see audioenc.go), as a binary body or, with stream_format sse, as
// speech.audio.delta events and a speech.audio.done carrying usage.
func (ex *exchange) speech() error {
	var req speechRequest
	if !ex.decode(&req) {
		return nil
	}
	speed := 1.0
	if req.Speed != nil {
		speed = *req.Speed
	}
	format := req.ResponseFormat
	if format == "" {
		format = "mp3"
	}
	switch {
	case req.Model == "":
		ex.invalid("Missing required parameter: 'model'.", "model")
		return nil
	case req.Input == "":
		ex.invalid("Missing required parameter: 'input'.", "input")
		return nil
	case utf8.RuneCountInString(req.Input) > 4096:
		ex.invalid("[{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should have at most 4096 characters'}]", "input")
		return nil
	case req.Voice == nil:
		ex.invalid("Missing required parameter: 'voice'.", "voice")
		return nil
	case speed < 0.25 || speed > 4:
		ex.invalid(fmt.Sprintf("Invalid 'speed': %g. Expected a value between 0.25 and 4.0.", speed), "speed")
		return nil
	case req.StreamFormat == "sse" && (req.Model == "tts-1" || req.Model == "tts-1-hd"):
		ex.invalid("stream_format 'sse' is not supported for model '"+req.Model+"'.", "stream_format")
		return nil
	}
	samples := speechSamples(req.Input, speed)
	data, ok := encodeSpeech(format, samples)
	if !ok {
		ex.invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'.", format), "response_format")
		return nil
	}
	if req.StreamFormat == "sse" {
		return ex.speechSSE(&req, data, samples)
	}
	// Like OpenAI, the audio is streamed (chunked, no content-length).
	ex.w.Header().Set("Content-Type", audioContentTypes[format])
	ex.w.WriteHeader(http.StatusOK)
	return ex.writeSplit(data)
}

type speechUsageJSON struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// speechSSE sends the audio in base64 chunks of 4800 bytes, then the usage:
// input = PromptTokens(bytes of input + instructions), output = audio tokens.
func (ex *exchange) speechSSE(req *speechRequest, data []byte, samples int) error {
	s := ex.startSSE()
	for off := 0; off < len(data); off += speechChunkBytes {
		chunk := data[off:min(off+speechChunkBytes, len(data))]
		ev := struct {
			Type  string `json:"type"`
			Audio string `json:"audio"`
		}{"speech.audio.delta", base64.StdEncoding.EncodeToString(chunk)}
		if err := s.event(ev.Type, ev); err != nil {
			return err
		}
	}
	in := PromptTokens(len(req.Input) + len(req.Instructions))
	out := audioTokens(samples)
	done := struct {
		Type  string          `json:"type"`
		Usage speechUsageJSON `json:"usage"`
	}{"speech.audio.done", speechUsageJSON{InputTokens: in, OutputTokens: out, TotalTokens: in + out}}
	return s.event(done.Type, done)
}
