package usage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// tok is a shorthand for the o200k count used in expectations.
func tok(s string) int64 { return CountTokens("gpt-4o", s) }

func TestParseRequest(t *testing.T) {
	tools := `[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	tests := []struct {
		name string
		ep   Endpoint
		body string
		opts Options
		want Request
	}{
		{
			name: "chat minimal",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Hello!"}]}`,
			want: Request{Model: "gpt-4o", N: 1, PromptTokens: 3 + 4 + 3 + 2 + 3, PromptExact: true},
		},
		{
			name: "chat stream, client asked for usage, limits, n, tier",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_tokens":50,"max_completion_tokens":200,"n":3,"service_tier":"flex","messages":[{"role":"user","content":"Hello!"}]}`,
			want: Request{Model: "gpt-4o-mini", Stream: true, IncludeUsage: true, MaxOutputTokens: 200, N: 3, ServiceTier: "flex", PromptTokens: 3 + 2 + 3, PromptExact: true},
		},
		{
			name: "chat max_tokens only, include_usage false, nulls",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4","stream":true,"stream_options":{"include_usage":false},"max_tokens":64,"n":null,"service_tier":null,"messages":[{"role":"user","content":"Hello!"}]}`,
			want: Request{Model: "gpt-4", Stream: true, MaxOutputTokens: 64, N: 1, PromptTokens: 8, PromptExact: true},
		},
		{
			name: "chat name, parts with images audio and files, refusal",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[
				{"role":"user","name":"alice","content":[
					{"type":"text","text":"What is in this image?"},
					{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
					{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
					{"type":"file","file":{"file_id":"file-abc"}}]},
				{"role":"assistant","content":null,"refusal":"I can't help."}]}`,
			// The image costs at most gpt-4o's maximum; audio and file parts have
			// no maximum: the prompt is unbounded (the caller bounds it by the
			// context window).
			want: Request{Model: "gpt-4o", N: 1, PromptExact: true, Images: 1, Audios: 1, Files: 1, PromptUnbounded: true,
				PromptTokens: 3 + 1 + tok("alice") + tok("What is in this image?") + 1445 + 3 + tok("I can't help.") + 3},
		},
		{
			name: "chat image tokens option",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`,
			opts: Options{ImageTokens: 85},
			want: Request{Model: "gpt-4o", N: 1, PromptTokens: 3 + 85 + 3, PromptExact: true, Images: 1},
		},
		{
			name: "chat tool calls, tool results, tool and function definitions",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4.1","tools":` + tools + `,"functions":[{"name":"f"}],"messages":[
				{"role":"user","content":"Weather in Paris?"},
				{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
				{"role":"assistant","function_call":{"name":"legacy","arguments":"{}"}},
				{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":21}"}]}`,
			want: Request{Model: "gpt-4.1", N: 1, PromptExact: true,
				PromptTokens: 4*3 + 3 + tok("Weather in Paris?") + tok("get_weather") + tok(`{"city":"Paris"}`) +
					tok("legacy") + tok("{}") + tok(`{"temp":21}`) + tok(tools) + tok(`[{"name":"f"}]`)},
		},
		{
			name: "chat pretty-printed tools are counted compact",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[],"tools":[ { "type" : "function" } ]}`,
			want: Request{Model: "gpt-4o", N: 1, PromptTokens: 3 + tok(`[{"type":"function"}]`), PromptExact: true},
		},
		{
			name: "chat unknown content shapes are counted, not rejected",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":{"odd":true}},{"role":"user","content":["bare string part"]}]}`,
			want: Request{Model: "gpt-4o", N: 1, PromptTokens: 3 + tok(`{"odd":true}`) + 3 + tok("bare string part") + 3, PromptExact: true},
		},
		{
			name: "chat cheap upper bound past the exact limit",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"},{"role":"user","name":"bob","content":"héllo wörld"}]}`,
			opts: Options{ExactPromptBytes: 8},
			want: Request{Model: "gpt-4o", N: 1, PromptTokens: int64(len("Hello!")+len("bob")+len("héllo wörld")) + 3 + 3 + 1 + 3, PromptExact: false},
		},
		{
			name: "completions string prompt, best_of",
			ep:   Completions,
			body: `{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7,"n":2,"best_of":4,"stream":true}`,
			want: Request{Model: "gpt-3.5-turbo-instruct", Stream: true, MaxOutputTokens: 7, N: 4,
				PromptTokens: CountTokens("gpt-3.5-turbo-instruct", "Say this is a test"), PromptExact: true},
		},
		{
			name: "completions prompt array of strings",
			ep:   Completions,
			body: `{"model":"davinci-002","prompt":["Hello!","You are helpful."]}`,
			want: Request{Model: "davinci-002", N: 1, PromptTokens: 2 + 4, PromptExact: true},
		},
		{
			name: "completions token ids",
			ep:   Completions,
			body: `{"model":"babbage-002","prompt":[1,2,3,4]}`,
			want: Request{Model: "babbage-002", N: 1, PromptTokens: 4, PromptExact: true},
		},
		{
			name: "completions arrays of token ids",
			ep:   Completions,
			body: `{"model":"babbage-002","prompt":[[1,2],[3],[]],"max_completion_tokens":9}`,
			want: Request{Model: "babbage-002", N: 1, MaxOutputTokens: 9, PromptTokens: 3, PromptExact: true},
		},
		{
			name: "embeddings string",
			ep:   Embeddings,
			body: `{"model":"text-embedding-3-small","input":"Привет, как дела?","stream":true}`,
			want: Request{Model: "text-embedding-3-small", N: 1, Inputs: 1, PromptTokens: 8, PromptExact: true},
		},
		{
			name: "embeddings array of strings",
			ep:   Embeddings,
			body: `{"model":"text-embedding-3-large","input":["Hello!","You are helpful.",""],"encoding_format":"base64"}`,
			want: Request{Model: "text-embedding-3-large", N: 1, Inputs: 3, PromptTokens: 6, PromptExact: true},
		},
		{
			name: "embeddings token ids",
			ep:   Embeddings,
			body: `{"model":"text-embedding-ada-002","input":[101,102,103]}`,
			want: Request{Model: "text-embedding-ada-002", N: 1, Inputs: 1, PromptTokens: 3, PromptExact: true},
		},
		{
			name: "embeddings arrays of token ids",
			ep:   Embeddings,
			body: `{"model":"text-embedding-ada-002","input":[[1,2],[3,4,5]]}`,
			want: Request{Model: "text-embedding-ada-002", N: 1, Inputs: 2, PromptTokens: 5, PromptExact: true},
		},
		{
			name: "embeddings empty array",
			ep:   Embeddings,
			body: `{"model":"text-embedding-3-small","input":[]}`,
			want: Request{Model: "text-embedding-3-small", N: 1, PromptExact: true},
		},
		{
			name: "responses string input with instructions",
			ep:   Responses,
			body: `{"model":"gpt-5","instructions":"You are helpful.","input":"Hello!","max_output_tokens":300,"stream":true,"service_tier":"priority","n":5}`,
			want: Request{Model: "gpt-5", Stream: true, IncludeUsage: true, MaxOutputTokens: 300, N: 1, ServiceTier: "priority",
				PromptTokens: 3 + 4 + 3 + 2 + 3, PromptExact: true},
		},
		{
			name: "responses items",
			ep:   Responses,
			body: `{"model":"o4-mini","input":[
				{"role":"user","content":"Hello!"},
				{"type":"message","role":"user","content":[
					{"type":"input_text","text":"Describe these."},
					{"type":"input_image","image_url":"https://x/a.png"},
					{"type":"input_file","file_id":"file-1"}]},
				{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Thinking."}]},
				{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
				{"type":"function_call_output","call_id":"c1","output":"{\"temp\":21}"},
				{"type":"function_call_output","call_id":"c2","output":[{"type":"input_text","text":"ok"}]}],
				"tools":[{"type":"function","name":"get_weather"}]}`,
			want: Request{Model: "o4-mini", IncludeUsage: true, N: 1, PromptExact: true, Images: 1, Files: 1, PromptUnbounded: true,
				PromptTokens: 6*3 + 3 + 2 + tok("Describe these.") + 2642 + tok("Thinking.") + tok("get_weather") +
					tok(`{"city":"Paris"}`) + tok(`{"temp":21}`) + tok("ok") + tok(`[{"type":"function","name":"get_weather"}]`)},
		},
		{
			name: "other endpoint needs no model",
			ep:   Other,
			body: `{"prompt":"a cat","size":"1024x1024"}`,
			want: Request{N: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.ep, []byte(tc.body), tc.opts)
			require.NoError(t, err)
			got.Digest, got.Tail = 0, nil // loop-detection fields: tail_test.go
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseRequestUpperBound(t *testing.T) {
	// Past the default 128 KiB the estimate switches to the byte bound, which
	// must not be below the exact count.
	text := strings.Repeat("Proxide meters every token, même les accents et 日本語. ", 2800)
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + text + `"}]}`)
	bound, err := ParseRequest(ChatCompletions, body, Options{})
	require.NoError(t, err)
	require.False(t, bound.PromptExact)
	exact, err := ParseRequest(ChatCompletions, body, Options{ExactPromptBytes: 1 << 20})
	require.NoError(t, err)
	require.True(t, exact.PromptExact)
	require.Equal(t, int64(len(text))+6, bound.PromptTokens)
	require.Greater(t, bound.PromptTokens, exact.PromptTokens)
	require.Equal(t, tok(text)+6, exact.PromptTokens)

	// Invalid UTF-8 is replaced as encoding/json does, so the bound holds.
	body = []byte("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xff\xfeb\"}]}")
	bound, err = ParseRequest(ChatCompletions, body, Options{ExactPromptBytes: 1})
	require.NoError(t, err)
	exact, err = ParseRequest(ChatCompletions, body, Options{})
	require.NoError(t, err)
	require.Equal(t, int64(len("a\uFFFD\uFFFDb"))+6, bound.PromptTokens)
	require.GreaterOrEqual(t, bound.PromptTokens, exact.PromptTokens)
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name   string
		ep     Endpoint
		body   string
		reason string
	}{
		{"empty", ChatCompletions, ``, "not JSON"},
		{"not JSON", ChatCompletions, `{"model":`, "not JSON"},
		{"garbage", Embeddings, `model=gpt-4o`, "not JSON"},
		{"array", ChatCompletions, `[{"model":"gpt-4o"}]`, "must be a JSON object"},
		{"string", Responses, `"hi"`, "must be a JSON object"},
		{"null body", ChatCompletions, `null`, `"model" is missing`},
		{"model missing", ChatCompletions, `{"messages":[]}`, `"model" is missing`},
		{"model empty", Completions, `{"model":"","prompt":"x"}`, `"model" is missing`},
		{"model null", Embeddings, `{"model":null,"input":"x"}`, `"model" is missing`},
		{"model number", ChatCompletions, `{"model":4,"messages":[]}`, `"model" must be a string`},
		{"stream string", ChatCompletions, `{"model":"m","stream":"yes"}`, `"stream" must be a boolean`},
		{"stream_options string", ChatCompletions, `{"model":"m","stream_options":"x"}`, `"stream_options" must be an object`},
		{"include_usage number", ChatCompletions, `{"model":"m","stream_options":{"include_usage":1}}`, `"stream_options.include_usage" must be a boolean`},
		{"max_tokens string", ChatCompletions, `{"model":"m","max_tokens":"100"}`, `"max_tokens" must be an integer`},
		{"max_tokens float", Completions, `{"model":"m","max_tokens":1.5}`, `"max_tokens" must be an integer`},
		{"max_tokens negative", ChatCompletions, `{"model":"m","max_tokens":-1}`, `"max_tokens" must not be negative`},
		{"max_completion_tokens negative", ChatCompletions, `{"model":"m","max_completion_tokens":-5}`, `"max_completion_tokens" must not be negative`},
		{"max_output_tokens string", Responses, `{"model":"m","max_output_tokens":"x"}`, `"max_output_tokens" must be an integer`},
		{"n zero", ChatCompletions, `{"model":"m","n":0}`, `"n" must be at least 1`},
		{"n string", Completions, `{"model":"m","n":"2"}`, `"n" must be an integer`},
		{"service_tier number", ChatCompletions, `{"model":"m","service_tier":1}`, `"service_tier" must be a string`},
		{"messages object", ChatCompletions, `{"model":"m","messages":{"role":"user"}}`, `"messages" must be an array`},
		{"prompt number", Completions, `{"model":"m","prompt":42}`, `"prompt" must be a string, an array of strings`},
		{"prompt mixed array", Completions, `{"model":"m","prompt":["a",1]}`, `"prompt" must be`},
		{"input object", Embeddings, `{"model":"m","input":{"text":"x"}}`, `"input" must be`},
		{"input array of objects", Embeddings, `{"model":"m","input":[{"a":1}]}`, `"input" must be`},
		{"responses input number", Responses, `{"model":"m","input":3}`, `"input" must be a string or an array`},
		{"trailing garbage", ChatCompletions, `{"model":"m"} x`, "not JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(tc.ep, []byte(tc.body), Options{})
			require.ErrorIs(t, err, ErrBadRequest)
			require.Contains(t, err.Error(), tc.reason)
		})
	}
}

func TestParseRequestWorstCaseFields(t *testing.T) {
	tok := func(s string) int64 { return CountTokens("gpt-4o", s) }
	tests := []struct {
		name string
		ep   Endpoint
		body string
		want func(r Request) bool
	}{
		{"previous response makes the prompt unbounded", Responses,
			`{"model":"o3","input":"next","previous_response_id":"resp_1"}`,
			func(r Request) bool { return r.PromptUnbounded && r.PreviousResponseID == "resp_1" }},
		{"conversation by object", Responses,
			`{"model":"o3","input":"next","conversation":{"id":"conv_9"}}`,
			func(r Request) bool { return r.PromptUnbounded && r.ConversationID == "conv_9" }},
		{"conversation by id", Responses,
			`{"model":"o3","input":"next","conversation":"conv_8"}`,
			func(r Request) bool { return r.ConversationID == "conv_8" }},
		{"built-in tools, once each, functions left out", Responses,
			`{"model":"gpt-4.1","input":"x","max_tool_calls":3,"background":true,"tools":[{"type":"web_search","search_context_size":"high"},{"type":"function","name":"f"},{"type":"file_search","vector_store_ids":["vs"]},{"type":"web_search"},{"type":"code_interpreter","container":{"type":"auto"}}]}`,
			func(r Request) bool {
				return len(r.BuiltinTools) == 3 && r.BuiltinTools[0] == "web_search" && r.BuiltinTools[1] == "file_search" &&
					r.BuiltinTools[2] == "code_interpreter" && r.MaxToolCalls == 3 && r.Background && r.SearchContextSize == "high" && !r.PromptUnbounded
			}},
		{"chat audio output, web search, prediction", ChatCompletions,
			`{"model":"gpt-4o-search-preview","modalities":["text","audio"],"web_search_options":{"search_context_size":"low"},"prediction":{"type":"content","content":"abcdef"},"messages":[]}`,
			func(r Request) bool {
				return r.AudioOutput && r.WebSearch && r.SearchContextSize == "low" && r.PredictionTokens == 6
			}},
		{"response_format schema is prompt", ChatCompletions,
			`{"model":"gpt-4o","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`,
			func(r Request) bool {
				return r.PromptTokens == 3+tok(`{"type":"json_schema","json_schema":{"name":"x"}}`)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest(tc.ep, []byte(tc.body), Options{})
			require.NoError(t, err)
			require.True(t, tc.want(r), "%+v", r)
		})
	}
	_, err := ParseRequest(Responses, []byte(`{"model":"o3","input":"x","max_tool_calls":-1}`), Options{})
	require.ErrorIs(t, err, ErrBadRequest)
}
