package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"testing"

	"github.com/stretchr/testify/require"
)

// formOutcome is everything a Form run produces, for comparing runs.
type formOutcome struct {
	res     FormResult
	err     string
	content map[string]string
}

func runForm(t testing.TB, ct string, lim FormLimits, pieces [][]byte) formOutcome {
	t.Helper()
	var s sinks
	lim.FileSink = s.sink
	res, err := parseForm(t, ct, lim, pieces...)
	out := formOutcome{res: res, content: map[string]string{}}
	if err != nil {
		out.err = err.Error()
	}
	for k, b := range s.files {
		out.content[k] = b.String()
	}
	return out
}

// splitAt cuts body at the given offsets (ascending).
func splitAt(body []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, body[prev:c])
		prev = c
	}
	return append(out, body[prev:])
}

// randomPieces cuts body into pieces of random sizes, small ones often.
func randomPieces(r *rand.Rand, body []byte) [][]byte {
	var out [][]byte
	for len(body) > 0 {
		n := 1 + r.IntN(min(len(body), 1+r.IntN(100)))
		out = append(out, body[:n])
		body = body[n:]
	}
	return out
}

func onePerByte(body []byte) [][]byte {
	out := make([][]byte, len(body))
	for i := range body {
		out[i] = body[i : i+1]
	}
	return out
}

// TestFormSplits: every case gives the same result, error and file bytes
// whether written whole, cut in two at every offset, cut at random, or a
// byte at a time.
func TestFormSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tt := range formCases() {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := cmp(tt.ct, testCT), []byte(tt.body)
			whole := runForm(t, ct, tt.lim, [][]byte{body})
			for i := 0; i <= len(body); i++ {
				require.Equal(t, whole, runForm(t, ct, tt.lim, splitAt(body, i)), "split at %d", i)
			}
			for range 50 {
				require.Equal(t, whole, runForm(t, ct, tt.lim, randomPieces(r, body)))
			}
			require.Equal(t, whole, runForm(t, ct, tt.lim, onePerByte(body)))
		})
	}
}

// nastyContent is binary file content full of near-boundaries: the
// boundary without its line break, with a different last byte, cut short,
// or followed by a single "-".
func nastyContent(r *rand.Rand, boundary string, n int) []byte {
	fragments := []string{
		"--" + boundary, "\r\n--" + boundary + "X", "\r\n--" + boundary[:len(boundary)-1],
		"\r\n--" + boundary + "-x", "\r\n-", "\r\n", "\r", "\n--" + boundary + "\r\n", "--",
		"\r\n--" + boundary + "\r\n", // a real delimiter, until breakDelimiters breaks it
	}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(4) == 0 {
			b.WriteString(fragments[r.IntN(len(fragments))])
		} else {
			for range 1 + r.IntN(40) {
				b.WriteByte(byte(r.UintN(256)))
			}
		}
	}
	return breakDelimiters(b.Bytes(), boundary)
}

// breakDelimiters puts an X after every boundary in c that would make a
// delimiter (at the start, after CRLF, or before the delimiter that follows
// the content), so that c is valid part content.
func breakDelimiters(c []byte, boundary string) []byte {
	dash := "--" + boundary
	s := append(append([]byte{}, c...), "\r\n"+dash+"\r\n"...)
	var out []byte
	if bytes.HasPrefix(s, []byte(dash)) {
		if isDelim, _, _ := afterBoundary(s[len(dash):]); isDelim {
			out = append(out, 'X')
		}
	}
	last := 0
	for from := 0; ; {
		i := bytes.Index(s[from:], []byte("\r\n"+dash))
		if i < 0 || from+i >= len(c) {
			break
		}
		end := from + i + 2 + len(dash)
		if isDelim, _, known := afterBoundary(s[end:]); isDelim || !known {
			out = append(append(out, c[last:end]...), 'X')
			last = end
		}
		from += i + 1
	}
	return append(out, c[last:]...)
}

// TestFormMatchesMimeMultipart builds random forms with Go's
// multipart.Writer and checks a Form fed in random pieces reads what Go's
// reader reads.
func TestFormMatchesMimeMultipart(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 300 {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		if iter%3 == 0 {
			require.NoError(t, w.SetBoundary(fmt.Sprintf("b%d", iter))) // short: more near misses
		}
		wantFields := map[string][]string{}
		var wantFiles []FilePart
		wantContent := map[string]string{}
		for i := range r.IntN(6) {
			if r.IntN(2) == 0 {
				name := fmt.Sprintf("field%d", r.IntN(3))
				val := string(nastyContent(r, w.Boundary(), r.IntN(200)))
				require.NoError(t, w.WriteField(name, val))
				wantFields[name] = append(wantFields[name], val)
				continue
			}
			name, filename := "file", fmt.Sprintf("f%d.wav", i)
			content := nastyContent(r, w.Boundary(), r.IntN(5000))
			fw, err := w.CreateFormFile(name, filename)
			require.NoError(t, err)
			_, err = fw.Write(content)
			require.NoError(t, err)
			wantFiles = append(wantFiles, FilePart{Field: name, Filename: filename, ContentType: "application/octet-stream", Size: int64(len(content))})
			wantContent[name+"/"+filename] = string(content)
		}
		require.NoError(t, w.Close())

		// Go's own reader reads back what was written...
		mr := multipart.NewReader(bytes.NewReader(body.Bytes()), w.Boundary())
		goFields, goContent := map[string][]string{}, map[string]string{}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			b, err := io.ReadAll(p)
			require.NoError(t, err)
			if p.FileName() == "" {
				goFields[p.FormName()] = append(goFields[p.FormName()], string(b))
			} else {
				goContent[p.FormName()+"/"+p.FileName()] = string(b)
			}
		}
		require.Equal(t, wantFields, goFields)
		require.Equal(t, wantContent, goContent)
		// ...and so does a Form, however the body is cut.
		got := runForm(t, w.FormDataContentType(), FormLimits{}, randomPieces(r, body.Bytes()))
		require.Empty(t, got.err)
		require.Equal(t, wantFields, got.res.Fields)
		require.Equal(t, wantFiles, got.res.Files)
		require.Equal(t, wantContent, got.content)
	}
}

// TestFormMemoryBounded: a body far larger than every limit leaves the
// Form's buffers within them.
func TestFormMemoryBounded(t *testing.T) {
	lim := FormLimits{MaxFieldBytes: 1000, MaxHeaderBytes: 512}
	f, err := NewForm(testCT, lim)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	write := func(s string) {
		for _, p := range randomPieces(r, []byte(s)) {
			require.NoError(t, f.Write(p))
			require.LessOrEqual(t, len(f.carry), maxUndecided)
			require.LessOrEqual(t, cap(f.hdr), lim.MaxHeaderBytes)
			require.LessOrEqual(t, cap(f.val), lim.MaxFieldBytes)
		}
	}
	write(crlf("preamble\n--XyZzy\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\n\n"))
	write(string(nastyContent(r, "XyZzy", 2_000_000)))
	write(crlf("\n--XyZzy\nContent-Disposition: form-data; name=\"model\"\n\n" + string(bytes.Repeat([]byte("m"), 1000)) + "\n--XyZzy--\n"))
	res, err := f.Close()
	require.NoError(t, err)
	require.Len(t, res.Files, 1)
	require.Greater(t, res.Files[0].Size, int64(2_000_000))
	require.Len(t, res.Fields["model"][0], 1000)
}
