package fakeopenai

import (
	"bytes"
	"encoding/json"
	"math"
	"mime/multipart"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// field is one multipart part: a plain field, or a file when filename is set.
type field struct {
	name, filename string
	data           []byte
}

func value(name, v string) field { return field{name: name, data: []byte(v)} }

func upload(name, filename string, data []byte) field {
	return field{name: name, filename: filename, data: data}
}

// multipartBody encodes fields as multipart/form-data; it returns the body
// and the headers to send with it.
func multipartBody(t *testing.T, fields ...field) (string, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if f.filename == "" {
			require.NoError(t, w.WriteField(f.name, string(f.data)))
			continue
		}
		fw, err := w.CreateFormFile(f.name, f.filename)
		require.NoError(t, err)
		_, err = fw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.String(), map[string]string{"Content-Type": w.FormDataContentType()}
}

// with merges header maps (later wins).
func with(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func startWith(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	if o.Now == nil {
		o.Now = fixedClock
	}
	f := NewWithOptions(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// decodeInto unmarshals a body into v, failing the test on error.
func decodeInto(t *testing.T, body string, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(body), v), body)
}

// eventsOf parses an SSE body and decodes every event's data as JSON maps,
// checking that each event's name equals its "type".
func eventsOf(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, ev := range parseSSE(t, body) {
		m := decodeMap(t, ev.data)
		if ev.name != "" {
			require.Equal(t, ev.name, m["type"], "event name is the payload type")
		}
		out = append(out, m)
	}
	return out
}

func num(v any) int { f, _ := v.(float64); return int(f) }

// count is a decoded JSON value that must be a whole number (a token count,
// an index), compared as an int so that a missing field does not read as 0.
func count(t *testing.T, v any) int {
	t.Helper()
	f, ok := v.(float64)
	require.True(t, ok, "%v (%T) is not a JSON number", v, v)
	_, frac := math.Modf(f)
	require.Zero(t, frac, "%v is not a whole number", f)
	return int(f)
}
