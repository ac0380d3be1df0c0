package fakeopenai

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPromptTokensOverride(t *testing.T) {
	_, srv := start(t)
	hdr := map[string]string{"x-fake-prompt-tokens": "300000", "x-fake-cached-tokens": "500000", "x-fake-words": "2"}
	var c chatCompletion
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, hdr).body, &c)
	require.Equal(t, 300000, c.Usage.PromptTokens)
	require.Equal(t, 300000, c.Usage.PromptTokensDetails.CachedTokens, "cached tokens are capped by the prompt")
	require.Equal(t, 300002, c.Usage.TotalTokens)

	u := decodeMap(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4.1","input":"x"}`, hdr).body)["usage"].(map[string]any)
	require.Equal(t, 300000, num(u["input_tokens"]))
	u = decodeMap(t, call(t, srv, http.MethodPost, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"x"}`, hdr).body)["usage"].(map[string]any)
	require.Equal(t, 300000, num(u["prompt_tokens"]))
	u = decodeMap(t, call(t, srv, http.MethodPost, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"x"}`, hdr).body)["usage"].(map[string]any)
	require.Equal(t, 300000, num(u["prompt_tokens"]))
}

func TestScriptedUsage(t *testing.T) {
	_, srv := start(t)
	lie := `{"prompt_tokens": -5, "completion_tokens": 1e12}`
	hdr := map[string]string{"x-fake-usage": lie}

	r := call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, hdr)
	require.True(t, strings.HasSuffix(r.body, `"usage":{"prompt_tokens":-5,"completion_tokens":1e12},"service_tier":"default","system_fingerprint":"fp_fake0d1ce5"}`), r.body)
	require.True(t, strings.HasPrefix(r.body, `{"id":"chatcmpl-`), "the rest keeps its order")
	require.True(t, json.Valid([]byte(r.body)))

	stream := strings.Replace(helloChat, `"model"`, `"stream":true,"stream_options":{"include_usage":true},"model"`, 1)
	evs := parseSSE(t, call(t, srv, http.MethodPost, "/v1/chat/completions", stream, hdr).body)
	require.Contains(t, evs[0].data, `"usage":null`, "null usages are left alone")
	require.Contains(t, evs[len(evs)-2].data, `"usage":{"prompt_tokens":-5,"completion_tokens":1e12}`)

	m := decodeMap(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x"}`, hdr).body)
	require.Equal(t, -5, count(t, m["usage"].(map[string]any)["prompt_tokens"]))
	evs = parseSSE(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x","stream":true}`, hdr).body)
	require.Contains(t, evs[len(evs)-1].data, `"usage":{"prompt_tokens":-5,"completion_tokens":1e12}`)
	require.Contains(t, evs[0].data, `"usage":null`)

	m = decodeMap(t, call(t, srv, http.MethodPost, "/v1/images/generations", `{"model":"gpt-image-1","prompt":"x"}`, hdr).body)
	require.Equal(t, -5, count(t, m["usage"].(map[string]any)["prompt_tokens"]))

	// "omit": the usage member disappears.
	omit := map[string]string{"x-fake-usage": "omit"}
	r = call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, omit)
	require.NotContains(t, r.body, `"usage"`)
	require.True(t, json.Valid([]byte(r.body)))
	require.NotContains(t, call(t, srv, http.MethodPost, "/v1/chat/completions", stream, omit).body, `"prompt_tokens"`)
	require.NotContains(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x"}`, omit).body, `"usage"`)

	// Invalid JSON is ignored: the formula applies.
	r = call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, map[string]string{"x-fake-usage": "{nope"})
	require.Contains(t, r.body, `"prompt_tokens":11`)
}

func TestUpstreamKeyCheck(t *testing.T) {
	_, srv := startWith(t, Options{APIKey: "sk-proj-upstream-1234567890abcd"}) //nolint:gosec // G101: a made-up key for the fake upstream to check
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	var e errorBody
	decodeInto(t, r.body, &e)
	require.Equal(t, "invalid_request_error", e.Error.Type)
	require.Contains(t, e.Error.Message, "You didn't provide an API key")

	r = call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, map[string]string{"Authorization": "Bearer prox-client-key-0001"})
	require.Equal(t, http.StatusUnauthorized, r.status)
	decodeInto(t, r.body, &e)
	require.Equal(t, "invalid_api_key", *e.Error.Code)
	require.Contains(t, e.Error.Message, "Incorrect API key provided: pro"+strings.Repeat("*", len("prox-client-key-0001")-7)+"0001.")
	require.NotContains(t, r.body, "client-key", "the key is masked")

	r = call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, map[string]string{"Authorization": "Bearer sk-proj-upstream-1234567890abcd"})
	require.Equal(t, http.StatusOK, r.status)
	r = call(t, srv, http.MethodGet, "/v1/models", "", map[string]string{"Authorization": "Bearer sk-proj-upstream-1234567890abcd"})
	require.Equal(t, http.StatusOK, r.status)

	_, open := start(t)
	require.Equal(t, http.StatusOK, call(t, open, http.MethodPost, "/v1/chat/completions", helloChat, nil).status, "default: no check")
}

func TestMatchPath(t *testing.T) {
	ids, ok := matchPath("/v1/responses/*/cancel", "/v1/responses/resp_1/cancel")
	require.True(t, ok)
	require.Equal(t, []string{"resp_1"}, ids)
	_, ok = matchPath("/v1/responses/*", "/v1/responses/")
	require.False(t, ok)
	_, ok = matchPath("/v1/files/*", "/v1/files/f/content")
	require.False(t, ok)
}
