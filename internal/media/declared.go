package media

import (
	"encoding/binary"
	"math"
	"time"
)

// Formats whose header states the duration: FLAC's STREAMINFO and MP4's
// movie header. They are trusted as they stand (checking them would mean
// decoding), unlike WAV's data size, which is checked against the bytes.

// flacHead is "fLaC", a metadata block header and the STREAMINFO fields up
// to the total sample count, which the format puts first.
const flacHead = 4 + 4 + 18

// flac reads a FLAC stream's STREAMINFO block and then ignores the rest.
type flac struct {
	c       collector
	done    bool
	rate    uint64
	samples uint64 // 0: the encoder did not know (piped output)
}

func (f *flac) write(p []byte) {
	if f.done {
		return
	}
	if _, full := f.c.gather(p, flacHead); !full {
		return
	}
	f.done = true
	b := f.c.buf[:flacHead]
	if string(b[:4]) != "fLaC" || b[4]&0x7F != 0 { // STREAMINFO must come first
		return
	}
	// STREAMINFO after the two block sizes and two frame sizes (10 bytes):
	// a 20-bit sample rate, 3 bits of channels, 5 of bits per sample, then
	// 36 bits of total samples.
	s := b[8:]
	f.rate = uint64(s[10])<<12 | uint64(s[11])<<4 | uint64(s[12])>>4
	f.samples = uint64(s[13]&0x0F)<<32 | uint64(binary.BigEndian.Uint32(s[14:]))
}

func (f *flac) result(int64) (time.Duration, bool) {
	if f.rate == 0 || f.samples == 0 {
		return 0, false
	}
	return span(f.samples, f.rate), true
}

// mp4 walks an MP4/M4A's boxes to the movie header (moov/mvhd) and reads its
// duration. Other boxes, media data included, are passed over, so a file
// whose moov follows its mdat is still read to the end in O(1) memory.
type mp4 struct {
	c      collector
	want   int
	inMvhd bool // gathering an mvhd box's start
	done   bool

	timescale uint64
	duration  uint64
}

func (m *mp4) write(p []byte) {
	for len(p) > 0 && !m.done {
		if m.c.skip > 0 {
			p = p[m.c.pass(p):]
			continue
		}
		want := m.want
		if !m.inMvhd {
			want = max(8, m.want) // a box header, 16 bytes with a 64-bit size
		}
		k, full := m.c.gather(p, want)
		p = p[k:]
		if full {
			m.step()
		}
	}
}

func (m *mp4) step() {
	b := m.c.buf[:m.c.n]
	if m.inMvhd {
		m.mvhd(b)
		m.done = true
		return
	}
	size, typ, hdr := uint64(binary.BigEndian.Uint32(b)), string(b[4:8]), uint64(8)
	if size == 1 {
		if len(b) < 16 {
			m.want = 16 // the 64-bit size follows
			return
		}
		size, hdr = binary.BigEndian.Uint64(b[8:]), 16
	}
	m.want = 0
	switch {
	case typ == "moov":
		m.c.next(0) // its children follow: read on into them
	case typ == "mvhd":
		body := uint64(32) // to the end of a version 1 duration
		if size != 0 {
			body = min(body, size-min(size, hdr))
		}
		m.inMvhd, m.want = true, int(body)
		m.c.next(0)
		if body == 0 {
			m.done = true
		}
	case size == 0 || size < hdr || size-hdr > math.MaxInt64:
		m.done = true // a box to the end of the file, or a corrupt size
	default:
		m.c.next(int64(size - hdr)) //nolint:gosec // G115: the case above excludes size-hdr > MaxInt64
	}
}

// mvhd reads version, flags, two times, the timescale and the duration, the
// times and duration 32 or (version 1) 64 bits wide.
func (m *mp4) mvhd(b []byte) {
	switch {
	case len(b) >= 20 && b[0] == 0:
		m.timescale, m.duration = uint64(binary.BigEndian.Uint32(b[12:])), uint64(binary.BigEndian.Uint32(b[16:]))
		if m.duration == math.MaxUint32 {
			m.duration = 0 // unknown
		}
	case len(b) >= 32 && b[0] == 1:
		m.timescale, m.duration = uint64(binary.BigEndian.Uint32(b[20:])), binary.BigEndian.Uint64(b[24:])
		if m.duration == math.MaxUint64 {
			m.duration = 0
		}
	}
}

func (m *mp4) result(int64) (time.Duration, bool) {
	// 0: unknown, or a fragmented file whose fragments carry the media.
	if m.timescale == 0 || m.duration == 0 {
		return 0, false
	}
	return span(m.duration, m.timescale), true
}
