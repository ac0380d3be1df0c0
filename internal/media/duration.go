package media

import (
	"time"
)

// parser measures one container format.
type parser interface {
	write(p []byte)
	// result is the duration of a stream of which rest bytes were never
	// written (0 for a meter fed the whole stream); ok is false when the
	// bytes seen do not give it exactly.
	result(rest int64) (d time.Duration, ok bool)
}

// sniffLen is how much of the stream's start the meter looks at to know
// its format: "RIFF" size "WAVE".
const sniffLen = 12

// DurationMeter measures the playing time of an audio stream written to it
// in pieces of any size, in O(1) memory. It is an io.Writer, so it can be a
// Form's FileSink directly. It is not safe for concurrent use.
//
// Exact (Result's exact is true): WAV (PCM, float, A-law, µ-law, also as
// WAVE_FORMAT_EXTENSIBLE, by the data bytes present, up to the declared
// size, RF64's ds64 size included; other codecs by a fact chunk; streamed
// WAVs whose data size is 0 or 0xFFFFFFFF by counting to the end), raw PCM
// as OpenAI's speech endpoint sends it (24 kHz, 16-bit, mono), MPEG audio
// Layers I–III of MPEG-1/2/2.5 and ADTS AAC (every frame's samples, ID3v2
// tags and Xing/Info/VBRI frames skipped, resynchronising after garbage),
// FLAC (STREAMINFO's total samples), Ogg Opus and Vorbis (the last granule
// position, Opus less its pre-skip, chained streams added) and MP4/M4A (the
// mvhd duration).
//
// Otherwise (WebM, an MP4 without a usable mvhd, a FLAC stream that does not
// state its length, an unknown format) Result is an upper bound from the
// size at the lowest bitrate the format is practically encoded at; see
// floorBytesPerSecond. So is it for an MPEG, ADTS or Ogg stream in which the
// scanner passed over more than a few KiB (and 1/64) of bytes it could not
// read as frames or pages: audio could hide there.
//
// What a container declares is believed where checking it would mean
// decoding: a FLAC total, an MP4 mvhd duration, a WAV fact chunk, Ogg
// granule positions. An MPEG Xing/Info/VBRI frame count only ever raises the count
// of frames seen.
type DurationMeter struct {
	hint    kind // from NewDurationMeter's format
	kind    kind // from the stream's first bytes; kindUnknown until decided
	decided bool
	head    [sniffLen]byte
	nhead   int
	skip    int64 // bytes left of a leading ID3v2 tag
	size    int64 // bytes written
	p       parser
}

// NewDurationMeter returns a meter for a stream in format, a file extension
// or name ("wav", ".mp3", "speech.opus"), an OpenAI response_format ("mp3",
// "opus", "aac", "flac", "wav", "pcm") or a content type ("audio/mpeg",
// "audio/x-wav", "audio/ogg; codecs=opus"). Unless format is "pcm" (raw
// samples have no signature and may look like anything), the stream's own
// signature wins over the hint; "" or an unknown hint sniffs the stream.
func NewDurationMeter(format string) *DurationMeter {
	m := &DurationMeter{hint: kindOf(format)}
	if m.hint == kindPCM {
		m.decide()
	}
	return m
}

// Write measures the next piece of the stream. It never fails: a stream the
// meter cannot follow still has a size bound.
func (m *DurationMeter) Write(p []byte) (int, error) {
	m.size += int64(len(p))
	n := len(p)
	for !m.decided && len(p) > 0 {
		if m.skip > 0 {
			k := int(min(m.skip, int64(len(p))))
			m.skip -= int64(k)
			p = p[k:]
			continue
		}
		k := copy(m.head[m.nhead:], p)
		m.nhead += k
		p = p[k:]
		if m.nhead < sniffLen {
			break
		}
		// Any format may be preceded by ID3v2 tags (MP3 usually, FLAC
		// sometimes); pass over them and sniff what follows.
		if l, ok := id3Len(m.head[:]); ok {
			if l >= int64(m.nhead) {
				m.skip, m.nhead = l-int64(m.nhead), 0
			} else {
				m.nhead = copy(m.head[:], m.head[l:m.nhead])
			}
			continue
		}
		m.decide()
	}
	if m.decided && m.p != nil {
		m.p.write(p)
	}
	return n, nil
}

// decide settles the format from the head and hands the head to its parser.
func (m *DurationMeter) decide() {
	m.decided = true
	if m.hint == kindPCM {
		m.kind = kindPCM
	} else {
		m.kind = sniff(m.head[:m.nhead], m.hint)
	}
	m.p = newParser(m.kind)
	if m.p != nil {
		m.p.write(m.head[:m.nhead])
	}
}

// Result returns the duration of what was written: exact, or an upper bound
// from the size with exact false.
func (m *DurationMeter) Result() (d time.Duration, exact bool) {
	return m.result(0)
}

func (m *DurationMeter) result(rest int64) (time.Duration, bool) {
	if m.p != nil {
		if d, ok := m.p.result(rest); ok {
			return d, true
		}
	}
	k := m.kind
	if k == kindUnknown {
		k = m.hint
	}
	return span(unsigned(m.size+rest), floorBytesPerSecond(k)), false
}

// Format names the format the meter follows ("wav", "pcm", "mp3", "aac",
// "flac", "ogg", "mp4", "webm"), "" while undecided or unknown.
func (m *DurationMeter) Format() string {
	return m.kind.String()
}

// DurationOfFile is the duration of an audio file of size bytes of which
// only head, its first bytes, is at hand (a stored file, a range read),
// filename hinting the format as for NewDurationMeter. It is exact when the
// head says it: a WAV or PCM size, a FLAC STREAMINFO, an MP3 Xing/Info/VBRI
// frame count, an MP4 mvhd ahead of the media data; else a size bound.
func DurationOfFile(head []byte, size int64, filename string) (time.Duration, bool) {
	m := NewDurationMeter(filename)
	if int64(len(head)) > size {
		head = head[:max(size, 0)]
	}
	_, _ = m.Write(head)
	return m.result(size - int64(len(head)))
}

// id3Len returns the length of the ID3v2 tag b starts with.
func id3Len(b []byte) (int64, bool) {
	if len(b) < 10 || string(b[:3]) != "ID3" || b[3] == 0xFF || b[4] == 0xFF {
		return 0, false
	}
	var n int64
	for _, c := range b[6:10] {
		if c >= 0x80 { // syncsafe: seven bits a byte
			return 0, false
		}
		n = n<<7 | int64(c)
	}
	n += 10
	if b[5]&0x10 != 0 { // a footer follows
		n += 10
	}
	return n, true
}

// pcm is OpenAI's raw speech format: 24 kHz, 16-bit signed little-endian,
// mono, so 48000 bytes a second.
type pcm struct{ n int64 }

const pcmBytesPerSecond = 24000 * 2

func (p *pcm) write(b []byte) { p.n += int64(len(b)) }

func (p *pcm) result(rest int64) (time.Duration, bool) {
	return span(unsigned(p.n+rest)/2, pcmBytesPerSecond/2), true // whole samples
}
