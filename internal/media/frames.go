package media

import "time"

// frame is what a frame header says.
type frame struct {
	size    int    // bytes, header included
	samples int    // sample frames it decodes to
	rate    int    // Hz
	key     uint32 // header bits that stay the same through a stream
}

// frameCodec reads the headers of a stream of self-delimiting frames.
type frameCodec interface {
	headerLen() int
	// parse reads a frame header (headerLen bytes).
	parse(h []byte) (frame, bool)
	// probeLen is how much of a stream's first frame probe wants to see.
	probeLen(f frame) int
	// probe reads the start of a stream's first frame for an encoder's
	// summary (MP3's Xing/Info/VBRI): isTag means the frame carries the
	// summary instead of audio, frames is the stream's frame count, if given.
	probe(b []byte, f frame) (frames int64, isTag bool)
}

// frames measures a stream of MPEG audio or ADTS frames by walking from
// header to header. Garbage (a damaged stretch, a trailing tag) is skipped
// by searching for the next valid header; to keep a stray sync pattern in
// garbage from being counted, a stream is locked only once two consecutive
// frames agree (version, layer, sample rate), and after that only frames
// that agree with it count.
type frames struct {
	codec   frameCodec
	c       collector
	seen    int64 // bytes written
	probing bool  // gathering the start of a candidate first frame
	want    int   // what probing gathers

	locked bool
	ref    frame  // the locked stream
	tag    int64  // the locked stream's summary frame count, 0 if none
	total  uint64 // sample frames counted in the locked stream

	hasCand   bool  // a valid header not yet confirmed by the next one
	cand      frame // it
	candIsTag bool
	candTag   int64
}

func (s *frames) write(p []byte) {
	s.seen += int64(len(p))
	hl := s.codec.headerLen()
	for len(p) > 0 {
		if s.c.skip > 0 {
			p = p[s.c.pass(p):]
			continue
		}
		want := hl
		if s.probing {
			want = s.want
		} else if s.c.n == 0 && p[0] != 0xFF {
			// Not a header where one was due: drop an unconfirmed
			// candidate and jump to the next byte a header can start with.
			s.lost()
			if p = s.c.seek(p, 0xFF); p == nil {
				return
			}
		}
		k, full := s.c.gather(p, want)
		p = p[k:]
		if !full {
			return
		}
		s.header()
	}
}

// lost drops a candidate that the next header did not confirm: its bytes
// were garbage after all.
func (s *frames) lost() {
	if s.hasCand {
		s.c.garbage += int64(s.cand.size)
	}
	s.hasCand = false
}

// header handles gathered bytes at a frame's start.
func (s *frames) header() {
	b := s.c.buf[:s.c.n]
	if s.probing {
		s.probing = false
		s.candTag, s.candIsTag = s.codec.probe(b, s.cand)
		s.c.next(int64(s.cand.size - len(b)))
		return
	}
	f, ok := s.codec.parse(b)
	if !ok || s.locked && f.key != s.ref.key {
		s.lost()
		s.c.resync(0xFF)
		return
	}
	switch {
	case s.locked:
		s.total += unsigned(f.samples)
	case s.hasCand && f.key == s.cand.key:
		s.locked, s.ref, s.hasCand = true, s.cand, false
		if s.candIsTag {
			s.tag = s.candTag
		} else {
			s.total += unsigned(s.cand.samples)
		}
		s.total += unsigned(f.samples)
	default:
		s.hasCand, s.cand, s.candIsTag, s.candTag = true, f, false, 0
		if n := min(s.codec.probeLen(f), f.size); n > len(b) {
			s.probing, s.want = true, n
			return
		}
	}
	s.c.next(int64(f.size - len(b)))
}

func (s *frames) result(rest int64) (time.Duration, bool) {
	if s.c.suspect(s.seen + rest) {
		return 0, false
	}
	ref, total, tag := s.ref, s.total, s.tag
	if !s.locked {
		// A lone frame (a very short file) counts once it was seen whole
		// and nothing but the end of the stream followed it.
		if !s.hasCand || s.probing || s.c.skip > 0 || s.c.n > 0 {
			return 0, false
		}
		ref, total, tag = s.cand, unsigned(s.cand.samples), 0
		if s.candIsTag {
			total, tag = 0, s.candTag
		}
	}
	summary := uint64(tag) * unsigned(ref.samples)
	if rest > 0 {
		// Only the head was seen: only an encoder's summary tells the rest.
		if tag > 0 {
			return span(summary, unsigned(ref.rate)), true
		}
		return 0, false
	}
	// A summary larger than what was counted (a stale or lying header, a
	// truncated upload) is believed: an estimate must not fall short.
	return span(max(total, summary), unsigned(ref.rate)), true
}
