package fakeopenai

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var fixedClock = func() time.Time { return time.Unix(1_700_000_000, 0) }

type reply struct {
	status int
	header http.Header
	body   string
	err    error
}

func call(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	err = errors.Join(err, resp.Body.Close())
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func start(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	f := NewWithClock(fixedClock)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type event struct {
	name string
	data string
}

// parseSSE splits a stream into events; it fails on anything but complete
// `event:`/`data:` blocks.
func parseSSE(t *testing.T, body string) []event {
	t.Helper()
	require.True(t, strings.HasSuffix(body, "\n\n"), "stream ends with a blank line")
	var out []event
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		var ev event
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected SSE line %q", line)
			}
		}
		out = append(out, ev)
	}
	return out
}

func decodeMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m), s)
	return m
}

const helloChat = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}]}`

// helloPrompt is PromptTokens for helloChat: "Be brief." + "Say hello" = 18 bytes.
const helloPrompt = 18/4 + 7

func TestChatCompletionShapeAndUsage(t *testing.T) {
	f, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, map[string]string{"x-fake-cached-tokens": "3"})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.NotEmpty(t, r.header.Get("Content-Length"))
	require.True(t, strings.HasPrefix(r.body, `{"id":"chatcmpl-fake000001","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake`), r.body)
	var c chatCompletionJSON
	require.NoError(t, json.Unmarshal([]byte(r.body), &c))
	require.Equal(t, "stop", c.Choices[0].FinishReason)
	require.Len(t, strings.Fields(*c.Choices[0].Message.Content), defaultWords)
	require.Equal(t, helloPrompt, c.Usage.PromptTokens)
	require.Equal(t, defaultWords, c.Usage.CompletionTokens)
	require.Equal(t, helloPrompt+defaultWords, c.Usage.TotalTokens)
	require.Equal(t, 3, c.Usage.PromptTokensDetails.CachedTokens)
	require.Zero(t, c.Usage.CompletionTokensDetails.ReasoningTokens)
	require.Equal(t, "default", c.ServiceTier)

	last := f.Last()
	require.Equal(t, "/v1/chat/completions", last.Path)
	require.Equal(t, helloChat, string(last.Body)) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.Equal(t, "3", last.Header.Get("x-fake-cached-tokens"))
	require.Len(t, f.Requests(), 1)
}

func TestChatStreamWithoutIncludeUsage(t *testing.T) {
	_, srv := start(t)
	body := strings.Replace(helloChat, `"model"`, `"stream":true,"model"`, 1)
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-words": "3"})
	require.Equal(t, "text/event-stream; charset=utf-8", r.header.Get("Content-Type"))
	evs := parseSSE(t, r.body)
	require.Len(t, evs, 1+3+1+1, "role, 3 words, finish, [DONE]")
	require.Equal(t, "[DONE]", evs[len(evs)-1].data)
	var text strings.Builder
	for i, ev := range evs[:len(evs)-1] {
		require.NotContains(t, ev.data, `"usage"`, "no usage key at all without include_usage")
		m := decodeMap(t, ev.data)
		require.Equal(t, "chat.completion.chunk", m["object"])
		require.Equal(t, "gpt-4o-mini-2024-07-18", m["model"])
		ch := m["choices"].([]any)[0].(map[string]any)
		delta := ch["delta"].(map[string]any)
		switch {
		case i == 0:
			require.Equal(t, "assistant", delta["role"])
			require.Empty(t, delta["content"])
		case i == len(evs)-2:
			require.Equal(t, "stop", ch["finish_reason"])
			require.Empty(t, delta)
		default:
			require.Nil(t, ch["finish_reason"])
			text.WriteString(delta["content"].(string))
		}
	}
	require.Equal(t, "Hello from the", text.String())
	require.True(t, strings.HasPrefix(evs[0].data, `{"id":"chatcmpl-fake000001","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_fake0d1ce5","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`), evs[0].data)
}

func TestChatStreamWithIncludeUsage(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"o3-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}`
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-words": "4"})
	evs := parseSSE(t, r.body)
	require.Len(t, evs, 1+4+1+1+1, "role, words, finish, usage, [DONE]")
	for _, ev := range evs[:len(evs)-2] {
		require.Contains(t, ev.data, `"usage":null`, "every other chunk carries usage:null")
	}
	u := decodeMap(t, evs[len(evs)-2].data)
	require.Empty(t, u["choices"])
	usage := u["usage"].(map[string]any)
	require.Equal(t, 9/4+7, count(t, usage["prompt_tokens"]))
	// o-series: reasoning = 2 × visible, included in completion_tokens.
	require.Equal(t, 4+8, count(t, usage["completion_tokens"]))
	require.Equal(t, 8, count(t, usage["completion_tokens_details"].(map[string]any)["reasoning_tokens"]))
	require.Equal(t, "o3-mini-2025-01-31", u["model"])

	r = call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-ignore-include-usage": "1", "x-fake-reasoning-tokens": "5"})
	require.NotContains(t, r.body, `"usage"`)
}

func TestChatToolCallAndJSONMode(t *testing.T) {
	_, srv := start(t)
	tools := `"tools":[{"type":"function","function":{"name":"lookup"}},{"type":"function","function":{"name":"get_weather"}}]`
	body := `{"model":"gpt-4o",` + tools + `,"messages":[{"role":"user","content":"What is the weather in Paris?"}]}`
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, nil)
	var c chatCompletionJSON
	require.NoError(t, json.Unmarshal([]byte(r.body), &c))
	require.Equal(t, "tool_calls", c.Choices[0].FinishReason)
	require.Nil(t, c.Choices[0].Message.Content)
	require.Equal(t, "get_weather", c.Choices[0].Message.ToolCalls[0].Function.Name)
	require.JSONEq(t, toolCallArgs, c.Choices[0].Message.ToolCalls[0].Function.Arguments)
	require.Equal(t, len(argPieces(toolCallArgs)), c.Usage.CompletionTokens)
	require.Equal(t, "gpt-4o-2024-08-06", c.Model)
	// Tool definitions are billed as prompt text: 29 bytes of message +
	// {"type":"function","function":{"name":"lookup"}} (48) +
	// {"type":"function","function":{"name":"get_weather"}} (53) = 130; 130/4 + 7.
	require.Equal(t, 39, c.Usage.PromptTokens)
	require.Equal(t, 48+53, ToolDefinitionBytes([]byte(body)))
	spaced := `{"model":"gpt-4o", "tools": [ {"type": "function", "function": {"name": "lookup"}} ], "messages":[{"role":"user","content":"What is the weather in Paris?"}]}`
	require.Equal(t, 48, ToolDefinitionBytes([]byte(spaced)), "compact JSON: whitespace is not billed")
	r = call(t, srv, http.MethodPost, "/v1/chat/completions", spaced, nil)
	require.NoError(t, json.Unmarshal([]byte(r.body), &c))
	require.Equal(t, (29+48)/4+7, c.Usage.PromptTokens)

	// Streamed, forced by header without "weather" in the message.
	body = `{"model":"gpt-4o","stream":true,` + tools + `,"messages":[{"role":"user","content":"hi"}]}`
	r = call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-tool-call": "lookup"})
	evs := parseSSE(t, r.body)
	var args strings.Builder
	for _, ev := range evs[1 : len(evs)-2] {
		ch := decodeMap(t, ev.data)["choices"].([]any)[0].(map[string]any)
		tc := ch["delta"].(map[string]any)["tool_calls"].([]any)[0].(map[string]any)
		args.WriteString(tc["function"].(map[string]any)["arguments"].(string))
	}
	require.Equal(t, toolCallArgs, args.String()) //nolint:testifylint // encoded-compare: byte for byte is the point; JSONEq would pass a re-encoded body
	require.Contains(t, evs[0].data, `"name":"lookup"`)
	require.Contains(t, evs[len(evs)-2].data, `"finish_reason":"tool_calls"`)

	body = `{"model":"gpt-4o-mini","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"json please"}]}`
	r = call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-words": "2"})
	require.NoError(t, json.Unmarshal([]byte(r.body), &c))
	var content map[string]string
	require.NoError(t, json.Unmarshal([]byte(*c.Choices[0].Message.Content), &content))
	require.Equal(t, "Hello from", content["answer"])
	require.Equal(t, 2+2, c.Usage.CompletionTokens)
}

func TestChatLimitsAndChoices(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","n":2,"max_completion_tokens":3,"service_tier":"flex","messages":[{"role":"user","content":"hi"}]}`
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, nil)
	var c chatCompletionJSON
	require.NoError(t, json.Unmarshal([]byte(r.body), &c))
	require.Len(t, c.Choices, 2)
	require.Equal(t, "length", c.Choices[1].FinishReason)
	require.Equal(t, 6, c.Usage.CompletionTokens)
	require.Equal(t, "flex", c.ServiceTier)
}

func TestCompletions(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"Once upon"}`, map[string]string{"x-fake-words": "2"})
	m := decodeMap(t, r.body)
	require.Equal(t, "text_completion", m["object"])
	require.Equal(t, "Hello from", m["choices"].([]any)[0].(map[string]any)["text"])
	require.Equal(t, map[string]any{"prompt_tokens": float64(9/4 + 7), "completion_tokens": float64(2), "total_tokens": float64(9/4 + 9)}, m["usage"])

	r = call(t, srv, http.MethodPost, "/v1/completions",
		`{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true}}`, map[string]string{"x-fake-words": "2"})
	evs := parseSSE(t, r.body)
	require.Len(t, evs, 2+1+1+1)
	require.Contains(t, evs[3].data, `"choices":[]`)
	require.Contains(t, evs[3].data, `"prompt_tokens":7`)
}

func TestEmbeddings(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/embeddings", `{"model":"text-embedding-3-small","input":["hello world","bye"]}`, nil)
	var e struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &e))
	require.Len(t, e.Data, 2)
	require.Len(t, e.Data[1].Embedding, EmbeddingDims)
	require.NotEqual(t, e.Data[0].Embedding, e.Data[1].Embedding)
	require.Equal(t, "text-embedding-3-small", e.Model)
	require.Equal(t, 14/4+7, e.Usage.PromptTokens)
	require.Equal(t, e.Usage.PromptTokens, e.Usage.TotalTokens)

	r2 := call(t, srv, http.MethodPost, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hello world","encoding_format":"base64"}`, nil)
	var b struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(r2.body), &b))
	raw, err := base64.StdEncoding.DecodeString(b.Data[0].Embedding)
	require.NoError(t, err)
	require.Len(t, raw, 4*EmbeddingDims)
	require.InDelta(t, e.Data[0].Embedding[0], math.Float32frombits(binary.LittleEndian.Uint32(raw)), 1e-6, "same vector either way")
}

func TestResponsesPlainAndStream(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"Say hello"}]}]}`
	r := call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "3", "x-fake-cached-tokens": "2"})
	m := decodeMap(t, r.body)
	require.Equal(t, "response", m["object"])
	require.Equal(t, "completed", m["status"])
	require.Equal(t, "gpt-4o-mini-2024-07-18", m["model"])
	out := m["output"].([]any)[0].(map[string]any)["content"].([]any)[0].(map[string]any)
	require.Equal(t, "Hello from the", out["text"])
	usage := m["usage"].(map[string]any)
	require.Equal(t, helloPrompt, count(t, usage["input_tokens"]))
	require.Equal(t, 3, count(t, usage["output_tokens"]))
	require.Equal(t, 2, count(t, usage["input_tokens_details"].(map[string]any)["cached_tokens"]))
	require.Equal(t, 0, count(t, usage["output_tokens_details"].(map[string]any)["reasoning_tokens"]))

	body = `{"model":"gpt-4o-mini","stream":true,"input":"Say hello"}`
	r = call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "3", "x-fake-reasoning-tokens": "4"})
	evs := parseSSE(t, r.body)
	var names []string
	var text strings.Builder
	for i, ev := range evs {
		names = append(names, ev.name)
		d := decodeMap(t, ev.data)
		require.Equal(t, ev.name, d["type"])
		require.Equal(t, i, count(t, d["sequence_number"]))
		if ev.name == "response.output_text.delta" {
			text.WriteString(d["delta"].(string))
		}
	}
	require.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added",
		"response.content_part.added", "response.output_text.delta", "response.output_text.delta",
		"response.output_text.delta", "response.output_text.done", "response.content_part.done",
		"response.output_item.done", "response.completed"}, names)
	require.Equal(t, "Hello from the", text.String())
	done := decodeMap(t, evs[len(evs)-1].data)["response"].(map[string]any)
	usage = done["usage"].(map[string]any)
	require.Equal(t, 9/4+7, count(t, usage["input_tokens"]))
	require.Equal(t, 3+4, count(t, usage["output_tokens"]))
	require.Equal(t, 4, count(t, usage["output_tokens_details"].(map[string]any)["reasoning_tokens"]))
	require.Nil(t, decodeMap(t, evs[0].data)["response"].(map[string]any)["usage"])

	r = call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","stream":true,"input":"x","max_output_tokens":2}`, nil)
	evs = parseSSE(t, r.body)
	require.Equal(t, "response.incomplete", evs[len(evs)-1].name)
}

func TestModels(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodGet, "/v1/models", "", nil)
	m := decodeMap(t, r.body)
	require.Equal(t, "list", m["object"])
	require.NotEmpty(t, m["data"])
	r = call(t, srv, http.MethodGet, "/v1/models/gpt-4o-mini", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	r = call(t, srv, http.MethodGet, "/v1/models/nope", "", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.body, `"code":"model_not_found"`)
}

func TestErrors(t *testing.T) {
	_, srv := start(t)
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		typ, code        string
	}{
		{"rate limited", "/v1/chat/completions", helloChat, map[string]string{"x-fake-status": "429"}, 429, "requests", "rate_limit_exceeded"},
		{"server error", "/v1/responses", "{}", map[string]string{"x-fake-status": "500"}, 500, "server_error", ""},
		{"bad key", "/v1/embeddings", "{}", map[string]string{"x-fake-status": "401"}, 401, "invalid_request_error", "invalid_api_key"},
		{"unknown path", "/v1/nope", "{}", nil, 404, "invalid_request_error", ""},
		{"bad json", "/v1/chat/completions", "{", nil, 400, "invalid_request_error", ""},
		{"missing model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, nil, 400, "invalid_request_error", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, http.MethodPost, tc.path, tc.body, tc.hdr)
			require.Equal(t, tc.status, r.status)
			var e errorBody
			require.NoError(t, json.Unmarshal([]byte(r.body), &e))
			require.Equal(t, tc.typ, e.Error.Type)
			require.NotEmpty(t, e.Error.Message)
			if tc.code == "" {
				require.Nil(t, e.Error.Code)
			} else {
				require.Equal(t, tc.code, *e.Error.Code)
			}
			require.Contains(t, r.body, `"param":null`)
		})
	}
}

func TestCutAfterAbortsMidStream(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-cut-after": "3"})
	require.Error(t, r.err, "the connection is cut")
	require.Equal(t, 3, strings.Count(r.body, "data: "))
	require.NotContains(t, r.body, "[DONE]")
}

func TestSplitDoesNotChangeTheBytes(t *testing.T) {
	_, a := start(t)
	_, b := start(t)
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	whole := call(t, a, http.MethodPost, "/v1/chat/completions", body, nil)
	split := call(t, b, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-split": "5"})
	require.Equal(t, whole.body, split.body)
}

func TestSnapshotAndPromptTokens(t *testing.T) {
	require.Equal(t, "gpt-4o-mini-2024-07-18", Snapshot("gpt-4o-mini"))
	require.Equal(t, "gpt-4o-2024-08-06", Snapshot("gpt-4o"))
	require.Equal(t, "my-model", Snapshot("my-model"))
	require.Equal(t, 7, PromptTokens(0))
	require.Equal(t, 9, PromptTokens(8))
	require.True(t, isReasoningModel("o4-mini"))
	require.True(t, isReasoningModel("gpt-5"))
	require.False(t, isReasoningModel("gpt-4o"))
}
