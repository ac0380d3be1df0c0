package fakeopenai

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// transcription is shaped like the SDK's Transcription with its usage union.
type transcription struct {
	Text  string `json:"text"`
	Usage struct {
		Type              string  `json:"type"`
		Seconds           float64 `json:"seconds"`
		InputTokens       int     `json:"input_tokens"`
		InputTokenDetails struct {
			TextTokens  int `json:"text_tokens"`
			AudioTokens int `json:"audio_tokens"`
		} `json:"input_token_details"`
		OutputTokens int `json:"output_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// wav85 is 8.5 s of 24 kHz mono 16-bit audio: the WAV header gives the
// duration exactly.
func wav85() []byte { return wavBytes(204000) }

func TestTranscriptionWhisperDuration(t *testing.T) {
	_, srv := start(t)
	body, hdr := multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"))
	r := call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, with(hdr, map[string]string{"x-fake-words": "4"}))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"text":"Hello from the fake","usage":{"type":"duration","seconds":9}}`, r.body)

	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"),
		value("response_format", "verbose_json"), value("timestamp_granularities[]", "word"))
	r = call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, hdr)
	var v struct {
		Task     string  `json:"task"`
		Language string  `json:"language"`
		Duration float64 `json:"duration"`
		Text     string  `json:"text"`
		Segments []struct {
			ID     int     `json:"id"`
			Start  float64 `json:"start"`
			End    float64 `json:"end"`
			Text   string  `json:"text"`
			Tokens []int   `json:"tokens"`
		} `json:"segments"`
		Words []struct {
			Word string  `json:"word"`
			End  float64 `json:"end"`
		} `json:"words"`
		Usage struct {
			Type    string  `json:"type"`
			Seconds float64 `json:"seconds"`
		} `json:"usage"`
	}
	decodeInto(t, r.body, &v)
	require.Equal(t, "transcribe", v.Task)
	require.Equal(t, "english", v.Language)
	require.InDelta(t, 8.5, v.Duration, 1e-9)
	require.InDelta(t, 8.5, v.Segments[0].End, 1e-9)
	require.Len(t, v.Words, defaultWords)
	require.Equal(t, "Hello", v.Words[0].Word)
	require.Equal(t, "duration", v.Usage.Type)
	require.InDelta(t, 9.0, v.Usage.Seconds, 1e-9)

	// Not a WAV: 4000 bytes a second. 10001 bytes = 2.50025 s → 3 s billed.
	body, hdr = multipartBody(t, upload("file", "a.mp3", make([]byte, 10001)), value("model", "whisper-1"))
	r = call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, hdr)
	var tr transcription
	decodeInto(t, r.body, &tr)
	require.InDelta(t, 3.0, tr.Usage.Seconds, 1e-9)
}

func TestTranscriptionPlainFormatsCarryNoUsage(t *testing.T) {
	_, srv := start(t)
	cases := map[string]struct{ contentType, body string }{
		"text": {"text/plain; charset=utf-8", "Hello from\n"},
		"srt":  {"text/plain; charset=utf-8", "1\n00:00:00,000 --> 00:00:08,500\nHello from\n\n"},
		"vtt":  {"text/vtt; charset=utf-8", "WEBVTT\n\n00:00:00.000 --> 00:00:08.500\nHello from\n\n"},
	}
	for format, want := range cases {
		body, hdr := multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"), value("response_format", format))
		r := call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, with(hdr, map[string]string{"x-fake-words": "2"}))
		require.Equal(t, want.contentType, r.header.Get("Content-Type"), format)
		require.Equal(t, want.body, r.body, format)
	}
}

func TestTranscriptionGPT4oTokens(t *testing.T) {
	_, srv := start(t)
	body, hdr := multipartBody(t, upload("file", "a.wav", wav85()), value("model", "gpt-4o-transcribe"), value("prompt", "Speaker names: Ada."))
	r := call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, with(hdr, map[string]string{"x-fake-words": "5"}))
	var tr transcription
	decodeInto(t, r.body, &tr)
	require.Equal(t, "tokens", tr.Usage.Type)
	require.Equal(t, 85, tr.Usage.InputTokenDetails.AudioTokens, "ceil(10 × 8.5)")
	require.Equal(t, 19/4, tr.Usage.InputTokenDetails.TextTokens)
	require.Equal(t, 85+4, tr.Usage.InputTokens)
	require.Equal(t, 5, tr.Usage.OutputTokens)
	require.Equal(t, 85+4+5, tr.Usage.TotalTokens)
	require.True(t, strings.HasPrefix(r.body, `{"text":"Hello from the fake OpenAI","usage":{"type":"tokens","input_tokens":89,`), r.body)

	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "gpt-4o-mini-transcribe"), value("response_format", "srt"))
	r = call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, hdr)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, `"param":"response_format"`)

	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "gpt-4o-transcribe-diarize"), value("response_format", "diarized_json"))
	r = call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, hdr)
	m := decodeMap(t, r.body)
	require.Equal(t, "transcribe", m["task"])
	require.InDelta(t, 8.5, m["duration"], 1e-9)
	seg := m["segments"].([]any)[0].(map[string]any)
	require.Equal(t, "transcript.text.segment", seg["type"])
	require.Equal(t, "A", seg["speaker"])
	require.Equal(t, "tokens", m["usage"].(map[string]any)["type"])
}

func TestTranscriptionStream(t *testing.T) {
	_, srv := start(t)
	body, hdr := multipartBody(t, upload("file", "a.wav", wav85()), value("model", "gpt-4o-mini-transcribe"), value("stream", "true"))
	r := call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, with(hdr, map[string]string{"x-fake-words": "3"}))
	require.Equal(t, "text/event-stream; charset=utf-8", r.header.Get("Content-Type"))
	evs := eventsOf(t, r.body)
	require.Len(t, evs, 4)
	var text strings.Builder
	for _, ev := range evs[:3] {
		require.Equal(t, "transcript.text.delta", ev["type"])
		text.WriteString(ev["delta"].(string))
	}
	done := evs[3]
	require.Equal(t, "transcript.text.done", done["type"])
	require.Equal(t, text.String(), done["text"])
	u := done["usage"].(map[string]any)
	require.Equal(t, "tokens", u["type"])
	require.Equal(t, 85+3, num(u["total_tokens"]))

	// whisper-1 does not stream: the flag is ignored.
	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"), value("stream", "true"))
	r = call(t, srv, http.MethodPost, "/v1/audio/transcriptions", body, hdr)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
}

func TestTranslations(t *testing.T) {
	_, srv := start(t)
	body, hdr := multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"))
	r := call(t, srv, http.MethodPost, "/v1/audio/translations", body, with(hdr, map[string]string{"x-fake-words": "2"}))
	require.JSONEq(t, `{"text":"Hello from"}`, r.body)

	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "whisper-1"), value("response_format", "verbose_json"))
	r = call(t, srv, http.MethodPost, "/v1/audio/translations", body, hdr)
	m := decodeMap(t, r.body)
	require.Equal(t, "translate", m["task"])
	require.InDelta(t, 8.5, m["duration"], 1e-9)
	require.NotContains(t, m, "usage")

	body, hdr = multipartBody(t, upload("file", "a.wav", wav85()), value("model", "gpt-4o-transcribe"))
	r = call(t, srv, http.MethodPost, "/v1/audio/translations", body, hdr)
	require.Equal(t, http.StatusBadRequest, r.status, "translations are whisper-1 only")

	body, hdr = multipartBody(t, upload("file", "a.wav", wavBytes(1000)), value("model", "whisper-1"))
	r = call(t, srv, http.MethodPost, "/v1/audio/translations", body, hdr)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, `"code":"audio_too_short"`)
}
