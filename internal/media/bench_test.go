package media

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const benchChunk = 16 << 10 // what a client's upload arrives in, roughly

// uploadBody is a transcription request carrying a WAV file of about size
// bytes, with random samples (so the boundary's bytes turn up in it).
func uploadBody(size int) (ct string, body []byte) {
	wav := wavSpec{channels: 1, rate: 24000, bits: 16, frames: size / 2}.bytes()
	r := rand.New(rand.NewPCG(15, 16))
	for i := 44; i < len(wav); i++ {
		wav[i] = byte(r.UintN(256))
	}
	var b bytes.Buffer
	b.WriteString(crlf("--XyZzy\nContent-Disposition: form-data; name=\"model\"\n\ngpt-4o-transcribe\n--XyZzy\nContent-Disposition: form-data; name=\"response_format\"\n\nverbose_json\n--XyZzy\nContent-Disposition: form-data; name=\"file\"; filename=\"meeting.wav\"\nContent-Type: audio/wav\n\n"))
	b.Write(breakDelimiters(wav, "XyZzy")) // changes nothing but at odds of 2^-72 a byte
	b.WriteString(crlf("\n--XyZzy--\n"))
	return testCT, b.Bytes()
}

func chunks(body []byte, n int) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, body[:k])
		body = body[k:]
	}
	return out
}

// upload parses body in pieces, measuring the file's duration when
// withMeter is set.
func upload(ct string, pieces [][]byte, withMeter bool) (FormResult, *DurationMeter, error) {
	var dm *DurationMeter
	lim := FormLimits{}
	if withMeter {
		lim.FileSink = func(_, _, contentType string) io.Writer {
			dm = NewDurationMeter(contentType)
			return dm
		}
	}
	f, err := NewForm(ct, lim)
	if err != nil {
		return FormResult{}, nil, err
	}
	for _, p := range pieces {
		if err := f.Write(p); err != nil {
			return FormResult{}, nil, err
		}
	}
	res, err := f.Close()
	return res, dm, err
}

// BenchmarkFormUpload: a 10 MiB transcription upload in 16 KiB chunks, the
// file's bytes dropped (sink=none) or measured (sink=duration).
func BenchmarkFormUpload(b *testing.B) {
	ct, body := uploadBody(10 << 20)
	pieces := chunks(body, benchChunk)
	for _, withMeter := range []bool{false, true} {
		name := "sink=none"
		if withMeter {
			name = "sink=duration"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				res, _, err := upload(ct, pieces, withMeter)
				if err != nil || len(res.Files) != 1 {
					b.Fatal(err, res)
				}
			}
		})
	}
}

// TestFormUploadAllocs: a Form allocates per part, never per byte or per
// chunk: a 10 MiB upload costs what a 100 KiB one does.
func TestFormUploadAllocs(t *testing.T) {
	allocs := func(size int) float64 {
		ct, body := uploadBody(size)
		pieces := chunks(body, benchChunk)
		return testing.AllocsPerRun(3, func() {
			res, dm, err := upload(ct, pieces, true)
			require.NoError(t, err)
			require.Len(t, res.Files, 1)
			d, exact := dm.Result()
			require.True(t, exact)
			require.Equal(t, int64(44+size/2*2), res.Files[0].Size)
			require.Equal(t, time.Duration(size/2)*time.Second/24000, d)
		})
	}
	small, large := allocs(100<<10), allocs(10<<20)
	require.InDelta(t, small, large, 0, "allocations do not grow with the body")
	require.LessOrEqual(t, large, 40.0) // parsing the content type, a few strings a part, the meter
}

// BenchmarkDurationMeter: 10 MiB streams in 16 KiB chunks.
func BenchmarkDurationMeter(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 18))
	m2 := mp3Spec{version: mpeg2, layer: layer3, bri: 8, sri: 1, mono: true}
	var mp3 []byte
	for len(mp3) < 10<<20 {
		mp3 = append(mp3, m2.frame(r, 192, false)...)
	}
	var ogg []byte
	for i := 0; len(ogg) < 10<<20; i++ {
		ogg = append(ogg, oggPage(0, uint64(960*(i+1)), 1, uint32(i+2), make([]byte, 4000))...)
	}
	ogg = append(oggPage(oggBOS, 0, 1, 0, opusHead()), ogg...)
	streams := []struct {
		name string
		data []byte
	}{
		{"wav", wavSpec{channels: 1, rate: 24000, bits: 16, frames: 5 << 20}.bytes()},
		{"mp3", mp3},
		{"ogg", ogg},
	}
	for _, s := range streams {
		pieces := chunks(s.data, benchChunk)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.data)))
			for b.Loop() {
				m := NewDurationMeter("")
				for _, p := range pieces {
					_, _ = m.Write(p)
				}
				if _, exact := m.Result(); !exact {
					b.Fatal("not exact")
				}
			}
		})
	}
}
