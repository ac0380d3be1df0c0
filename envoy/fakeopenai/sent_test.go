package fakeopenai

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSentIsWhatTheClientReceived(t *testing.T) {
	f, srv := start(t)
	tests := []struct {
		name, path, body string
		hdr              map[string]string
		status           int
	}{
		{"json", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, nil, http.StatusOK},
		{"stream", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil, http.StatusOK},
		{"error", "/v1/responses", `{"model":"gpt-4o","input":"x"}`, map[string]string{"x-fake-status": "429"}, http.StatusTooManyRequests},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, http.MethodPost, tc.path, tc.body, tc.hdr)
			require.Equal(t, tc.status, r.status)
			id := r.header.Get("x-request-id")
			got, ok := f.SentFor(id)
			require.True(t, ok)
			require.Equal(t, r.body, got.Body)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, tc.path, got.Path)
			require.JSONEq(t, tc.body, string(got.Request))

			// The same over HTTP, for a client in another process.
			g := call(t, srv, http.MethodGet, sentPrefix+id, "", nil)
			require.Equal(t, http.StatusOK, g.status)
			var viaHTTP Sent
			require.NoError(t, json.Unmarshal([]byte(g.body), &viaHTTP))
			require.Equal(t, got, viaHTTP)
		})
	}
	require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, sentPrefix+"req_nope", "", nil).status)
	require.Len(t, f.Requests(), len(tests), "inspection requests are not recorded")
}
