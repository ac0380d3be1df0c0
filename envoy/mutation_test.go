package envoy

import (
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/stretchr/testify/require"
)

func baseHeaders() *headerMap {
	h := &headerMap{}
	for _, kv := range [][2]string{{":authority", "gw"}, {":path", "/openai/v1/x"}, {":method", "POST"},
		{":scheme", "http"}, {"x-old", "1"}, {"content-length", "10"}} {
		h.add(kv[0], kv[1])
	}
	return h
}

func TestApplyHeaderMutations(t *testing.T) {
	tr, fa := true, false
	cases := []struct {
		name      string
		m         *extprocv3.HeaderMutation
		replacing bool
		removeCL  bool
		key       string
		want      []string // values of key afterwards
		rejected  int
		wantErr   bool
	}{
		{name: "set raw_value", m: mut(setHeader("x-new", "v", nil)), key: "x-new", want: []string{"v"}},
		{name: "upper-case key is lower-cased", m: mut(setHeader("X-New", "v", nil)), key: "x-new", want: []string{"v"}},
		{name: "append true adds", m: mut(setHeader("x-old", "2", &tr)), key: "x-old", want: []string{"1", "2"}},
		{name: "append false overwrites", m: mut(setHeader("x-old", "2", &fa)), key: "x-old", want: []string{"2"}},
		{name: "append unset overwrites", m: mut(setHeader("x-old", "2", nil)), key: "x-old", want: []string{"2"}},
		{
			name: "append_action is ignored",
			m: mut(&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x-old", RawValue: []byte("2")},
				AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD}),
			key: "x-old", want: []string{"2"},
		},
		{
			name: "value only sets an empty header",
			m:    mut(&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x-old", Value: "ignored"}}),
			key:  "x-old", want: []string{""},
		},
		{
			name:    "value and raw_value both set",
			m:       mut(&corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x-a", Value: "a", RawValue: []byte("b")}}),
			wantErr: true, rejected: 1,
		},
		{name: "invalid value character", m: mut(setHeader("x-a", "a\r\nb", nil)), wantErr: true, rejected: 1},
		{name: "control character", m: mut(setHeader("x-a", "a\x01", nil)), wantErr: true, rejected: 1},
		{name: "invalid name", m: mut(setHeader("bad name", "v", nil)), wantErr: true, rejected: 1},
		{name: "empty name", m: mut(setHeader("", "v", nil)), wantErr: true, rejected: 1},
		{name: "host is a routing header", m: mut(setHeader("host", "evil", nil)), key: "host", rejected: 1},
		{name: ":authority is a routing header", m: mut(setHeader(":authority", "evil", nil)), key: ":authority", want: []string{"gw"}, rejected: 1},
		{name: ":method needs CONTINUE_AND_REPLACE", m: mut(setHeader(":method", "GET", nil)), key: ":method", want: []string{"POST"}, rejected: 1},
		{name: ":method with CONTINUE_AND_REPLACE", m: mut(setHeader(":method", "GET", nil)), replacing: true, key: ":method", want: []string{"GET"}},
		{name: ":scheme is a routing header", m: mut(setHeader(":scheme", "https", nil)), key: ":scheme", want: []string{"http"}, rejected: 1},
		{name: "x-envoy headers are protected", m: mut(setHeader("x-envoy-foo", "1", nil)), key: "x-envoy-foo", rejected: 1},
		{name: ":path can be set", m: mut(setHeader(":path", "/openai/v1/y", nil)), key: ":path", want: []string{"/openai/v1/y"}},
		{name: "no append to a pseudo-header", m: mut(setHeader(":path", "/z", &tr)), key: ":path", want: []string{"/openai/v1/x"}, rejected: 1},
		{name: ":status must be >= 200", m: mut(setHeader(":status", "99", nil)), key: ":status", rejected: 1},
		{name: ":status must be numeric", m: mut(setHeader(":status", "abc", nil)), key: ":status", rejected: 1},
		{name: "remove a regular header", m: &extprocv3.HeaderMutation{RemoveHeaders: []string{"X-Old"}}, key: "x-old"},
		{name: "pseudo-headers cannot be removed", m: &extprocv3.HeaderMutation{RemoveHeaders: []string{":path"}}, key: ":path", want: []string{"/openai/v1/x"}, rejected: 1},
		{name: "host cannot be removed", m: &extprocv3.HeaderMutation{RemoveHeaders: []string{"host"}}, rejected: 1},
		{name: "invalid remove name", m: &extprocv3.HeaderMutation{RemoveHeaders: []string{"a b"}}, wantErr: true, rejected: 1},
		{name: "content-length skipped when the mode strips it", m: mut(setHeader("content-length", "5", nil)), removeCL: true, key: "content-length", want: []string{"10"}},
		{name: "content-length set otherwise", m: mut(setHeader("content-length", "5", nil)), key: "content-length", want: []string{"5"}},
		{name: "too many set headers", m: mut(manyHeaders(101)...), wantErr: true, rejected: 1},
		{name: "too many headers afterwards", m: mut(manyHeaders(100)...), wantErr: true, rejected: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := baseHeaders()
			rejected, err := applyHeaderMutations(tc.m, h, tc.replacing, tc.removeCL)
			require.Equal(t, tc.rejected, rejected)
			if tc.wantErr {
				require.ErrorIs(t, err, errMutation)
				return
			}
			require.NoError(t, err)
			if tc.key != "" {
				require.Equal(t, tc.want, h.values(tc.key))
			}
		})
	}
}

func mut(opts ...*corev3.HeaderValueOption) *extprocv3.HeaderMutation {
	return &extprocv3.HeaderMutation{SetHeaders: opts}
}

func manyHeaders(n int) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, n)
	for i := range out {
		out[i] = setHeader("x-h"+itoa(i), "v", nil)
	}
	return out
}

func TestApplyBodyMutation(t *testing.T) {
	data := []byte("original")
	require.Equal(t, "new", string(applyBodyMutation(&extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte("new")}}, data)))
	require.Empty(t, applyBodyMutation(&extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}, data))
	require.Equal(t, "original", string(applyBodyMutation(&extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: false}}, data)))
	require.Equal(t, "original", string(applyBodyMutation(&extprocv3.BodyMutation{}, data)))
}

// TestHeaderMutationsReachUpstream drives the same rules through the proxy.
func TestHeaderMutationsReachUpstream(t *testing.T) {
	tr := true
	h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		if kind(r) != "request_headers" {
			return nil
		}
		return requestHeadersReply(&extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
			SetHeaders: []*corev3.HeaderValueOption{
				setHeader("authorization", "Bearer sk-upstream", nil),
				setHeader("x-multi", "b", &tr),
				setHeader("x-envoy-debug", "1", nil),
				setHeader("host", "evil.example", nil),
				{Header: &corev3.HeaderValue{Key: "x-value-only", Value: "lost"}},
			},
			RemoveHeaders: []string{"x-proxide-client-id", "accept-encoding"},
		}})
	}), nil, nil)
	res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, map[string]string{
		"Authorization": "Bearer prox-key", "x-multi": "a", "x-proxide-client-id": "user-1", "Accept-Encoding": "gzip",
	})
	require.Equal(t, http.StatusOK, res.status, res.body)
	up := h.fake.Last()
	require.Equal(t, "Bearer sk-upstream", up.Header.Get("Authorization"))
	require.Equal(t, []string{"a", "b"}, up.Header.Values("x-multi"))
	require.Empty(t, up.Header.Values("x-proxide-client-id"))
	require.Empty(t, up.Header.Values("Accept-Encoding"), "removed, and Go's client must not add its own")
	require.Empty(t, up.Header.Values("x-envoy-debug"))
	require.Equal(t, []string{""}, up.Header.Values("x-value-only"), "value-only mutation → empty header")
	require.True(t, strings.HasPrefix(h.fake.Last().Header.Get("x-forwarded-proto"), "http"))
	require.Equal(t, int64(2), h.si.Stats().RejectedHeaderMutations, "x-envoy-debug and host dropped")
}

func TestHeaderMutationErrorsAre500(t *testing.T) {
	cases := map[string]*corev3.HeaderValueOption{
		"value and raw_value": {Header: &corev3.HeaderValue{Key: "x-a", Value: "a", RawValue: []byte("b")}},
		"invalid character":   setHeader("x-a", "line\nbreak", nil),
	}
	for name, opt := range cases {
		for _, failOpen := range []bool{false, true} {
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, replyWith(func(r *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
					if kind(r) != "request_headers" {
						return nil
					}
					return requestHeadersReply(&extprocv3.CommonResponse{HeaderMutation: mut(opt)})
				}), func(o *Options) { o.FailureModeAllow = failOpen }, nil)
				res := h.do(http.MethodPost, "/openai/v1/chat/completions", chatBody, nil)
				require.Equal(t, http.StatusInternalServerError, res.status, "mutation errors ignore failure_mode_allow")
				require.Empty(t, h.fake.Requests())
			})
		}
	}
}

func TestStatusOnErrorIsConfigurable(t *testing.T) {
	h := newHarness(t, replyWith(func(*extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		return requestHeadersReply(&extprocv3.CommonResponse{HeaderMutation: mut(setHeader("x-a", "\x00", nil))})
	}), func(o *Options) { o.StatusOnError = 503 }, nil)
	res := h.do(http.MethodGet, "/openai/v1/models", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, res.status)
}

func TestHeaderMapOrderAndSet(t *testing.T) {
	h := &headerMap{}
	h.add("a", "1")
	h.add(":path", "/")
	h.add("b", "2")
	h.add("a", "3")
	h.set("a", "4")
	require.Equal(t, []headerEntry{{":path", "/"}, {"a", "4"}, {"b", "2"}}, h.entries)
	h.remove("b")
	require.Equal(t, []headerEntry{{":path", "/"}, {"a", "4"}}, h.entries)
}
