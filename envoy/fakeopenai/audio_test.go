package fakeopenai

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// speechInput is 45 characters: 45 × 1600 = 72000 samples = 3 s at 24 kHz.
const speechInput = "The quick brown fox jumped over the lazy dog."

func speechBody(extra string) string {
	return `{"model":"gpt-4o-mini-tts","voice":"alloy","input":"` + speechInput + `"` + extra + `}`
}

func TestSpeechWAVHeaderAndPCMSize(t *testing.T) {
	require.Len(t, []rune(speechInput), 45)
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(`,"response_format":"wav"`), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "audio/wav", r.header.Get("Content-Type"))
	b := []byte(r.body)
	require.Len(t, b, 44+2*72000)
	require.Equal(t, "RIFF", string(b[0:4]))
	require.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[4:]))
	require.Equal(t, "WAVEfmt ", string(b[8:16]))
	require.Equal(t, uint32(16), binary.LittleEndian.Uint32(b[16:]))
	require.Equal(t, uint16(1), binary.LittleEndian.Uint16(b[20:]), "PCM")
	require.Equal(t, uint16(1), binary.LittleEndian.Uint16(b[22:]), "mono")
	require.Equal(t, uint32(24000), binary.LittleEndian.Uint32(b[24:]))
	require.Equal(t, uint32(48000), binary.LittleEndian.Uint32(b[28:]))
	require.Equal(t, uint16(2), binary.LittleEndian.Uint16(b[32:]))
	require.Equal(t, uint16(16), binary.LittleEndian.Uint16(b[34:]))
	require.Equal(t, "data", string(b[36:40]))
	require.Equal(t, uint32(2*72000), binary.LittleEndian.Uint32(b[40:]))
	n, d := audioLength(b)
	require.Equal(t, 3*d, n, "the fake reads its own WAV back exactly: 3 s")

	r = call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(`,"response_format":"pcm","speed":2`), nil)
	require.Equal(t, "audio/pcm", r.header.Get("Content-Type"))
	require.Len(t, r.body, 2*36000, "speed 2 halves the samples")
}

func TestSpeechMP3FramesAreValid(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(""), map[string]string{"x-fake-split": "1000"})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "audio/mpeg", r.header.Get("Content-Type"))
	require.Empty(t, r.header.Get("Content-Length"), "streamed like OpenAI's audio")
	frames, seconds := scanMP3(t, []byte(r.body))
	require.Equal(t, 125, frames, "ceil(72000 / 576)")
	require.InDelta(t, 3.0, seconds, 1e-9)

	r = call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(`,"speed":0.5`), nil)
	frames, seconds = scanMP3(t, []byte(r.body))
	require.Equal(t, 250, frames)
	require.InDelta(t, 6.0, seconds, 1e-9)
}

// scanMP3 walks MPEG audio frames the way a duration probe does: each frame
// header gives its version, layer, bitrate, sample rate and padding, hence
// its length and its samples.
func scanMP3(t *testing.T, b []byte) (frames int, seconds float64) {
	t.Helper()
	bitrates := []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320} // MPEG-1 Layer III, kbit/s
	rates := []int{44100, 48000, 32000}                                                 // MPEG-1
	for off := 0; off < len(b); frames++ {
		require.GreaterOrEqual(t, len(b)-off, 4, "truncated frame header at %d", off)
		h := binary.BigEndian.Uint32(b[off:])
		require.Equal(t, uint32(0x7FF), h>>21, "frame sync at %d", off)
		require.Equal(t, uint32(3), h>>19&3, "MPEG-1")
		require.Equal(t, uint32(1), h>>17&3, "Layer III")
		br, sr, pad := h>>12&0xF, h>>10&3, h>>9&1
		require.NotZero(t, br)
		require.Less(t, int(br), 15)
		require.Less(t, int(sr), 3)
		size := 144*bitrates[br]*1000/rates[sr] + int(pad)
		require.LessOrEqual(t, off+size, len(b), "frame %d fits", frames)
		seconds += 1152 / float64(rates[sr])
		off += size
	}
	return frames, seconds
}

func TestSpeechOtherFormatsAndErrors(t *testing.T) {
	_, srv := start(t)
	for format, size := range map[string]int{"opus": 12000, "aac": 12000, "flac": 72000} {
		r := call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(`,"response_format":"`+format+`"`), nil)
		require.Equal(t, "audio/"+format, r.header.Get("Content-Type"))
		require.Len(t, r.body, size, format)
	}
	for _, body := range []string{
		`{"model":"tts-1","voice":"alloy","input":"x","stream_format":"sse"}`,
		`{"model":"tts-1","voice":"alloy","input":""}`,
		`{"model":"tts-1","input":"x"}`,
		`{"model":"tts-1","voice":"alloy","input":"x","speed":5}`,
		`{"model":"tts-1","voice":"alloy","input":"x","response_format":"ogg"}`,
	} {
		r := call(t, srv, http.MethodPost, "/v1/audio/speech", body, nil)
		require.Equal(t, http.StatusBadRequest, r.status, body)
	}
}

func TestSpeechSSE(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/audio/speech", speechBody(`,"response_format":"pcm","stream_format":"sse","instructions":"Be calm."`), nil)
	require.Equal(t, "text/event-stream; charset=utf-8", r.header.Get("Content-Type"))
	evs := eventsOf(t, r.body)
	var audio []byte
	for _, ev := range evs[:len(evs)-1] {
		require.Equal(t, "speech.audio.delta", ev["type"])
		chunk, err := base64.StdEncoding.DecodeString(ev["audio"].(string))
		require.NoError(t, err)
		audio = append(audio, chunk...)
	}
	require.Len(t, evs, 1+ceilDiv(144000, 4800))
	require.Len(t, audio, 144000)
	done := evs[len(evs)-1]
	require.Equal(t, "speech.audio.done", done["type"])
	u := done["usage"].(map[string]any)
	in := (45+8)/4 + 7 // input + instructions bytes
	require.Equal(t, in, num(u["input_tokens"]))
	require.Equal(t, 30, num(u["output_tokens"]), "10 audio tokens a second")
	require.Equal(t, in+30, num(u["total_tokens"]))
	require.True(t, strings.HasPrefix(evs[0]["audio"].(string), "AAAA"))
}
