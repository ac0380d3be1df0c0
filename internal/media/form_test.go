package media

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const testCT = `multipart/form-data; boundary=XyZzy`

// crlf turns the LF line ends of a readable test body into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sinks records each file part's bytes, for FileSink.
type sinks struct{ files map[string]*bytes.Buffer }

func (s *sinks) sink(field, filename, _ string) io.Writer {
	if s.files == nil {
		s.files = map[string]*bytes.Buffer{}
	}
	b := &bytes.Buffer{}
	s.files[field+"/"+filename] = b
	return b
}

// parseForm feeds body to a new Form in the given pieces.
func parseForm(t testing.TB, ct string, lim FormLimits, pieces ...[]byte) (FormResult, error) {
	t.Helper()
	f, err := NewForm(ct, lim)
	require.NoError(t, err)
	for _, p := range pieces {
		if err := f.Write(p); err != nil {
			res, cerr := f.Close()
			require.Equal(t, err, cerr, "Close must repeat the Write error")
			return res, err
		}
	}
	return f.Close()
}

func TestNewFormContentType(t *testing.T) {
	long := strings.Repeat("b", 70)
	tests := []struct {
		ct, boundary string
		err          error
	}{
		{ct: "multipart/form-data; boundary=abc", boundary: "abc"},
		{ct: `Multipart/Form-Data; boundary="a'()+_,-./:=? b"`, boundary: "a'()+_,-./:=? b"},
		{ct: "multipart/form-data; charset=utf-8; boundary=" + long, boundary: long},
		{ct: "multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", boundary: "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
		{ct: "multipart/form-data; boundary=" + long + "b", err: ErrNotMultipart},
		{ct: `multipart/form-data; boundary=""`, err: ErrNotMultipart},
		{ct: `multipart/form-data; boundary="ends in space "`, err: ErrNotMultipart},
		{ct: `multipart/form-data; boundary="bad*char"`, err: ErrNotMultipart},
		{ct: "multipart/form-data", err: ErrNotMultipart},
		{ct: "multipart/mixed; boundary=abc", err: ErrNotMultipart},
		{ct: "application/json", err: ErrNotMultipart},
		{ct: "", err: ErrNotMultipart},
		{ct: "multipart/form-data; boundary=a; boundary=b", err: ErrNotMultipart},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			f, err := NewForm(tt.ct, FormLimits{})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "\r\n--"+tt.boundary, string(f.delim))
		})
	}
}

func TestForm(t *testing.T) {
	for _, tt := range formCases() {
		t.Run(tt.name, func(t *testing.T) {
			var s sinks
			lim := tt.lim
			lim.FileSink = s.sink
			res, err := parseForm(t, cmp(tt.ct, testCT), lim, []byte(tt.body))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.fields, res.Fields)
			require.Equal(t, tt.files, res.Files)
			if tt.content != nil {
				got := map[string]string{}
				for k, b := range s.files {
					got[k] = b.String()
				}
				require.Equal(t, tt.content, got)
			}
		})
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestFormValue(t *testing.T) {
	r := FormResult{Fields: map[string][]string{"model": {"whisper-1", "ignored"}, "empty": {}}}
	v, ok := r.Value("model")
	require.True(t, ok)
	require.Equal(t, "whisper-1", v)
	_, ok = r.Value("empty")
	require.False(t, ok)
	_, ok = FormResult{}.Value("model")
	require.False(t, ok)
}

func TestFormSinkError(t *testing.T) {
	boom := errors.New("boom")
	lim := FormLimits{FileSink: func(string, string, string) io.Writer { return failWriter{boom} }}
	_, err := parseForm(t, testCT, lim, []byte(crlf("--XyZzy\nContent-Disposition: form-data; name=\"f\"; filename=\"x.mp3\"\n\ndata\n--XyZzy--")))
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, `file "x.mp3" of field "f"`)
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestFormAfterClose(t *testing.T) {
	f, err := NewForm(testCT, FormLimits{})
	require.NoError(t, err)
	require.NoError(t, f.Write([]byte("--XyZzy--")))
	_, err = f.Close()
	require.NoError(t, err)
	require.ErrorIs(t, f.Write([]byte("x")), errClosed)
}
