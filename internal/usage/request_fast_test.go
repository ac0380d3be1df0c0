package usage

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFastNames: the fast decoders know every field of the wire structs by
// its JSON name, as encoding/json does.
func TestFastNames(t *testing.T) {
	for _, c := range []struct {
		v     any
		names []string
	}{
		{commonFields{}, commonNames}, {chatRequest{}, chatNames}, {completionsRequest{}, completionsNames},
		{embeddingsRequest{}, embeddingsNames}, {responsesRequest{}, responsesNames}, {chatMessage{}, messageNames},
		{functionCall{}, functionNames}, {toolCall{}, toolCallNames}, {streamOptions{}, includeNames},
		{webSearchOptions{}, searchNames}, {prediction{}, predictionNames},
	} {
		want := slices.Clone(jsonNames(reflect.TypeOf(c.v)))
		got := slices.Clone(c.names)
		slices.Sort(want)
		slices.Sort(got)
		require.Equal(t, want, got, "%T", c.v)
		for _, n := range c.names { // unsureKey relies on it
			require.Equal(t, strings.ToLower(n), n, "%T: a name with upper case", c.v)
		}
	}
	// The usage decoder maps its keys to wireUsage's and wireDetails' fields
	// by position.
	require.Equal(t, jsonNames(reflect.TypeOf(wireUsage{})), usageKeys[:])
	require.Equal(t, jsonNames(reflect.TypeOf(wireDetails{})), detailKeys[:])
}

// TestFastDeclinesMerges: a key that comes twice in one object is left to
// encoding/json, which merges the two values (an object's fields, a later
// null) where "the last one wins" would be wrong.
func TestFastDeclinesMerges(t *testing.T) {
	for _, body := range []string{
		`{"model":"gpt-4o","stream_options":{"include_usage":true},"stream_options":{}}`,
		`{"model":"gpt-4o","messages":[{"role":"user","name":"bob","content":"long text"}],"messages":[{"role":"user"}]}`,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"x","content":"y"}]}`,
		`{"model":"gpt-4o","stream_options":{"include_usage":true},"stream_options":{}}`,
		`{"model":"gpt-4o","messages":[{"role":"user","name":"bob"}],"messages":[{"role":"user"}]}`,
	} {
		ok := decodeFast([]byte(body), func(d *fastDec) { (&chatRequest{}).fast(d) })
		require.False(t, ok, body)
		checkFast(t, []byte(body))
	}
	for _, raw := range []string{
		`{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":8},"prompt_tokens_details":null}`,
		`{"prompt_tokens":5,"prompt_tokens":6}`,
		`{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":8,"cached_tokens":1}}`,
	} {
		var d usageDecoder
		require.False(t, fastUsage([]byte(raw), &d), raw)
	}
}

// fastCases are bodies on both sides of the fast path's limits.
var fastCases = []string{
	`{"model":"gpt-4o","messages":[{"role":"user","content":"hi \"there\"\n\u00e9\ud83d\ude00"}],"stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"gpt-4o","messages":[null,{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}},null]}],"max_tokens":null,"n":2}`,
	`{"model":"gpt-4o","messages":[],"modalities":["text","audio",null,3],"web_search_options":{"search_context_size":"low"},"prediction":{"content":[{"type":"text","text":"x"}]}}`,
	`{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:x"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"response_format":{"type":"json_schema"}}`,
	`{"model":"gpt-4o","model":"o3"}`,
	`{"model":"gpt-4o","Model":"o3"}`,
	`{"model":"gpt-4o","messages":[{"Role":"user","content":"x"}]}`,
	`{"model":"gpt-4o","messages":[{"role":"user","content":"x","content":"y"}]}`,
	`{"model":"gpt-4o","stream_options":{"include_usage":true},"stream_options":{}}`,
	`{"model":"gpt-4o","messages":[{"role":"user","name":"bob"}],"messages":[{"role":"user"}]}`,
	`{"mod\u0065l":"gpt-4o"}`,
	`{"model":"gpt-4o","max_tokens":1.0}`,
	`{"model":"gpt-4o","max_tokens":1e2}`,
	`{"model":"gpt-4o","max_tokens":99999999999999999999}`,
	`{"model":"gpt-4o","max_tokens":-3}`,
	`{"model":"gpt-4o","stream":"true"}`,
	`{"model":5}`,
	`{"model":"gpt-4o","messages":{}}`,
	`{"model":"gpt-4o","messages":[1]}`,
	`{"model":"gpt-4o","x":[[[[[[[[[[[[[[[[{"a":-0.5e+3}]]]]]]]]]]]]]]]],"y":true,"z":false,"w":null}`,
	`{"model":"gpt-4o","x":01}`,
	`{"model":"gpt-4o","x":"\x01"}`,
	`{"model":"gpt-4o","x":"\q"}`,
	`{"model":"gpt-4o"} x`,
	` {"model":"gpt-4o"} `,
	`{"model":"gpt-4o",}`,
	`{"model":"gpt-4o"`,
	`null`, `[]`, `"x"`, ``,
	`{"model":"gpt-5","input":"hi","instructions":"be brief","tools":[{"type":"web_search","search_context_size":"high"},{"type":"code_interpreter","container":{"type":"auto","memory_limit":"4g"}}],"previous_response_id":"resp_1","conversation":{"id":"conv_1"},"max_tool_calls":3,"background":true,"text":{"format":{"type":"text"}},"max_output_tokens":100}`,
	`{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"function_call","name":"f","arguments":"{}"},{"type":"function_call_output","output":"r"}]}`,
	`{"model":"gpt-5","input":5}`,
	`{"model":"text-embedding-3-small","input":["a",null,"b\\n"]}`,
	`{"model":"text-embedding-3-small","input":["a",1]}`,
	`{"model":"text-embedding-3-small","input":[[1,2],[3]]}`,
	`{"model":"text-embedding-3-small","input":[1,2.5]}`,
	`{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"],"best_of":3,"n":2}`,
}

// fastTargets decode body both ways for each request type: the fast path's
// result (ok false when it gave up) and encoding/json's.
func fastTargets() []func(body []byte) (fast, slow any, ok bool, err error) {
	return []func([]byte) (any, any, bool, error){
		fastTarget[chatRequest]((*chatRequest).fast),
		fastTarget[completionsRequest]((*completionsRequest).fast),
		fastTarget[embeddingsRequest]((*embeddingsRequest).fast),
		fastTarget[responsesRequest]((*responsesRequest).fast),
		fastTarget[commonFields]((*commonFields).fast),
	}
}

func fastTarget[T any](fast func(*T, *fastDec)) func([]byte) (any, any, bool, error) {
	return func(body []byte) (any, any, bool, error) {
		var f, s T
		ok := decodeFast(body, func(d *fastDec) { fast(&f, d) })
		err := json.Unmarshal(body, &s)
		if err == nil {
			err = checkKeyCase(body, &s)
		}
		return f, s, ok, err
	}
}

// checkFast: whatever the fast path accepts, encoding/json accepts too and
// decodes to the same structs.
func checkFast(t *testing.T, body []byte) {
	t.Helper()
	for _, target := range fastTargets() {
		fast, slow, ok, err := target(body)
		if !ok {
			continue
		}
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%T of %q:\nfast %+v\njson %+v", fast, body, fast, slow)
		}
	}
}

func TestFastDecode(t *testing.T) {
	for _, body := range fastCases {
		checkFast(t, []byte(body))
	}
	// The common bodies do take the fast path.
	for _, in := range requestBodies() {
		var w responsesRequest
		ok := decodeFast(in.body, func(d *fastDec) {
			switch in.ep {
			case ChatCompletions:
				(&chatRequest{}).fast(d)
			case Embeddings:
				(&embeddingsRequest{}).fast(d)
			default:
				w.fast(d)
			}
		})
		require.True(t, ok, in.name)
	}
}

// FuzzFastDecode: the differential check of the fast path against
// encoding/json (run with -fuzz; the seeds run as a test).
func FuzzFastDecode(f *testing.F) {
	for _, body := range fastCases {
		f.Add([]byte(body))
	}
	for _, in := range requestBodies() {
		f.Add(in.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFast(t, body) })
}
