package media

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzContentTypes are the boundaries FuzzForm picks from: the one the seeds
// use, a quoted one with specials, and one of dashes only, whose delimiter
// "---" overlaps itself.
var fuzzContentTypes = []string{testCT, `multipart/form-data; boundary="=_a b?"`, "multipart/form-data; boundary=-"}

// fuzzLimits are small enough for fuzzed bodies to reach them.
var fuzzLimits = FormLimits{MaxFieldBytes: 1 << 10, MaxFieldsBytes: 2 << 10, MaxFields: 8, MaxFiles: 4, MaxHeaderBytes: 512}

// FuzzForm: any body, cut anywhere, never panics, keeps its buffers within
// the limits, and reads the same whole, in two pieces or byte by byte.
func FuzzForm(f *testing.F) {
	for _, c := range formCases() {
		if c.ct == "" {
			f.Add([]byte(c.body), uint16(len(c.body)/2), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, split uint16, mode uint8) {
		ct := fuzzContentTypes[int(mode)%len(fuzzContentTypes)]
		at := int(split) % (len(body) + 1)
		whole := fuzzForm(t, ct, [][]byte{body})
		if got := fuzzForm(t, ct, splitAt(body, at)); !equalOutcome(whole, got) {
			t.Fatalf("split at %d: %+v, whole: %+v", at, got, whole)
		}
		if len(body) < 4096 {
			if got := fuzzForm(t, ct, onePerByte(body)); !equalOutcome(whole, got) {
				t.Fatalf("byte by byte: %+v, whole: %+v", got, whole)
			}
		}
	})
}

func fuzzForm(t *testing.T, ct string, pieces [][]byte) formOutcome {
	var s sinks
	lim := fuzzLimits
	lim.FileSink = s.sink
	form, err := NewForm(ct, lim)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pieces {
		werr := form.Write(p)
		if len(form.carry) > maxUndecided || cap(form.hdr) > lim.MaxHeaderBytes || cap(form.val) > lim.MaxFieldBytes || form.total > lim.MaxFieldsBytes {
			t.Fatalf("buffers past the limits: carry %d, header %d, value %d, total %d", len(form.carry), cap(form.hdr), cap(form.val), form.total)
		}
		if werr != nil {
			break
		}
	}
	res, err := form.Close()
	out := formOutcome{res: res, content: map[string]string{}}
	if err != nil {
		out.err = err.Error()
	}
	for k, b := range s.files {
		out.content[k] = b.String()
	}
	var sum int64
	for _, fp := range res.Files {
		sum += fp.Size
	}
	if len(res.Files) > lim.MaxFiles || countFields(res.Fields) > lim.MaxFields {
		t.Fatalf("more parts than the limits: %d files, %d fields", len(res.Files), countFields(res.Fields))
	}
	return out
}

func countFields(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// equalOutcome compares outcomes; a sink keyed twice (two files of the same
// field and name) keeps the last, the same in every run.
func equalOutcome(a, b formOutcome) bool {
	return fmt.Sprint(a.res) == fmt.Sprint(b.res) && a.err == b.err && fmt.Sprint(a.content) == fmt.Sprint(b.content)
}

// fuzzHints are the format hints FuzzDuration picks from.
var fuzzHints = []string{"", "wav", "pcm", "mp3", "aac", "flac", "ogg", "m4a", "webm"}

// FuzzDuration: any stream, cut anywhere, never panics and measures the
// same whole, in two pieces or byte by byte; DurationOfFile takes any head.
func FuzzDuration(f *testing.F) {
	for _, c := range durationCases() {
		if len(c.data) <= 8<<10 {
			f.Add(c.data, uint16(len(c.data)/3), hintIndex(c.hint))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, hint uint8) {
		h := fuzzHints[int(hint)%len(fuzzHints)]
		at := int(split) % (len(data) + 1)
		whole := meter(h, [][]byte{data})
		if whole.d < 0 {
			t.Fatalf("negative duration %v", whole.d)
		}
		if got := meter(h, splitAt(data, at)); got != whole {
			t.Fatalf("split at %d: %+v, whole: %+v", at, got, whole)
		}
		if got := meter(h, onePerByte(data)); got != whole {
			t.Fatalf("byte by byte: %+v, whole: %+v", got, whole)
		}
		if d, _ := DurationOfFile(data[:at], int64(len(data))+int64(split), h); d < 0 {
			t.Fatalf("negative duration of file %v", d)
		}
	})
}

func hintIndex(h string) uint8 {
	for i, v := range fuzzHints {
		if kindOf(v) == kindOf(h) && (h == "") == (v == "") {
			return uint8(i)
		}
	}
	return 0
}

// TestWriteFuzzCorpus regenerates the committed seed corpus under
// testdata/fuzz from the test cases: MEDIA_WRITE_CORPUS=1 go test -run
// TestWriteFuzzCorpus ./media/
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MEDIA_WRITE_CORPUS") == "" {
		t.Skip("set MEDIA_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	clean := regexp.MustCompile(`[^a-zA-Z0-9]+`)
	write := func(target, name string, data []byte, split uint16, mode uint8) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\nuint16(%d)\nuint8(%d)\n", strconv.Quote(string(data)), split, mode)
		file := filepath.Join(dir, clean.ReplaceAllString(name, "_"))
		require.NoError(t, os.WriteFile(file, []byte(body), 0o644))
	}
	for _, c := range formCases() {
		mode := uint8(0)
		if c.ct != "" {
			mode = 1
		}
		write("FuzzForm", c.name, []byte(c.body), uint16(len(c.body)/2), mode)
	}
	for _, c := range durationCases() {
		data := c.data
		if len(data) > 1536 {
			data = data[:1536] // a head is enough to reach the parsers' states
		}
		write("FuzzDuration", c.name, data, uint16(len(data)/3), hintIndex(c.hint))
	}
}
