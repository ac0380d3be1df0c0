package media

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
)

// Audio fixtures built byte by byte from the format specifications, so the
// tests need no binary files.

var le = binary.LittleEndian

// chunk is a RIFF chunk: id, little-endian size, body, pad byte if odd.
func chunk(id string, body []byte) []byte {
	out := le.AppendUint32([]byte(id), uint32(len(body)))
	out = append(out, body...)
	if len(body)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

// wavSpec describes a WAV file.
type wavSpec struct {
	tag        uint16 // format tag; 0 means PCM
	channels   uint16
	rate       uint32
	bits       uint16
	frames     int  // sample frames of data
	extensible bool // WAVE_FORMAT_EXTENSIBLE with tag as the subformat
	streamed   bool // data size written as 0xFFFFFFFF
	zeroSize   bool // data size written as 0
	fact       int  // a fact chunk with this many sample frames, if > 0
	lists      bool // LIST chunks (odd sized) before and after the data
}

func (s wavSpec) bytes() []byte {
	tag := s.tag
	if tag == 0 {
		tag = wavPCM
	}
	align := s.channels * (s.bits / 8)
	fmtBody := le.AppendUint16(nil, tag)
	if s.extensible {
		fmtBody = le.AppendUint16(nil, wavExtensible)
	}
	fmtBody = le.AppendUint16(fmtBody, s.channels)
	fmtBody = le.AppendUint32(fmtBody, s.rate)
	fmtBody = le.AppendUint32(fmtBody, s.rate*uint32(align))
	fmtBody = le.AppendUint16(fmtBody, align)
	fmtBody = le.AppendUint16(fmtBody, s.bits)
	if s.extensible {
		fmtBody = le.AppendUint16(fmtBody, 22)
		fmtBody = le.AppendUint16(fmtBody, s.bits)
		fmtBody = le.AppendUint32(fmtBody, 0x4) // front centre
		fmtBody = le.AppendUint16(fmtBody, tag)
		fmtBody = append(fmtBody, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71"...)
	}
	var body []byte
	body = append(body, chunk("fmt ", fmtBody)...)
	if s.fact > 0 {
		body = append(body, chunk("fact", le.AppendUint32(nil, uint32(s.fact)))...)
	}
	if s.lists {
		body = append(body, chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00test\x00"))...)
	}
	data := make([]byte, s.frames*int(align))
	for i := range data {
		data[i] = byte(i * 7)
	}
	dc := chunk("data", data)
	switch {
	case s.streamed:
		le.PutUint32(dc[4:], 0xFFFFFFFF)
	case s.zeroSize:
		le.PutUint32(dc[4:], 0)
	}
	body = append(body, dc...)
	if s.lists && !s.streamed && !s.zeroSize {
		body = append(body, chunk("LIST", []byte("INFOICMT\x03\x00\x00\x00ok\x00"))...)
	}
	out := append([]byte("RIFF"), le.AppendUint32(nil, uint32(4+len(body)))...)
	return append(append(out, "WAVE"...), body...)
}

// rf64 is an RF64 file of 16-bit mono samples at rate whose 32-bit sizes
// are 0xFFFFFFFF and whose ds64 chunk gives the data size; a chunk follows
// the data.
func rf64(rate uint32, frames int) []byte {
	ds64 := le.AppendUint64(nil, 0) // RIFF size: unused here
	ds64 = le.AppendUint64(ds64, uint64(2*frames))
	ds64 = le.AppendUint64(ds64, uint64(frames))
	ds64 = le.AppendUint32(ds64, 0)
	out := append([]byte("RF64\xFF\xFF\xFF\xFFWAVE"), chunk("ds64", ds64)...)
	f := wavSpec{channels: 1, rate: rate, bits: 16}.bytes()[12:] // fmt chunk and an empty data chunk
	out = append(out, f[:len(f)-8]...)
	out = append(out, "data\xFF\xFF\xFF\xFF"...)
	out = append(out, make([]byte, 2*frames)...)
	return append(out, chunk("LIST", []byte("INFO"))...)
}

// mp3Spec describes MPEG audio frames: version as coded (3 MPEG-1, 2
// MPEG-2, 0 MPEG-2.5), layer as coded (1 III, 2 II, 3 I), bitrate and
// sample-rate indexes.
type mp3Spec struct {
	version, layer, bri, sri byte
	mono                     bool
}

func (s mp3Spec) header(pad bool) []byte {
	h := []byte{0xFF, 0xE0 | s.version<<3 | s.layer<<1 | 1, s.bri<<4 | s.sri<<2, 0}
	if pad {
		h[2] |= 2
	}
	if s.mono {
		h[3] = 3 << 6
	}
	return h
}

// frame is one frame of the given total length, payload filled from r.
func (s mp3Spec) frame(r *rand.Rand, size int, pad bool) []byte {
	f := s.header(pad)
	for len(f) < size {
		f = append(f, byte(r.UintN(256)))
	}
	return f
}

// xingFrame is a Layer III frame of the given length carrying a Xing (or
// Info) header that declares frames frames.
func (s mp3Spec) xingFrame(size int, id string, frames uint32, sideInfo int) []byte {
	f := make([]byte, size)
	copy(f, s.header(false))
	off := 4 + sideInfo
	copy(f[off:], id)
	binary.BigEndian.PutUint32(f[off+4:], 0x1|0x2) // frames and bytes fields
	binary.BigEndian.PutUint32(f[off+8:], frames)
	return f
}

// id3v2 is an ID3v2.4 tag whose body is n bytes (syncsafe size).
func id3v2(n int) []byte {
	tag := []byte{'I', 'D', '3', 4, 0, 0, byte(n >> 21 & 0x7F), byte(n >> 14 & 0x7F), byte(n >> 7 & 0x7F), byte(n & 0x7F)}
	body := bytes.Repeat([]byte{0xFF, 0xFB, 0x90}, n/3+1) // sync-like bytes a scanner must not count
	return append(tag, body[:n]...)
}

// adtsFrame is an ADTS frame (MPEG-4 AAC LC, no CRC) of size bytes with
// blocks raw data blocks.
func adtsFrame(sfi byte, size, blocks int) []byte {
	h := []byte{0xFF, 0xF1, 1<<6 | sfi<<2, 1 << 6, 0, 0x1F, 0xFC | byte(blocks-1)}
	h[3] |= byte(size >> 11 & 3)
	h[4] = byte(size >> 3)
	h[5] |= byte(size&7) << 5
	return append(h, make([]byte, size-len(h))...)
}

// flacFile is "fLaC", a STREAMINFO block and a few frame-like bytes.
func flacFile(rate uint32, total uint64, extra int) []byte {
	out := []byte("fLaC")
	out = append(out, 0x80, 0, 0, 34) // last-block flag | type 0 (STREAMINFO), 34 bytes
	si := make([]byte, 34)
	binary.BigEndian.PutUint16(si[0:], 4096)
	binary.BigEndian.PutUint16(si[2:], 4096)
	// rate (20 bits), channels-1 (3), bits-1 (5), total samples (36)
	v := uint64(rate)<<44 | uint64(0)<<41 | uint64(15)<<36 | total&(1<<36-1)
	binary.BigEndian.PutUint64(si[10:], v)
	out = append(out, si...)
	for i := range extra {
		out = append(out, byte(0xFF-i%7))
	}
	return out
}

// oggPage is an Ogg page with a correct segment table and CRC.
func oggPage(flags byte, granule uint64, serial, seq uint32, body []byte) []byte {
	var segs []byte
	n := len(body)
	for n >= 255 {
		segs = append(segs, 255)
		n -= 255
	}
	segs = append(segs, byte(n))
	p := append([]byte("OggS"), 0, flags)
	p = le.AppendUint64(p, granule)
	p = le.AppendUint32(p, serial)
	p = le.AppendUint32(p, seq)
	p = le.AppendUint32(p, 0)
	p = append(p, byte(len(segs)))
	p = append(append(p, segs...), body...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

// oggCRC is Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected).
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// opusFile is an Ogg Opus stream: OpusHead (pre-skip 312), OpusTags, then
// audio pages ending at the given granule positions, the last one EOS.
func opusFile(serial uint32, granules ...uint64) []byte {
	out := oggPage(oggBOS, 0, serial, 0, opusHead())
	out = append(out, oggPage(0, 0, serial, 1, []byte("OpusTags\x07\x00\x00\x00proxide\x00\x00\x00\x00"))...)
	for i, g := range granules {
		flags := byte(0)
		if i == len(granules)-1 {
			flags = oggEOS
		}
		out = append(out, oggPage(flags, g, serial, uint32(i+2), bytes.Repeat([]byte{0xFC, byte(i)}, 150+i))...)
	}
	return out
}

// opusHead is an identification header: mono, pre-skip 312, 24 kHz input.
func opusHead() []byte {
	head := append([]byte("OpusHead"), 1, 1)
	head = le.AppendUint16(head, 312)
	head = le.AppendUint32(head, 24000)
	return append(head, 0, 0, 0)
}

// vorbisFile is an Ogg Vorbis stream at rate whose last page ends at granule.
func vorbisFile(rate uint32, granule uint64) []byte {
	id := append([]byte("\x01vorbis"), 0, 0, 0, 0, 2)
	id = le.AppendUint32(id, rate)
	id = append(id, make([]byte, 14)...)
	out := oggPage(oggBOS, 0, 7, 0, id)
	out = append(out, oggPage(0, math64(-1), 7, 1, make([]byte, 600))...) // no packet ends here
	out = append(out, oggPage(0, granule/2, 7, 2, make([]byte, 300))...)
	return append(out, oggPage(oggEOS, granule, 7, 3, make([]byte, 100))...)
}

func math64(v int64) uint64 { return uint64(v) }

// box is an MP4 box.
func box(typ string, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(binary.BigEndian.AppendUint32(nil, uint32(8+len(b))), append([]byte(typ), b...)...)
}

// mvhd is a movie header box of the given version.
func mvhd(version byte, timescale uint32, duration uint64) []byte {
	b := []byte{version, 0, 0, 0}
	if version == 1 {
		b = append(b, make([]byte, 16)...)
		b = binary.BigEndian.AppendUint32(b, timescale)
		b = binary.BigEndian.AppendUint64(b, duration)
	} else {
		b = append(b, make([]byte, 8)...)
		b = binary.BigEndian.AppendUint32(b, timescale)
		b = binary.BigEndian.AppendUint32(b, uint32(duration))
	}
	return box("mvhd", append(b, make([]byte, 80)...))
}

// m4a is ftyp, then mdat and moov in the given order.
func m4a(moovFirst bool, mvhdBox []byte, mdat int) []byte {
	ftyp := box("ftyp", []byte("M4A \x00\x00\x02\x00isomM4A mp42"))
	moov := box("moov", mvhdBox, box("trak", make([]byte, 40)))
	data := box("mdat", bytes.Repeat([]byte("moov"), mdat/4))
	if moovFirst {
		return bytes.Join([][]byte{ftyp, moov, data}, nil)
	}
	return bytes.Join([][]byte{ftyp, box("free"), data, moov}, nil)
}
