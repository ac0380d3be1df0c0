package media

import (
	"strings"
)

// kind is an audio container or stream format.
type kind uint8

const (
	kindUnknown kind = iota
	kindWAV
	kindPCM
	kindMP3 // MPEG audio, any layer
	kindAAC // ADTS
	kindFLAC
	kindOgg
	kindMP4
	kindWebM
)

func (k kind) String() string {
	return [...]string{"", "wav", "pcm", "mp3", "aac", "flac", "ogg", "mp4", "webm"}[k]
}

// kindOf reads a format hint: an extension, a file name, an OpenAI
// response_format or a content type.
func kindOf(format string) kind {
	f := strings.ToLower(strings.TrimSpace(format))
	f, _, _ = strings.Cut(f, ";") // content-type parameters
	f = strings.TrimSpace(f)
	if i := strings.LastIndexAny(f, `/\`); i >= 0 { // audio/mpeg, dir/a.wav
		f = f[i+1:]
	}
	if i := strings.LastIndexByte(f, '.'); i >= 0 { // a.wav, .wav, vnd.wave
		f = f[i+1:]
	}
	f = strings.TrimPrefix(f, "x-") // audio/x-wav, audio/x-m4a
	switch f {
	case "wav", "wave":
		return kindWAV
	case "pcm":
		return kindPCM
	case "mp3", "mpeg", "mpga", "mp2", "mpa":
		return kindMP3
	case "aac", "adts":
		return kindAAC
	case "flac":
		return kindFLAC
	case "ogg", "oga", "opus":
		return kindOgg
	case "mp4", "m4a", "m4b":
		return kindMP4
	case "webm", "weba":
		return kindWebM
	}
	return kindUnknown
}

// sniff picks the format from the stream's first bytes (after any ID3v2
// tag). Container signatures are unambiguous and win over the hint; then a
// valid ADTS or MPEG audio frame header; then the hint, whose parser finds
// nothing it can use in a stream of another format (a size bound results).
func sniff(head []byte, hint kind) kind {
	has := func(off int, sig string) bool {
		return len(head) >= off+len(sig) && string(head[off:off+len(sig)]) == sig
	}
	switch {
	case (has(0, "RIFF") || has(0, "RF64")) && has(8, "WAVE"):
		return kindWAV
	case has(0, "fLaC"):
		return kindFLAC
	case has(0, "OggS"):
		return kindOgg
	case has(0, "\x1a\x45\xdf\xa3"): // EBML: Matroska, WebM
		return kindWebM
	case has(4, "ftyp"):
		return kindMP4
	}
	if len(head) >= adtsHeaderLen {
		if _, ok := (adts{}).parse(head); ok {
			return kindAAC
		}
	}
	if len(head) >= mpegHeaderLen {
		if _, ok := (mpeg{}).parse(head); ok {
			return kindMP3
		}
	}
	return hint
}

func newParser(k kind) parser {
	switch k {
	case kindWAV:
		return &wav{}
	case kindPCM:
		return &pcm{}
	case kindMP3:
		return &frames{codec: mpeg{}}
	case kindAAC:
		return &frames{codec: adts{}}
	case kindFLAC:
		return &flac{}
	case kindOgg:
		return &ogg{}
	case kindMP4:
		return &mp4{}
	}
	return nil
}

// floorBytesPerSecond is the lowest bitrate, in bytes a second, a format is
// practically encoded at, so that size / floor bounds the duration from
// above when the stream does not say it:
//
//   - MP3 and WAV: 8 kbit/s (1000 B/s), the smallest MPEG-2.5 Layer III
//     bitrate and about the cheapest codec found in WAV files (G.729).
//   - everything else: 6 kbit/s (750 B/s), Opus's minimum (RFC 6716), below
//     HE-AAC v2's usual 8 kbit/s floor for MP4/M4A/ADTS.
//
// A lossless FLAC of near silence can go lower; FLAC encoders write the
// total sample count, so that case only arises for a FLAC piped from a
// streaming encoder.
func floorBytesPerSecond(k kind) uint64 {
	switch k {
	case kindMP3, kindWAV:
		return 1000
	case kindPCM:
		return pcmBytesPerSecond
	}
	return 750
}
