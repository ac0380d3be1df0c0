package envoy

import (
	"context"
	"net/http"
	"sync"
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"github.com/stretchr/testify/require"
)

// TestCanonicalPathEnvoyVectors: Envoy's own PathUtil tests
// (test/common/http/path_utility_test.cc).
func TestCanonicalPathEnvoyVectors(t *testing.T) {
	for in, want := range map[string]string{
		"/xyz": "/xyz", "/x/y/z": "/x/y/z",
		"/a/b/../c": "/a/c", "/a/b/./c": "/a/b/c", "a/b/../c": "/a/c",
		"/a/b/../../../../c": "/c", "/a/..\\c": "/c",
		"/%c0%af": "/%c0%af", "/%5c%25": "/%5c%25",
		"/a/b/%2E%2E/c": "/a/c", "/a/b/%2E./c": "/a/c", "/a/b/%2E/c": "/a/b/c",
		"..": "/", "/../a/b": "/a/b", "/./a/b": "/a/b",
		"/A/B/C": "/A/B/C", "/a/b/%2e%2e/c": "/a/c", "/a/%2F%2f/c": "/a/%2F%2f/c",
		"//xyz//abc": "//xyz//abc", "/a/b/..": "/a/", "/a/%63": "/a/c",
	} {
		got, ok := canonicalPath(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"/xyz/.%00../abc", "/xyz/%00.%00./abc", "/xyz/AAAAA%%0000/abc"} {
		_, ok := canonicalPath(in)
		require.False(t, ok, in)
	}
	for in, want := range map[string]string{
		"": "", "a//b/c": "a/b/c", "/a//b/c/": "/a/b/c/", "//a/b/c": "/a/b/c", "/a/b/c//": "/a/b/c/", "/a////b/c": "/a/b/c",
	} {
		require.Equal(t, want, mergeSlashes(in), in)
	}
}

// TestPathNormalization: the connection manager's path handling runs before
// ext_proc, which sees the normalised :path; rejects never open a stream.
func TestPathNormalization(t *testing.T) {
	shipped := func(o *Options) {
		o.NormalizePath, o.MergeSlashes = true, true
		o.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_REJECT_REQUEST
	}
	tests := []struct {
		name     string
		opt      func(*Options)
		path     string
		status   int
		procPath string // :path ext_proc sees ("" = no stream)
		upPath   string
		location string
	}{
		{name: "dot and doubled slash", opt: shipped, path: "/openai/v1/./chat//completions?x=a//b", status: 200,
			procPath: "/openai/v1/chat/completions?x=a//b", upPath: "/v1/chat/completions?x=a//b"},
		{name: "escaped dot dot", opt: shipped, path: "/openai/v1/x/%2e%2E/models", status: 200,
			procPath: "/openai/v1/models", upPath: "/v1/models"},
		{name: "escaped unreserved", opt: shipped, path: "/openai/v1/%6Dodels", status: 200,
			procPath: "/openai/v1/models", upPath: "/v1/models"},
		{name: "escaped slash rejected", opt: shipped, path: "/openai/v1/chat%2Fcompletions", status: 400},
		{name: "escaped backslash rejected", opt: shipped, path: "/openai/v1/chat%5ccompletions", status: 400},
		{name: "escaped NUL rejected", opt: shipped, path: "/openai/v1/models%00", status: 400},
		{name: "normalised out of the route", opt: shipped, path: "/openai/v1/../../v1/models", status: 404},
		{name: "unescape and forward", opt: func(o *Options) {
			shipped(o)
			o.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_UNESCAPE_AND_FORWARD
		}, path: "/openai/v1/x%2F..%2Fmodels", status: 200, procPath: "/openai/v1/models", upPath: "/v1/models"},
		{name: "unescape and redirect", opt: func(o *Options) {
			shipped(o)
			o.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT
		}, path: "/openai/v1/chat%2Fcompletions", status: 307, location: "/openai/v1/chat/completions"},
		{name: "Envoy's defaults keep the path", opt: nil, path: "/openai/v1/./models", status: 200,
			procPath: "/openai/v1/./models", upPath: "/v1/./models"},
		{name: "KeepRawPath whatever the settings", opt: func(o *Options) {
			shipped(o)
			o.KeepRawPath = true
		}, path: "/openai/v1//models%2F", status: 200, procPath: "/openai/v1//models%2F", upPath: "/v1//models%2F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var upMu sync.Mutex
			var upPath string
			up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upMu.Lock()
				upPath = r.RequestURI
				upMu.Unlock()
				w.WriteHeader(http.StatusOK)
			})
			h := newHarness(t, continueAll(), tt.opt, up)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL, http.NoBody)
			require.NoError(t, err)
			req.URL.Opaque = tt.path // sent exactly as written
			client := h.front.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.status, resp.StatusCode)
			require.Equal(t, tt.location, resp.Header.Get("Location"))
			if tt.procPath == "" {
				h.noStream()
				return
			}
			reqs := h.nextStream().requests()
			got, _ := headerValue(reqs[0].GetRequestHeaders().GetHeaders(), ":path")
			require.Equal(t, tt.procPath, got)
			upMu.Lock()
			defer upMu.Unlock()
			require.Equal(t, tt.upPath, upPath, "the router rewrites the normalised path")
		})
	}
}

func TestOptionsRejectUnknownEscapedSlashesAction(t *testing.T) {
	_, err := New(Options{ExtProcAddr: "127.0.0.1:1", Upstream: "http://127.0.0.1:2", PathWithEscapedSlashesAction: 42})
	require.ErrorContains(t, err, "PathWithEscapedSlashesAction")
}
