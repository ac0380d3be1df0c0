package media

import (
	"encoding/binary"
	"math"
	"time"
)

// WAV format tags whose data bytes give the duration: a fixed number of
// bytes per sample frame.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE
)

// wavState is what the wav parser gathers next.
type wavState uint8

const (
	wavRIFF  wavState = iota // "RIFF"/"RF64", size, "WAVE"
	wavChunk                 // a chunk header: id, size
	wavBody                  // the start of a fmt, ds64 or fact chunk
	wavStop                  // not a RIFF WAVE: stop reading
)

// wav reads a RIFF WAVE (or RF64) chunk by chunk, keeping the format and
// counting the bytes of the data chunk(s).
type wav struct {
	c     collector
	st    wavState
	want  int
	chunk string // the chunk whose body is being gathered
	rest  int64  // bytes of that chunk after what is gathered, padding included

	tag        uint32 // format tag (the subformat's, for WAVE_FORMAT_EXTENSIBLE)
	rate       uint32
	blockAlign uint32
	haveFmt    bool
	fact       uint32 // sample frames, from a fact chunk
	haveFact   bool
	rf64       bool
	ds64Data   uint64 // an RF64 data size, from its ds64 chunk

	sawData  bool
	data     int64 // data bytes seen
	dataLeft int64 // declared data bytes not yet seen (MaxInt64 when streamed)
}

func (w *wav) write(p []byte) {
	for len(p) > 0 && w.st != wavStop {
		if w.c.skip > 0 {
			n := w.c.pass(p)
			counted := min(int64(n), w.dataLeft)
			w.data += counted
			w.dataLeft -= counted
			p = p[n:]
			continue
		}
		want := w.want
		switch w.st {
		case wavRIFF:
			want = 12
		case wavChunk:
			want = 8
		}
		k, full := w.c.gather(p, want)
		p = p[k:]
		if !full {
			return
		}
		w.header(w.c.buf[:w.c.n])
	}
}

// header handles a gathered header and says what comes next.
func (w *wav) header(b []byte) {
	switch w.st {
	case wavRIFF:
		if (string(b[:4]) != "RIFF" && string(b[:4]) != "RF64") || string(b[8:12]) != "WAVE" {
			w.st = wavStop
			return
		}
		w.rf64 = string(b[:4]) == "RF64"
		w.st = wavChunk
		w.c.next(0)
	case wavChunk:
		id, size := string(b[:4]), int64(binary.LittleEndian.Uint32(b[4:]))
		padded := size + size&1 // chunks are word aligned
		w.dataLeft = 0
		switch id {
		case "data":
			w.sawData = true
			switch {
			case size == math.MaxUint32 && w.rf64 && w.ds64Data > 0 && w.ds64Data < math.MaxInt64:
				w.dataLeft = int64(w.ds64Data)
				padded = w.dataLeft + w.dataLeft&1
			case size == math.MaxUint32 || size == 0:
				// A streamed WAV whose writer could not go back to fill in
				// the size: everything that follows is data.
				w.dataLeft, padded = math.MaxInt64, math.MaxInt64
			default:
				w.dataLeft = size
			}
			w.c.next(padded)
			return
		case "fmt ", "ds64", "fact":
			if want := min(size, 40); want > 0 {
				w.st, w.chunk, w.want, w.rest = wavBody, id, int(want), padded-want
				w.c.next(0)
				return
			}
		}
		w.c.next(padded)
	case wavBody:
		w.body(b)
		w.st = wavChunk
		w.c.next(w.rest)
	}
}

// body reads the gathered start of a fmt, ds64 or fact chunk.
func (w *wav) body(b []byte) {
	switch w.chunk {
	case "fmt ":
		if len(b) < 16 {
			return
		}
		w.tag = uint32(binary.LittleEndian.Uint16(b))
		channels := uint32(binary.LittleEndian.Uint16(b[2:]))
		w.rate = binary.LittleEndian.Uint32(b[4:])
		w.blockAlign = uint32(binary.LittleEndian.Uint16(b[12:]))
		if bits := uint32(binary.LittleEndian.Uint16(b[14:])); w.blockAlign == 0 {
			w.blockAlign = channels * ((bits + 7) / 8)
		}
		if w.tag == wavExtensible && len(b) >= 26 {
			w.tag = uint32(binary.LittleEndian.Uint16(b[24:])) // the subformat GUID starts with the tag
		}
		w.haveFmt = true
	case "ds64":
		if len(b) >= 16 {
			w.ds64Data = binary.LittleEndian.Uint64(b[8:])
		}
	case "fact":
		if len(b) >= 4 {
			w.fact, w.haveFact = binary.LittleEndian.Uint32(b), true
		}
	}
}

func (w *wav) result(rest int64) (time.Duration, bool) {
	if !w.haveFmt || w.rate == 0 {
		return 0, false
	}
	switch w.tag {
	case wavPCM, wavFloat, wavALaw, wavMuLaw:
		if w.blockAlign == 0 {
			return 0, false
		}
		data := w.data
		if rest > 0 {
			// Only the head was seen: the data chunk must have begun, and
			// the rest of the file is its data as far as it was declared.
			if !w.sawData {
				return 0, false
			}
			data += min(rest, w.dataLeft)
		}
		return span(unsigned(data)/uint64(w.blockAlign), uint64(w.rate)), true
	}
	if w.haveFact {
		// A compressed codec (ADPCM, GSM, …): the fact chunk states the
		// sample frames, which its data size does not give.
		return span(uint64(w.fact), uint64(w.rate)), true
	}
	return 0, false
}
