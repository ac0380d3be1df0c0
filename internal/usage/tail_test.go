package usage

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRequestTail(t *testing.T) {
	tests := []struct {
		name string
		ep   Endpoint
		body string
		want []TailItem
	}{
		{
			name: "chat: last 8 items, roles, parts joined, media, refusal, tool calls, tool results",
			ep:   ChatCompletions,
			body: `{"model":"gpt-4o","messages":[
				{"role":"system","content":"Be brief."},
				{"role":"user","name":"ann","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"https://x/a.png"}},{"type":"text","text":"what is it?"}]},
				{"role":"assistant","content":"Checking.","refusal":"no","tool_calls":[
					{"id":"call_1","type":"function","function":{"name":"grep","arguments":"{\"q\":\"a\"}"}},
					{"id":"call_2","type":"function","function":{"name":"ls","arguments":"{}"}}]},
				{"role":"tool","tool_call_id":"call_1","content":"no match"},
				{"role":"assistant","function_call":{"name":"legacy","arguments":"[1]"}}]}`,
			want: []TailItem{
				// the system message is the 9th item from the end: dropped
				{Role: "user", Kind: KindText, Name: "ann", Text: "Look:\nwhat is it?", Size: 17},
				{Role: "user", Kind: KindMedia, Name: "image_url", Text: "*", Size: 16},
				{Role: "assistant", Kind: KindText, Text: "Checking.", Size: 9},
				{Role: "assistant", Kind: KindRefusal, Text: "no", Size: 2},
				{Role: "assistant", Kind: KindCall, Name: "grep", Text: `{"q":"a"}`, Size: 9},
				{Role: "assistant", Kind: KindCall, Name: "ls", Text: `{}`, Size: 2},
				{Role: "tool", Kind: KindOutput, Text: "no match", Size: 8},
				{Role: "assistant", Kind: KindCall, Name: "legacy", Text: "[1]", Size: 3},
			},
		},
		{
			name: "responses: instructions, typed and untyped messages, calls, outputs, reasoning skipped",
			ep:   Responses,
			body: `{"model":"o4-mini","instructions":"Sys.","input":[
				{"role":"user","content":"Hi"},
				{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Thinking."}]},
				{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
				{"type":"function_call_output","call_id":"c1","output":"{\"temp\":21}"},
				{"type":"web_search_call","id":"ws_1","status":"completed"},
				{"type":"custom_tool_call_output","call_id":"c2","output":[{"type":"input_text","text":"ok"}]},
				{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done."}]}]}`,
			want: []TailItem{
				{Role: "system", Kind: KindText, Text: "Sys.", Size: 4},
				{Role: "user", Kind: KindText, Text: "Hi", Size: 2},
				{Role: "assistant", Kind: KindCall, Name: "get_weather", Text: `{"city":"Paris"}`, Size: 16},
				{Role: "tool", Kind: KindOutput, Text: `{"temp":21}`, Size: 11},
				{Role: "assistant", Kind: KindCall, Name: "web_search_call"},
				{Role: "tool", Kind: KindOutput, Text: "ok", Size: 2},
				{Role: "assistant", Kind: KindText, Text: "Done.", Size: 5},
			},
		},
		{
			name: "responses string input",
			ep:   Responses,
			body: `{"model":"gpt-5","input":"Hello!","previous_response_id":"resp_1"}`,
			want: []TailItem{{Role: "user", Kind: KindText, Text: "Hello!", Size: 6}},
		},
		{
			name: "completions prompts",
			ep:   Completions,
			body: `{"model":"davinci-002","prompt":["a","","b"]}`,
			want: []TailItem{{Role: "user", Kind: KindText, Text: "a", Size: 1}, {Role: "user", Kind: KindText, Text: "b", Size: 1}},
		},
		{
			name: "embeddings token ids have no tail",
			ep:   Embeddings,
			body: `{"model":"text-embedding-3-small","input":[1,2,3]}`,
		},
		{
			name: "other endpoints have none",
			ep:   Other,
			body: `{"prompt":"a cat"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.ep, []byte(tc.body), Options{})
			require.NoError(t, err)
			for i := range got.Tail {
				if got.Tail[i].Kind == KindMedia {
					require.Len(t, got.Tail[i].Text, 16, "media digest in hex")
					got.Tail[i].Text = "*"
				}
			}
			require.Equal(t, tc.want, got.Tail)
			require.Equal(t, tc.ep == Other, got.Digest == 0)
		})
	}
}

func TestParseRequestTailBounds(t *testing.T) {
	var msgs []string
	for i := range 20 {
		msgs = append(msgs, `{"role":"user","content":"m`+string(rune('a'+i))+`"}`)
	}
	long := "é" + strings.Repeat("x", 3000) + "ü" + strings.Repeat("y", 3000) + "é"
	msgs = append(msgs, `{"role":"user","content":"`+long+`"}`)
	body := `{"model":"gpt-4o","messages":[` + strings.Join(msgs, ",") + `]}`
	got, err := ParseRequest(ChatCompletions, []byte(body), Options{})
	require.NoError(t, err)
	require.Len(t, got.Tail, MaxTailItems)
	require.Equal(t, "mn", got.Tail[0].Text, "the last items are kept")
	last := got.Tail[MaxTailItems-1]
	require.Equal(t, len(long), last.Size)
	require.LessOrEqual(t, len(last.Text), MaxTailText+len(TailCut))
	require.True(t, strings.HasPrefix(last.Text, "éxxx"))
	require.True(t, strings.HasSuffix(last.Text, "yyyé"))
	require.Contains(t, last.Text, TailCut)

	// cuts land on rune boundaries
	multi := strings.Repeat("日本語", 2000)
	b := boundText(multi)
	require.True(t, strings.HasPrefix(b, "日本語"))
	require.True(t, strings.HasSuffix(b, "日本語"))
	require.Contains(t, b, TailCut)
	require.NotContains(t, b, "\uFFFD")
	require.Equal(t, strings.ToValidUTF8(b, "?"), b)
}

func TestParseRequestDigest(t *testing.T) {
	digest := func(ep Endpoint, body string) uint64 {
		t.Helper()
		r, err := ParseRequest(ep, []byte(body), Options{})
		require.NoError(t, err)
		require.NotZero(t, r.Digest)
		return r.Digest
	}
	const chat = `{"model":"gpt-4o","messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}`
	base := digest(ChatCompletions, chat)
	same := []struct{ name, body string }{
		{"whitespace and key order", `{ "messages" : [ {"content":"S","role":"system"}, {"role":"user","content":"Hi"} ], "model":"gpt-4o" }`},
		{"escaping", `{"model":"gpt-4o","messages":[{"role":"system","content":"\u0053"},{"role":"user","content":"Hi"}]}`},
		{"sampling, output and transport knobs", `{"model":"gpt-4o","temperature":0.7,"top_p":0.9,"seed":7,"n":3,"max_tokens":9,"stream":true,` +
			`"stream_options":{"include_usage":true},"user":"u-1","metadata":{"run":"42"},"store":true,"service_tier":"flex",` +
			`"response_format":{"type":"json_object"},"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}`},
	}
	for _, tc := range same {
		require.Equal(t, base, digest(ChatCompletions, tc.body), tc.name)
	}
	different := []struct {
		name string
		ep   Endpoint
		body string
	}{
		{"model", ChatCompletions, strings.Replace(chat, "gpt-4o", "gpt-4o-mini", 1)},
		{"text", ChatCompletions, strings.Replace(chat, `"Hi"`, `"Hi!"`, 1)},
		{"role", ChatCompletions, strings.Replace(chat, `"user"`, `"assistant"`, 1)},
		{"text moved between messages", ChatCompletions, `{"model":"gpt-4o","messages":[{"role":"system","content":"SH"},{"role":"user","content":"i"}]}`},
		{"parts", ChatCompletions, `{"model":"gpt-4o","messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image_url","image_url":{"url":"https://x/1.png"}}]}]}`},
		{"tools", ChatCompletions, `{"model":"gpt-4o","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}`},
		{"same body on another endpoint", Responses, `{"model":"gpt-4o","input":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}`},
	}
	seen := map[uint64]string{base: "base"}
	for _, tc := range different {
		d := digest(tc.ep, tc.body)
		require.NotContains(t, seen, d, "%s collides with %s", tc.name, seen[d])
		seen[d] = tc.name
	}

	// Different images with the same text differ; the same image re-sent does not.
	img := func(data string) string {
		return `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Describe."},` +
			`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + data + `"}}]}]}`
	}
	a, b := strings.Repeat("QUJD", 5000)+"AAAA", strings.Repeat("QUJD", 5000)+"BBBB"
	first, again := digest(ChatCompletions, img(a)), digest(ChatCompletions, img(a))
	require.Equal(t, first, again, "the digest is deterministic")
	require.NotEqual(t, digest(ChatCompletions, img(a)), digest(ChatCompletions, img(b)))

	// Responses: the linked state is part of the request, call ids are not.
	resp := func(prev, callID string) uint64 {
		return digest(Responses, `{"model":"gpt-5","previous_response_id":"`+prev+`","input":[`+
			`{"type":"function_call_output","call_id":"`+callID+`","output":"error: not found"}]}`)
	}
	require.Equal(t, resp("resp_1", "call_a"), resp("resp_1", "call_b"))
	require.NotEqual(t, resp("resp_1", "call_a"), resp("resp_2", "call_a"))

	// Completions and embeddings: texts and token ids.
	require.NotEqual(t, digest(Completions, `{"model":"m","prompt":[1,2]}`), digest(Completions, `{"model":"m","prompt":[1,3]}`))
	require.NotEqual(t, digest(Embeddings, `{"model":"m","input":"a"}`), digest(Completions, `{"model":"m","prompt":"a"}`))
	require.Equal(t, digest(Embeddings, `{"model":"m","input":["a","b"]}`), digest(Embeddings, `{"model":"m","input":["a","b"],"dimensions":8}`))
}
