package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Images, audio, containers and videos: metered through the stand-in on
// both ledgers; each charge is a literal from the price table and the fake
// OpenAI's documented formulas (envoy/fakeopenai/doc.go).

// wavFile is a 16 kHz, 16-bit mono PCM WAV of the given milliseconds.
func wavFile(ms int) []byte {
	data := ms * 32 // 16,000 samples/s × 2 bytes = 32 bytes per ms
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+data))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(16000), uint32(32000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(data))
	b.Write(make([]byte, data))
	return b.Bytes()
}

// form builds a multipart body: fields in order, then files (field, name, content).
func form(t *testing.T, fields [][2]string, files ...[3]string) (body, contentType string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range fields {
		require.NoError(t, w.WriteField(f[0], f[1]))
	}
	for _, f := range files {
		fw, err := w.CreateFormFile(f[0], f[1])
		require.NoError(t, err)
		_, err = fw.Write([]byte(f[2]))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.String(), w.FormDataContentType()
}

func TestE2EUnitPricedEndpointsAreChargedExactly(t *testing.T) {
	wav := string(wavFile(2500)) // 2.5 s of audio
	speechInput := strings.Repeat("Budgets keep agents honest. ", 5)
	chars := int64(len(speechInput)) // ASCII: one rune per byte
	transcribe, transcribeCT := form(t, [][2]string{{"model", "whisper-1"}}, [3]string{"file", "memo.wav", wav})
	transcribeText, transcribeTextCT := form(t, [][2]string{{"model", "whisper-1"}, {"response_format", "text"}}, [3]string{"file", "memo.wav", wav})
	translate, translateCT := form(t, [][2]string{{"model", "whisper-1"}}, [3]string{"file", "memo.wav", wav})
	gptTranscribe, gptTranscribeCT := form(t, [][2]string{{"model", "gpt-4o-transcribe"}, {"prompt", "Budget meeting"}}, [3]string{"file", "memo.wav", wav})
	edit, editCT := form(t, [][2]string{{"model", "gpt-image-1"}, {"prompt", "Add a red hat"}, {"quality", "low"}},
		[3]string{"image", "cat.png", "\x89PNG\r\n\x1a\nfake image bytes"})
	variation, variationCT := form(t, [][2]string{{"model", "dall-e-2"}, {"n", "2"}, {"size", "1024x1024"}},
		[3]string{"image", "cat.png", "\x89PNG\r\n\x1a\nfake image bytes"})

	tests := []struct {
		name, path, body, contentType string
		want                          func(t *testing.T, r reply) int64 // the charge in nano-USD
		estimated                     bool
	}{
		{"dall-e-3 per image", "/openai/v1/images/generations",
			`{"model":"dall-e-3","prompt":"A lighthouse","n":1,"size":"1024x1024","quality":"standard"}`, "",
			func(*testing.T, reply) int64 { return 40_000_000 }, false}, // $0.04 per standard 1024x1024 image
		{"dall-e-3 hd tall", "/openai/v1/images/generations",
			`{"model":"dall-e-3","prompt":"A lighthouse","size":"1024x1792","quality":"hd"}`, "",
			func(*testing.T, reply) int64 { return 120_000_000 }, false}, // $0.12
		{"gpt-image-1 from its token usage", "/openai/v1/images/generations",
			`{"model":"gpt-image-1","prompt":"A lighthouse at dusk","size":"1024x1024","quality":"medium"}`, "",
			func(t *testing.T, r reply) int64 {
				// text in = 20 bytes / 4 + 7 = 12 tokens × $5/M; 1056 image tokens out × $40/M
				requireUsage(t, r, 12, 1056)
				return 12*5_000 + 1056*40_000
			}, false},
		{"gpt-image-1 edit with an input image", "/openai/v1/images/edits", edit, editCT,
			func(*testing.T, reply) int64 {
				// text in 13/4+7 = 10 × $5/M, image in 323 × $10/M, 272 out (low) × $40/M
				return 10*5_000 + 323*10_000 + 272*40_000
			}, false},
		{"dall-e-2 variations", "/openai/v1/images/variations", variation, variationCT,
			func(*testing.T, reply) int64 { return 2 * 20_000_000 }, false}, // 2 × $0.02
		{"tts-1 per character", "/openai/v1/audio/speech",
			`{"model":"tts-1","voice":"alloy","input":"` + speechInput + `"}`, "",
			func(*testing.T, reply) int64 { return chars * 15_000 }, false}, // $15 per 1M characters
		{"gpt-4o-mini-tts speech as SSE usage", "/openai/v1/audio/speech",
			`{"model":"gpt-4o-mini-tts","voice":"alloy","input":"` + speechInput + `","stream_format":"sse"}`, "",
			func(*testing.T, reply) int64 {
				// input = (bytes)/4 + 7 tokens × $2.5/M; output = ceil(samples/2400) audio tokens × $12/M,
				// samples = 1600 × chars at speed 1
				in := chars/4 + 7
				samples := 1600 * chars
				out := (samples + 2399) / 2400
				return in*2_500 + out*12_000
			}, false},
		{"gpt-4o-mini-tts binary wav by duration", "/openai/v1/audio/speech",
			`{"model":"gpt-4o-mini-tts","voice":"alloy","input":"` + speechInput + `","response_format":"wav"}`, "",
			func(*testing.T, reply) int64 {
				// duration = 1600 × chars / 24,000 s at $0.00025/s; input bounded by 4 tokens a character × $2.5/M
				millis := 1600 * chars * 1000 / 24000
				return millis*250 + (chars*4)*2_500
			}, true},
		{"whisper-1 json by billed seconds", "/openai/v1/audio/transcriptions", transcribe, transcribeCT,
			func(*testing.T, reply) int64 { return 3 * 100_000 }, false}, // ceil(2.5) = 3 s × $0.0001/s
		{"whisper-1 text by the file's duration", "/openai/v1/audio/transcriptions", transcribeText, transcribeTextCT,
			func(*testing.T, reply) int64 { return 2_500 * 100 }, false}, // 2.5 s × $0.0001/s, exact from the WAV header
		{"whisper-1 translation by the file's duration", "/openai/v1/audio/translations", translate, translateCT,
			func(*testing.T, reply) int64 { return 2_500 * 100 }, false},
		{"gpt-4o-transcribe tokens", "/openai/v1/audio/transcriptions", gptTranscribe, gptTranscribeCT,
			func(t *testing.T, r reply) int64 {
				var v struct{ Text string }
				require.NoError(t, json.Unmarshal(r.body, &v))
				words := int64(len(strings.Fields(v.Text)))
				// audio = 10 × 2.5 s = 25, text prompt = 14/4 = 3 tokens, both × $2.5/M; words × $10/M
				return 25*2_500 + 3*2_500 + words*10_000
			}, false},
		{"container session", "/openai/v1/containers", `{"name":"sandbox","memory_limit":"4g"}`, "",
			func(*testing.T, reply) int64 { return 120_000_000 }, true}, // a 4g session, $0.12
		{"sora-2 video seconds", "/openai/v1/videos", `{"model":"sora-2","prompt":"A fox","seconds":"8","size":"720x1280"}`, "",
			func(*testing.T, reply) int64 { return 8 * 100_000_000 }, false}, // 8 s × $0.10/s
	}
	onBothLedgers(t, ceilingConfig, func(t *testing.T, yaml string) {
		s := startStack(t, yaml, nil)
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				client := "units-" + string(rune('a'+i))
				c := call{path: tc.path, client: client, body: tc.body}
				if tc.contentType != "" {
					c.headers = map[string]string{"Content-Type": tc.contentType}
				}
				r := s.do(t, c)
				require.Equal(t, http.StatusOK, r.status, "%s", r.body)
				sp := s.spend(t, client)
				require.Equal(t, tc.want(t, r), sp.Day.SpentNano)
				require.Zero(t, sp.Day.ReservedNano)
				if tc.estimated {
					require.Equal(t, sp.Day.SpentNano, sp.Today.EstimatedNano)
				} else {
					require.Zero(t, sp.Today.EstimatedNano)
				}
			})
		}

		// A client over its budget is refused on every one of them; the upstream never sees it.
		over := call{path: "/openai/v1/chat/completions", client: "tiny-over", body: `{"model":"pricey","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`}
		require.Equal(t, http.StatusOK, s.do(t, over).status)
		before := len(s.upstream.Requests())
		for _, tc := range tests {
			c := call{path: tc.path, client: "tiny-over", body: tc.body}
			if tc.contentType != "" {
				c.headers = map[string]string{"Content-Type": tc.contentType}
			}
			r := s.do(t, c)
			require.Equal(t, http.StatusPaymentRequired, r.status, "%s: %s", tc.name, r.body)
			require.Equal(t, "false", r.header.Get("X-Should-Retry"))
		}
		require.Len(t, s.upstream.Requests(), before, "no refused request reached the upstream")
	})
}

// requireUsage checks an images response's input and output tokens.
func requireUsage(t *testing.T, r reply, in, out int64) {
	t.Helper()
	var v struct {
		Usage struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Equal(t, [2]int64{in, out}, [2]int64{v.Usage.InputTokens, v.Usage.OutputTokens})
}
