package fakeopenai

import (
	"encoding/binary"
	"math"
)

// Speech is silence of a length the tests can compute (sizes: package
// doc). mp3 is a run of real MPEG-1 Layer III frames — header FF FB 14 C0
// (48 kHz, 32 kbit/s, mono, no CRC, no padding) and 92 zero bytes of silent
// side info — because 48 kHz at 32 kbit/s gives a fixed 96-byte frame, so a
// frame-scanning reader finds exactly frames × 24 ms. opus, aac and flac
// start with "OggS", FF F1, "fLaC" and are zero padded: sized, not decodable.
const (
	speechRate         = 24000
	samplesPerChar     = 1600
	samplesPerMP3Frame = 576 // 1152 samples at 48 kHz = 576 at 24 kHz
	mp3FrameBytes      = 96  // 144 × 32000 / 48000
	samplesPerToken    = 2400
)

// mp3FrameHeader: sync, MPEG-1, Layer III, no CRC | 32 kbit/s, 48 kHz, no
// padding | mono.
var mp3FrameHeader = [4]byte{0xFF, 0xFB, 0x14, 0xC0}

// speechSamples is the number of 24 kHz samples spoken for text at speed.
func speechSamples(text string, speed float64) int {
	if speed <= 0 {
		speed = 1
	}
	return int(math.Round(float64(samplesPerChar*len([]rune(text))) / speed))
}

// audioTokens is 10 tokens per second of 24 kHz audio, rounded up.
func audioTokens(samples int) int { return ceilDiv(samples, samplesPerToken) }

// audioContentTypes maps response_format to the content type of the answer.
var audioContentTypes = map[string]string{
	"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac",
	"flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm",
}

// encodeSpeech renders samples of silence in format; ok is false for an
// unknown format.
func encodeSpeech(format string, samples int) (data []byte, ok bool) {
	switch format {
	case "pcm":
		return make([]byte, 2*samples), true
	case "wav":
		return wavBytes(samples), true
	case "mp3":
		frames := ceilDiv(samples, samplesPerMP3Frame)
		out := make([]byte, frames*mp3FrameBytes)
		for f := range frames {
			copy(out[f*mp3FrameBytes:], mp3FrameHeader[:])
		}
		return out, true
	case "opus":
		return magicPadded("OggS", ceilDiv(samples, 6)), true
	case "aac":
		return magicPadded("\xFF\xF1", ceilDiv(samples, 6)), true
	case "flac":
		return magicPadded("fLaC", samples), true
	}
	return nil, false
}

func magicPadded(magic string, size int) []byte {
	out := make([]byte, max(size, 4))
	copy(out, magic)
	return out
}

// wavBytes is a canonical 44-byte-header WAV of silent 16-bit mono PCM.
func wavBytes(samples int) []byte {
	data := 2 * samples
	out := make([]byte, 44+data)
	copy(out[0:], "RIFF")
	binary.LittleEndian.PutUint32(out[4:], riffSize(36+data))
	copy(out[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(out[16:], 16)
	binary.LittleEndian.PutUint16(out[20:], 1) // PCM
	binary.LittleEndian.PutUint16(out[22:], 1) // mono
	binary.LittleEndian.PutUint32(out[24:], speechRate)
	binary.LittleEndian.PutUint32(out[28:], 2*speechRate) // byte rate
	binary.LittleEndian.PutUint16(out[32:], 2)            // block align
	binary.LittleEndian.PutUint16(out[34:], 16)           // bits per sample
	copy(out[36:], "data")
	binary.LittleEndian.PutUint32(out[40:], riffSize(data))
	return out
}

// riffSize is a RIFF chunk size: 32 bits, saturating at 0xFFFFFFFF as
// streaming WAV writers do for a size they cannot state.
func riffSize(n int) uint32 {
	switch {
	case n < 0:
		return 0
	case n > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(n)
}

// bytesPerSecondNonWAV is how the fake times an uploaded file that is not
// a WAV: 4000 bytes a second (32 kbit/s), which is exact for its own mp3.
const bytesPerSecondNonWAV = 4000

// audioLength is the duration of an uploaded file as the fraction num/den
// seconds: exact from a WAV header (data bytes / byte rate), else
// len(file) / 4000.
func audioLength(file []byte) (num, den int) {
	if n, d, ok := wavLength(file); ok {
		return n, d
	}
	return len(file), bytesPerSecondNonWAV
}

// wavLength reads the byte rate of the fmt chunk and the size of the data
// chunk (capped by the bytes actually present).
func wavLength(b []byte) (num, den int, ok bool) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, 0, false
	}
	byteRate := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := off + 8
		switch {
		case id == "fmt " && size >= 16 && body+16 <= len(b):
			byteRate = int(binary.LittleEndian.Uint32(b[body+8:]))
		case id == "data" && byteRate > 0:
			return min(size, len(b)-body), byteRate, true
		}
		if size < 0 || body+size < body {
			break
		}
		off = body + size + size%2
	}
	return 0, 0, false
}
