package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// transcriptPlan is one transcription or translation (formulas: package
// doc). The audio lasts num/den seconds, kept as a fraction so that the
// billed seconds and tokens are exact; the transcript is the usual reply of
// x-fake-words words. Translations carry no usage: the SDK's Translation
// types have none.
type transcriptPlan struct {
	model, format, prompt string
	translate, tokens     bool // tokens: a gpt-4o model billed by tokens
	num, den              int  // duration = num/den seconds
	pieces                []string
}

func (ex *exchange) transcriptions() error { return ex.transcribe(false) }
func (ex *exchange) translations() error   { return ex.transcribe(true) }

func (ex *exchange) transcribe(translate bool) error {
	f, ok := ex.parseForm()
	if !ok {
		return nil
	}
	files := f.files["file"]
	p := transcriptPlan{model: f.get("model"), format: f.get("response_format"), prompt: f.get("prompt"),
		translate: translate, pieces: replyPieces(ex.ctl.words)}
	if p.format == "" {
		p.format = "json"
	}
	p.tokens = strings.HasPrefix(p.model, "gpt-")
	switch {
	case len(files) == 0:
		ex.invalid("Missing required parameter: 'file'.", "file")
		return nil
	case p.model == "":
		ex.invalid("Missing required parameter: 'model'.", "model")
		return nil
	case translate && p.model != "whisper-1",
		!translate && !p.tokens && !strings.HasPrefix(p.model, "whisper-"):
		ex.invalid(fmt.Sprintf("Invalid model '%s' for this endpoint.", p.model), "model")
		return nil
	case !formatAllowed(p.model, p.format, translate):
		ex.errorParam(http.StatusBadRequest, fmt.Sprintf("response_format '%s' is not compatible with model '%s'.", p.format, p.model),
			"invalid_request_error", "response_format", "unsupported_value")
		return nil
	}
	p.num, p.den = audioLength(files[0].data)
	if p.num*10 < p.den {
		ex.errorParam(http.StatusBadRequest, "Audio file is too short. Minimum audio length is 0.1 seconds.",
			"invalid_request_error", "file", "audio_too_short")
		return nil
	}
	if p.tokens && f.boolean("stream") {
		return ex.streamTranscript(&p)
	}
	return ex.answerTranscript(&p, f.list("timestamp_granularities"))
}

func formatAllowed(model, format string, translate bool) bool {
	switch {
	case format == "json" || format == "text":
		return true
	case strings.HasPrefix(model, "whisper-"):
		return format == "srt" || format == "vtt" || format == "verbose_json"
	case strings.Contains(model, "diarize"):
		return format == "diarized_json" && !translate
	}
	return false
}

func (p *transcriptPlan) seconds() float64 { return float64(p.num) / float64(p.den) }
func (p *transcriptPlan) text() string     { return strings.Join(p.pieces, "") }

// usage is the usage object of a json / verbose_json / diarized_json answer.
func (p *transcriptPlan) usage() any {
	if !p.tokens {
		return orderedJSON(map[string]any{"type": "duration", "seconds": ceilDiv(p.num, p.den)}, "type", "seconds")
	}
	audio, text := ceilDiv(10*p.num, p.den), len(p.prompt)/bytesPerToken
	return transcriptTokensJSON{Type: "tokens", InputTokens: audio + text,
		InputTokenDetails: transcriptDetailsJSON{TextTokens: text, AudioTokens: audio},
		OutputTokens:      len(p.pieces), TotalTokens: audio + text + len(p.pieces)}
}

type transcriptTokensJSON struct {
	Type              string                `json:"type"`
	InputTokens       int                   `json:"input_tokens"`
	InputTokenDetails transcriptDetailsJSON `json:"input_token_details"`
	OutputTokens      int                   `json:"output_tokens"`
	TotalTokens       int                   `json:"total_tokens"`
}

type transcriptDetailsJSON struct {
	TextTokens  int `json:"text_tokens"`
	AudioTokens int `json:"audio_tokens"`
}

type segmentJSON struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

type diarizedSegmentJSON struct {
	Type    string  `json:"type"`
	ID      string  `json:"id"`
	Start   float64 `json:"start"`
	End     float64 `json:"end"`
	Text    string  `json:"text"`
	Speaker string  `json:"speaker"`
}

func (ex *exchange) answerTranscript(p *transcriptPlan, granularities []string) error {
	text, secs := p.text(), p.seconds()
	task := "transcribe"
	if p.translate {
		task = "translate"
	}
	switch p.format {
	case "text":
		ex.writeText("text/plain; charset=utf-8", text+"\n")
	case "srt":
		ex.writeText("text/plain; charset=utf-8", "1\n00:00:00,000 --> "+timestamp(secs, ",")+"\n"+text+"\n\n")
	case "vtt":
		ex.writeText("text/vtt; charset=utf-8", "WEBVTT\n\n00:00:00.000 --> "+timestamp(secs, ".")+"\n"+text+"\n\n")
	case "verbose_json":
		out := map[string]any{"task": task, "language": "english", "duration": secs, "text": text,
			"segments": []segmentJSON{{Start: 0, End: secs, Text: text, Tokens: fakeTokenIDs(len(p.pieces)),
				AvgLogprob: -0.25, CompressionRatio: 1.2, NoSpeechProb: 0.01}}}
		if strings.Contains(strings.Join(granularities, ","), "word") {
			out["words"] = wordTimings(p.pieces, secs)
		}
		if !p.translate {
			out["usage"] = p.usage()
		}
		ex.writeJSON(http.StatusOK, orderedJSON(out, "task", "language", "duration", "text", "segments", "words", "usage"))
	case "diarized_json":
		ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{"task": task, "duration": secs, "text": text,
			"segments": []diarizedSegmentJSON{{Type: "transcript.text.segment", ID: "seg_001", End: secs, Text: text, Speaker: "A"}},
			"usage":    p.usage()}, "task", "duration", "text", "segments", "usage"))
	default: // json
		if p.translate {
			ex.writeJSON(http.StatusOK, map[string]any{"text": text})
			return nil
		}
		ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{"text": text, "usage": p.usage()}, "text", "usage"))
	}
	return nil
}

// streamTranscript: transcript.text.delta per word (diarize: then a
// transcript.text.segment), transcript.text.done with the token usage.
func (ex *exchange) streamTranscript(p *transcriptPlan) error {
	s := ex.startSSE()
	diarize := strings.Contains(p.model, "diarize")
	for _, w := range p.pieces {
		ev := map[string]any{"type": "transcript.text.delta", "delta": w}
		keys := []string{"type", "delta"}
		if diarize {
			ev["segment_id"], keys = "seg_001", append(keys, "segment_id")
		}
		if err := s.event("transcript.text.delta", orderedJSON(ev, keys...)); err != nil {
			return err
		}
	}
	if diarize && p.format == "diarized_json" {
		seg := diarizedSegmentJSON{Type: "transcript.text.segment", ID: "seg_001", End: p.seconds(), Text: p.text(), Speaker: "A"}
		if err := s.event(seg.Type, seg); err != nil {
			return err
		}
	}
	done := orderedJSON(map[string]any{"type": "transcript.text.done", "text": p.text(), "usage": p.usage()}, "type", "text", "usage")
	return s.event("transcript.text.done", done)
}

func (ex *exchange) writeText(contentType, body string) {
	ex.w.Header().Set("Content-Type", contentType)
	ex.w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	ex.w.WriteHeader(http.StatusOK)
	_ = ex.writeSplit([]byte(body))
}

// timestamp formats seconds as HH:MM:SS<sep>mmm (srt uses ",", vtt ".").
func timestamp(secs float64, sep string) string {
	ms := int(secs*1000 + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", ms/3600000, ms/60000%60, ms/1000%60, sep, ms%1000)
}

func fakeTokenIDs(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 50364 + i
	}
	return out
}

func wordTimings(pieces []string, secs float64) []map[string]any {
	out := make([]map[string]any, len(pieces))
	step := secs / float64(max(len(pieces), 1))
	for i, w := range pieces {
		out[i] = map[string]any{"word": strings.TrimSpace(w), "start": step * float64(i), "end": step * float64(i+1)}
	}
	return out
}

// orderedJSON marshals the members of m in the given key order (absent keys
// skipped): Go maps would sort them, OpenAI does not.
func orderedJSON(m map[string]any, keys ...string) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(mustJSON(k))
		b.WriteByte(':')
		b.Write(mustJSON(v))
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
