package media

import (
	"encoding/binary"
	"math"
	"time"
)

const (
	oggPageHeader = 27
	oggIDLen      = 16 // enough of an identification header for its rate and pre-skip
	oggBOS        = 0x02
	oggEOS        = 0x04
	opusRate      = 48000 // Opus granule positions always count 48 kHz samples
)

// oggCodec is what an Ogg logical stream carries.
type oggCodec uint8

const (
	oggOpus oggCodec = iota + 1
	oggVorbis
)

// ogg reads Ogg pages: the first Opus or Vorbis logical stream's
// identification header, then the granule position of each of its pages.
// Page bodies are passed over, not read.
type ogg struct {
	c      collector
	seen   int64 // bytes written
	inBody bool  // gathering the start of a BOS page's body
	want   int
	body   int64 // the current page's body length

	pageSerial uint32 // of the BOS page whose body is gathered

	have    bool // a stream is followed
	serial  uint32
	codec   oggCodec
	preSkip uint64
	rate    uint64
	granule uint64
	eos     bool
	data    bool          // a page other than a BOS page was seen in this link
	done    time.Duration // links of a chained stream that ended before this one
}

func (o *ogg) write(p []byte) {
	o.seen += int64(len(p))
	for len(p) > 0 {
		if o.c.skip > 0 {
			p = p[o.c.pass(p):]
			continue
		}
		want := o.want
		switch {
		case o.inBody:
		case o.c.n < oggPageHeader:
			want = oggPageHeader
			if o.c.n == 0 && p[0] != 'O' {
				if p = o.c.seek(p, 'O'); p == nil { // resynchronise on "OggS"
					return
				}
			}
		default:
			want = oggPageHeader + int(o.c.buf[26])
		}
		k, full := o.c.gather(p, want)
		p = p[k:]
		if full {
			o.step()
		}
	}
}

// step handles a gathered page header (in two goes: the fixed part, then the
// segment table) or the start of a BOS page's body.
func (o *ogg) step() {
	b := o.c.buf[:o.c.n]
	switch {
	case o.inBody:
		o.inBody = false
		o.identify(b)
		o.c.next(o.body - int64(len(b)))
	case len(b) == oggPageHeader && (string(b[:4]) != "OggS" || b[4] != 0):
		o.c.resync('O')
	case len(b) == oggPageHeader && b[26] > 0:
		// the segment table follows: gather it too
	default:
		o.page(b)
	}
}

// page handles a whole page header.
func (o *ogg) page(b []byte) {
	o.body = 0
	for _, l := range b[oggPageHeader:] {
		o.body += int64(l)
	}
	flags, granule, serial := b[5], binary.LittleEndian.Uint64(b[6:]), binary.LittleEndian.Uint32(b[14:])
	if flags&oggBOS != 0 && (!o.have || o.eos || o.data) && o.body > 0 {
		// A new logical stream while none is followed, or after the one
		// followed ended or had data pages (Ogg puts every BOS page of a
		// multiplexed file before any data page, so this is the next link
		// of a chained file, the last one cut short): read its
		// identification header.
		o.inBody, o.want, o.pageSerial = true, int(min(o.body, oggIDLen)), serial
		o.c.next(0)
		return
	}
	if o.have && serial == o.serial {
		// -1: no packet ends on this page
		if granule != math.MaxUint64 {
			o.granule = granule
		}
		o.eos = o.eos || flags&oggEOS != 0
	}
	if flags&oggBOS == 0 {
		o.data = true
	}
	o.c.next(o.body)
}

// identify reads a BOS page's first packet.
func (o *ogg) identify(b []byte) {
	var codec oggCodec
	var preSkip, rate uint64
	switch {
	case len(b) >= 12 && string(b[:8]) == "OpusHead":
		codec, preSkip, rate = oggOpus, uint64(binary.LittleEndian.Uint16(b[10:])), opusRate
	case len(b) >= 16 && string(b[:7]) == "\x01vorbis":
		codec, rate = oggVorbis, uint64(binary.LittleEndian.Uint32(b[12:]))
	}
	if codec == 0 || rate == 0 {
		return // another codec (video, Speex, FLAC): not followed
	}
	o.done += o.link()
	o.have, o.serial, o.codec, o.preSkip, o.rate, o.granule, o.eos, o.data = true, o.pageSerial, codec, preSkip, rate, 0, false, false
}

// link is the duration of the stream followed so far.
func (o *ogg) link() time.Duration {
	if !o.have {
		return 0
	}
	g := o.granule
	if o.codec == oggOpus {
		g -= min(g, o.preSkip) // the decoder drops the pre-skip samples
	}
	return span(g, o.rate)
}

func (o *ogg) result(rest int64) (time.Duration, bool) {
	// Only the last page tells the length: a head is not enough.
	if !o.have || rest > 0 || o.c.suspect(o.seen) {
		return 0, false
	}
	d := o.done + o.link()
	if d < o.done { // saturate
		d = math.MaxInt64
	}
	return d, true
}
