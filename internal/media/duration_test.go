package media

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// durationCase is an audio stream and what a DurationMeter makes of it.
type durationCase struct {
	name   string
	hint   string
	data   []byte
	want   time.Duration
	exact  bool
	format string
}

// bound is the size bound at floor bytes a second.
func bound(n int, floor int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(floor)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func durationCases() []durationCase {
	r := rand.New(rand.NewPCG(7, 8))
	var cases []durationCase
	add := func(c durationCase) { cases = append(cases, c) }

	// WAV
	add(durationCase{name: "wav pcm mono 24k", hint: "audio/wav", data: wavSpec{channels: 1, rate: 24000, bits: 16, frames: 72000}.bytes(), want: 3 * time.Second, exact: true, format: "wav"})
	add(durationCase{name: "wav pcm stereo 44.1k with LIST chunks", hint: "wav", data: wavSpec{channels: 2, rate: 44100, bits: 16, frames: 66150, lists: true}.bytes(), want: 1500 * time.Millisecond, exact: true, format: "wav"})
	add(durationCase{name: "wav extensible float", data: wavSpec{tag: wavFloat, extensible: true, channels: 2, rate: 48000, bits: 32, frames: 4800}.bytes(), want: 100 * time.Millisecond, exact: true, format: "wav"})
	add(durationCase{name: "wav 8-bit odd data (pad byte)", data: wavSpec{channels: 1, rate: 8000, bits: 8, frames: 8001, lists: true}.bytes(), want: time.Second + time.Second/8000, exact: true, format: "wav"})
	add(durationCase{name: "wav streamed 0xFFFFFFFF", hint: "wav", data: wavSpec{channels: 1, rate: 24000, bits: 16, frames: 12000, streamed: true}.bytes(), want: 500 * time.Millisecond, exact: true, format: "wav"})
	add(durationCase{name: "wav streamed size 0", data: wavSpec{channels: 1, rate: 24000, bits: 16, frames: 6000, zeroSize: true}.bytes(), want: 250 * time.Millisecond, exact: true, format: "wav"})
	add(durationCase{name: "wav truncated data", data: wavSpec{channels: 1, rate: 16000, bits: 16, frames: 16000}.bytes()[:44+16000], want: 500 * time.Millisecond, exact: true, format: "wav"})
	add(durationCase{name: "rf64 with ds64", data: rf64(8000, 4000), want: 500 * time.Millisecond, exact: true, format: "wav"})
	adpcm := wavSpec{tag: 0x11, channels: 1, rate: 8000, bits: 4, fact: 16000}.bytes()
	add(durationCase{name: "wav adpcm with fact", data: adpcm, want: 2 * time.Second, exact: true, format: "wav"})
	adpcmNoFact := append(wavSpec{tag: 0x11, channels: 1, rate: 8000, bits: 4}.bytes(), make([]byte, 4000)...)
	add(durationCase{name: "wav adpcm without fact: bound", data: adpcmNoFact, want: bound(len(adpcmNoFact), 1000), format: "wav"})

	// raw PCM, OpenAI's speech format
	add(durationCase{name: "pcm", hint: "pcm", data: make([]byte, 2*48000+24000+1), want: 2500 * time.Millisecond, exact: true, format: "pcm"})
	add(durationCase{name: "pcm that starts like MPEG", hint: "pcm", data: append([]byte{0xFF, 0xFB, 0x90, 0x64}, make([]byte, 47996)...), want: time.Second, exact: true, format: "pcm"})
	add(durationCase{name: "pcm empty", hint: "pcm", exact: true, format: "pcm"})

	// MPEG audio
	m1 := mp3Spec{version: mpeg1, layer: layer3, bri: 9, sri: 0} // 128 kbit/s, 44.1 kHz: 417 or 418 bytes
	var mp3a []byte
	for i := range 100 {
		mp3a = append(mp3a, m1.frame(r, 417+boolInt(i%3 == 0), i%3 == 0)...)
	}
	add(durationCase{name: "mp3 mpeg-1 layer III 44.1k", hint: "mp3", data: mp3a, want: 100 * 1152 * time.Second / 44100, exact: true, format: "mp3"})
	add(durationCase{name: "mp3 sniffed", data: mp3a, want: 100 * 1152 * time.Second / 44100, exact: true, format: "mp3"})

	m2 := mp3Spec{version: mpeg2, layer: layer3, bri: 8, sri: 1, mono: true} // 64 kbit/s, 24 kHz: 192 bytes
	tts := id3v2(300)
	for range 50 {
		tts = append(tts, m2.frame(r, 192, false)...)
	}
	add(durationCase{name: "mp3 mpeg-2 24k after ID3v2", hint: "audio/mpeg", data: tts, want: 1200 * time.Millisecond, exact: true, format: "mp3"})

	twoTags := append(append(id3v2(1), id3v2(0)...), m2.frame(r, 192, false)...) // 11- and 10-byte tags
	twoTags = append(twoTags, m2.frame(r, 192, false)...)
	add(durationCase{name: "mp3 after two tiny ID3v2 tags", data: twoTags, want: 48 * time.Millisecond, exact: true, format: "mp3"})

	xing := append(id3v2(20), m2.xingFrame(192, "Info", 40, 9)...)
	for range 40 {
		xing = append(xing, m2.frame(r, 192, false)...)
	}
	add(durationCase{name: "mp3 Info frame not counted", hint: "mp3", data: xing, want: 40 * 24 * time.Millisecond, exact: true, format: "mp3"})
	lying := append(m2.xingFrame(192, "Xing", 1000, 9), m2.frame(r, 192, false)...)
	add(durationCase{name: "mp3 Xing count above the frames seen", data: lying, want: 1000 * 24 * time.Millisecond, exact: true, format: "mp3"})

	var damaged []byte
	for i := range 30 {
		damaged = append(damaged, m2.frame(r, 192, false)...)
		if i == 10 {
			damaged = append(damaged, []byte("garbage\xff\xfb\x00 in the middle")...)
		}
	}
	damaged = append(damaged, append([]byte("TAG"), bytes.Repeat([]byte{0xFF}, 125)...)...)
	add(durationCase{name: "mp3 resync after garbage, ID3v1 at the end", hint: "mp3", data: damaged, want: 30 * 24 * time.Millisecond, exact: true, format: "mp3"})

	m25 := mp3Spec{version: mpeg25, layer: layer3, bri: 1, sri: 2} // 8 kbit/s, 8 kHz: 72 bytes
	hiding := append(m25.frame(r, 72, false), m25.frame(r, 72, false)...)
	for i := range 100 {
		hiding = append(hiding, m1.frame(r, 417+boolInt(i%3 == 0), i%3 == 0)...)
	}
	add(durationCase{name: "mp3 whose frames mostly disagree with the first two: bound", data: hiding, want: bound(len(hiding), 1000), format: "mp3"})
	noise := append(m2.frame(r, 192, false), m2.frame(r, 192, false)...)
	for range 6000 {
		noise = append(noise, byte(r.UintN(256)))
	}
	add(durationCase{name: "mp3 then noise: bound", hint: "mp3", data: noise, want: bound(len(noise), 1000), format: "mp3"})
	add(durationCase{name: "mp3 mpeg-2.5 8k single frame", data: m25.frame(r, 72, false), want: 72 * time.Millisecond, exact: true, format: "mp3"})
	var l2, l1 []byte
	for range 10 {
		l2 = append(l2, mp3Spec{version: mpeg1, layer: layer2, bri: 10, sri: 1}.frame(r, 576, false)...) // 192 kbit/s, 48 kHz
		l1 = append(l1, mp3Spec{version: mpeg1, layer: layer1, bri: 12, sri: 0}.frame(r, 416, false)...) // 384 kbit/s, 44.1 kHz
	}
	add(durationCase{name: "mp2 layer II", hint: "mp2", data: l2, want: 240 * time.Millisecond, exact: true, format: "mp3"})
	add(durationCase{name: "mpeg layer I", data: l1, want: 10 * 384 * time.Second / 44100, exact: true, format: "mp3"})
	add(durationCase{name: "mp3 hint, no frames: bound", hint: "mp3", data: []byte("definitely not audio, just text of some length"), want: bound(46, 1000), format: "mp3"})

	// ADTS AAC
	var aac []byte
	for i := range 30 {
		aac = append(aac, adtsFrame(6, 200+i, 1)...)
	}
	add(durationCase{name: "aac adts 24k", hint: "aac", data: aac, want: 30 * 1024 * time.Second / 24000, exact: true, format: "aac"})
	add(durationCase{name: "aac adts sniffed, 2 blocks a frame", data: append(adtsFrame(3, 300, 2), adtsFrame(3, 300, 2)...), want: 4 * 1024 * time.Second / 48000, exact: true, format: "aac"})

	// FLAC
	add(durationCase{name: "flac", hint: "flac", data: flacFile(44100, 441000, 500), want: 10 * time.Second, exact: true, format: "flac"})
	add(durationCase{name: "flac after ID3v2", data: append(id3v2(100), flacFile(16000, 24000, 10)...), want: 1500 * time.Millisecond, exact: true, format: "flac"})
	noTotal := flacFile(48000, 0, 3000)
	add(durationCase{name: "flac without total: bound", data: noTotal, want: bound(len(noTotal), 750), format: "flac"})

	// Ogg
	add(durationCase{name: "ogg opus", hint: "opus", data: opusFile(1, 960*20, 960*40, 48312), want: time.Second, exact: true, format: "ogg"})
	add(durationCase{name: "ogg opus chained", data: append(opusFile(1, 24312), opusFile(2, 960*10, 48312)...), want: 1500 * time.Millisecond, exact: true, format: "ogg"})
	add(durationCase{name: "ogg vorbis", hint: "audio/ogg", data: vorbisFile(44100, 88200), want: 2 * time.Second, exact: true, format: "ogg"})
	// a link cut short (no EOS page) and garbage before the next link
	cut := append(oggPage(oggBOS, 0, 3, 0, opusHead()), oggPage(0, 960, 3, 1, make([]byte, 100))...)
	add(durationCase{name: "ogg resync after garbage", data: append(append(cut, "OggSjunkOgg"...), opusFile(4, 960*50+312)...), want: time.Second + 13500*time.Microsecond, exact: true, format: "ogg"})
	speex := oggPage(oggBOS, 0, 9, 0, []byte("Speex   1.2rc1......................"))
	add(durationCase{name: "ogg speex: bound", data: speex, want: bound(len(speex), 750), format: "ogg"})

	// MP4
	add(durationCase{name: "m4a moov first", hint: "m4a", data: m4a(true, mvhd(0, 44100, 441000), 4000), want: 10 * time.Second, exact: true, format: "mp4"})
	add(durationCase{name: "m4a moov last, mvhd v1", data: m4a(false, mvhd(1, 1000, 12345), 4000), want: seconds(12.345), exact: true, format: "mp4"})
	frag := m4a(true, mvhd(0, 1000, 0), 4000)
	add(durationCase{name: "mp4 fragmented (duration 0): bound", hint: "mp4", data: frag, want: bound(len(frag), 750), format: "mp4"})

	// bounds
	webm := append([]byte{0x1A, 0x45, 0xDF, 0xA3}, make([]byte, 7496)...)
	add(durationCase{name: "webm: bound", data: webm, want: 10 * time.Second, format: "webm"})
	add(durationCase{name: "unknown: bound", data: make([]byte, 1500), want: 2 * time.Second})
	add(durationCase{name: "too short to sniff", hint: "wav", data: []byte("RIFF"), want: bound(4, 1000)})
	add(durationCase{name: "empty"})
	add(durationCase{name: "frames beat a frame hint", hint: "mp3", data: aac, want: 30 * 1024 * time.Second / 24000, exact: true, format: "aac"})
	moovOnly := box("moov", mvhd(0, 10, 25))
	add(durationCase{name: "container hint without a signature", hint: "audio/mp4", data: moovOnly, want: 2500 * time.Millisecond, exact: true, format: "mp4"})
	add(durationCase{name: "signature beats hint", hint: "mp3", data: wavSpec{channels: 1, rate: 8000, bits: 16, frames: 800}.bytes(), want: 100 * time.Millisecond, exact: true, format: "wav"})
	return cases
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type meterOutcome struct {
	d      time.Duration
	exact  bool
	format string
}

func meter(hint string, pieces [][]byte) meterOutcome {
	m := NewDurationMeter(hint)
	for _, p := range pieces {
		n, err := m.Write(p)
		if n != len(p) || err != nil {
			panic("DurationMeter.Write must take everything")
		}
	}
	d, exact := m.Result()
	return meterOutcome{d, exact, m.Format()}
}

func TestDuration(t *testing.T) {
	for _, tt := range durationCases() {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, meterOutcome{tt.want, tt.exact, tt.format}, meter(tt.hint, [][]byte{tt.data}))
		})
	}
}

// TestDurationSplits: every split of every case gives the whole result.
func TestDurationSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, tt := range durationCases() {
		t.Run(tt.name, func(t *testing.T) {
			whole := meter(tt.hint, [][]byte{tt.data})
			step := max(1, len(tt.data)/5000) // every offset for all but the largest
			for i := 0; i <= len(tt.data); i += step {
				require.Equal(t, whole, meter(tt.hint, splitAt(tt.data, i)), "split at %d", i)
			}
			for range 20 {
				require.Equal(t, whole, meter(tt.hint, randomPieces(r, tt.data)))
			}
			require.Equal(t, whole, meter(tt.hint, onePerByte(tt.data)))
		})
	}
}

func TestDurationOfFile(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	wav := wavSpec{channels: 1, rate: 24000, bits: 16, frames: 72000, lists: true}.bytes()
	streamed := wavSpec{channels: 1, rate: 24000, bits: 16, frames: 24000, streamed: true}.bytes()
	m2 := mp3Spec{version: mpeg2, layer: layer3, bri: 8, sri: 1, mono: true}
	xing := append(id3v2(50), m2.xingFrame(192, "Xing", 500, 9)...)
	plain := id3v2(50)
	for range 500 {
		xing = append(xing, m2.frame(r, 192, false)...)
		plain = append(plain, m2.frame(r, 192, false)...)
	}
	moovLast := m4a(false, mvhd(0, 600, 6000), 4000)
	opus := opusFile(1, 48312)
	tests := []struct {
		name     string
		filename string
		data     []byte
		head     int
		want     time.Duration
		exact    bool
	}{
		{name: "wav from its header", filename: "a.wav", data: wav, head: 100, want: 3 * time.Second, exact: true},
		{name: "wav head before the data chunk: bound", filename: "a.wav", data: wav, head: 40, want: bound(len(wav), 1000)},
		{name: "streamed wav", filename: "a.wav", data: streamed, head: 64, want: time.Second, exact: true},
		{name: "pcm", filename: "speech.pcm", data: make([]byte, 96000), head: 10, want: 2 * time.Second, exact: true},
		{name: "mp3 with a Xing count", filename: "a.mp3", data: xing, head: 1000, want: 12 * time.Second, exact: true},
		{name: "mp3 without one: bound", filename: "a.mp3", data: plain, head: 1000, want: bound(len(plain), 1000)},
		{name: "mp3 whole", filename: "a.mp3", data: plain, head: len(plain), want: 12 * time.Second, exact: true},
		{name: "flac", filename: "a.flac", data: flacFile(8000, 80000, 5000), head: 42, want: 10 * time.Second, exact: true},
		{name: "m4a moov first", filename: "a.m4a", data: m4a(true, mvhd(0, 600, 6000), 4000), head: 200, want: 10 * time.Second, exact: true},
		{name: "m4a moov last: bound", filename: "a.m4a", data: moovLast, head: 200, want: bound(len(moovLast), 750)},
		{name: "ogg needs its last page: bound", filename: "a.ogg", data: opus, head: 100, want: bound(len(opus), 750)},
		{name: "ogg whole", filename: "a.ogg", data: opus, head: len(opus), want: time.Second, exact: true},
		{name: "head too short to sniff", filename: "a.webm", data: make([]byte, 7500), head: 5, want: 10 * time.Second},
		{name: "head longer than size", filename: "a.pcm", data: make([]byte, 48000), head: 48000, want: time.Second, exact: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, exact := DurationOfFile(tt.data[:tt.head], int64(len(tt.data)), tt.filename)
			require.Equal(t, tt.want, d)
			require.Equal(t, tt.exact, exact)
		})
	}
	d, exact := DurationOfFile(make([]byte, 100), 10, "a.pcm") // a head past the stated size is cut to it
	require.Equal(t, 5*time.Second/24000, d)
	require.True(t, exact)
}

func TestKindOf(t *testing.T) {
	tests := map[string]kind{
		"wav": kindWAV, ".WAV": kindWAV, "audio/wav": kindWAV, "audio/x-wav": kindWAV, "audio/vnd.wave": kindWAV, "Speech.Wav": kindWAV,
		"pcm": kindPCM, "mp3": kindMP3, "mpeg": kindMP3, "mpga": kindMP3, "audio/mpeg": kindMP3, `C:\rec\a.mp3`: kindMP3,
		"aac": kindAAC, "audio/aac": kindAAC, "flac": kindFLAC, "audio/x-flac": kindFLAC,
		"ogg": kindOgg, "opus": kindOgg, "audio/ogg; codecs=opus": kindOgg, "audio/opus": kindOgg,
		"m4a": kindMP4, "mp4": kindMP4, "audio/mp4": kindMP4, "audio/x-m4a": kindMP4,
		"webm": kindWebM, "audio/webm;codecs=opus": kindWebM,
		"": kindUnknown, "txt": kindUnknown, "application/octet-stream": kindUnknown,
	}
	for in, want := range tests {
		require.Equal(t, want, kindOf(in), in)
	}
}

// TestDurationMeterAllocs: after the first bytes, writing allocates nothing.
func TestDurationMeterAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	m2 := mp3Spec{version: mpeg2, layer: layer3, bri: 8, sri: 1, mono: true}
	var mp3 []byte
	for range 200 {
		mp3 = append(mp3, m2.frame(r, 192, false)...)
	}
	for _, data := range [][]byte{mp3, wavSpec{channels: 1, rate: 24000, bits: 16, frames: 24000}.bytes(), opusFile(1, 960, 1920, 2880)} {
		m := NewDurationMeter("")
		_, _ = m.Write(data[:64])
		pieces := randomPieces(r, data[64:])
		allocs := testing.AllocsPerRun(10, func() {
			for _, p := range pieces {
				_, _ = m.Write(p)
			}
		})
		require.Zero(t, allocs, m.Format())
	}
}
