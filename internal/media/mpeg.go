package media

import "encoding/binary"

const (
	mpegHeaderLen = 4
	adtsHeaderLen = 7
	// mpegProbeLen reaches the end of a VBRI header's frame count, the
	// farthest summary field read.
	mpegProbeLen = 36 + 18
)

// MPEG audio versions as coded in the header, and the layers.
const (
	mpeg25 = 0
	mpeg2  = 2
	mpeg1  = 3

	layer3 = 1
	layer2 = 2
	layer1 = 3
)

// mpegBitrates in kbit/s by [table][index]: MPEG-1 Layer I, II, III, then
// MPEG-2/2.5 Layer I, then MPEG-2/2.5 Layers II and III.
var mpegBitrates = [5][15]int{
	{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
}

// mpegRates in Hz by [version][index].
var mpegRates = [4][3]int{
	mpeg25: {11025, 12000, 8000},
	mpeg2:  {22050, 24000, 16000},
	mpeg1:  {44100, 48000, 32000},
}

// mpeg reads MPEG-1/2/2.5 audio frame headers, Layers I–III.
type mpeg struct{}

func (mpeg) headerLen() int { return mpegHeaderLen }

func (mpeg) parse(h []byte) (frame, bool) {
	if h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return frame{}, false
	}
	version, layer := int(h[1]>>3&3), int(h[1]>>1&3)
	bri, sri, pad := int(h[2]>>4), int(h[2]>>2&3), int(h[2]>>1&1)
	// Free-format (bitrate index 0) frames have no stated length; they are
	// vanishingly rare and treated as garbage.
	if version == 1 || layer == 0 || bri == 0 || bri == 15 || sri == 3 {
		return frame{}, false
	}
	table := 3 - layer // MPEG-1: I → 0, II → 1, III → 2
	if version != mpeg1 {
		table = 4
		if layer == layer1 {
			table = 3
		}
	}
	bitrate, rate := mpegBitrates[table][bri]*1000, mpegRates[version][sri]
	f := frame{rate: rate, key: uint32(h[1]&0xFE)<<8 | uint32(sri)}
	switch {
	case layer == layer1:
		f.samples, f.size = 384, (12*bitrate/rate+pad)*4
	case layer == layer3 && version != mpeg1:
		f.samples, f.size = 576, 72*bitrate/rate+pad
	default:
		f.samples, f.size = 1152, 144*bitrate/rate+pad
	}
	return f, f.size >= mpegHeaderLen
}

func (mpeg) probeLen(f frame) int {
	if f.key>>9&3 != layer3 { // only Layer III encoders write summaries
		return 0
	}
	return mpegProbeLen
}

// probe looks for a Xing or Info header (LAME, most encoders) after the
// side information, or a VBRI header (Fraunhofer) 32 bytes in.
func (mpeg) probe(b []byte, _ frame) (int64, bool) {
	if len(b) < mpegHeaderLen || b[1]>>1&3 != layer3 {
		return 0, false
	}
	mono := b[3]>>6 == 3
	side := 17
	switch version := b[1] >> 3 & 3; {
	case version == mpeg1 && !mono:
		side = 32
	case version != mpeg1 && mono:
		side = 9
	}
	if off := mpegHeaderLen + side; len(b) >= off+8 {
		if id := string(b[off : off+4]); id == "Xing" || id == "Info" {
			var frames int64
			if flags := binary.BigEndian.Uint32(b[off+4:]); flags&1 != 0 && len(b) >= off+12 {
				frames = int64(binary.BigEndian.Uint32(b[off+8:]))
			}
			return frames, true
		}
	}
	if len(b) >= mpegProbeLen && string(b[36:40]) == "VBRI" {
		return int64(binary.BigEndian.Uint32(b[50:])), true
	}
	return 0, false
}

// adtsRates in Hz by sampling frequency index.
var adtsRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// adts reads ADTS frame headers (AAC as OpenAI's speech endpoint sends it).
type adts struct{}

func (adts) headerLen() int { return adtsHeaderLen }

func (adts) parse(h []byte) (frame, bool) {
	// 12-bit sync, then layer 00 (which MPEG audio reserves)
	if h[0] != 0xFF || h[1]&0xF6 != 0xF0 {
		return frame{}, false
	}
	sfi := int(h[2] >> 2 & 0xF)
	if sfi >= len(adtsRates) {
		return frame{}, false
	}
	minLen := 9 // with a CRC
	if h[1]&1 != 0 {
		minLen = 7
	}
	size := int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5]>>5)
	if size < minLen {
		return frame{}, false
	}
	// Each raw data block decodes to 1024 samples at the core rate (HE-AAC
	// doubles the output rate and the samples alike: same duration).
	blocks := int(h[6]&3) + 1
	key := uint32(h[1]&0x08)<<8 | uint32(h[2]&0xFC) // MPEG-2/4, profile, rate
	return frame{size: size, samples: 1024 * blocks, rate: adtsRates[sfi], key: key}, true
}

func (adts) probeLen(frame) int                    { return 0 }
func (adts) probe(_ []byte, _ frame) (int64, bool) { return 0, false }
