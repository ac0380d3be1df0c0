package fakeopenai

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const allTools = `"tools":[{"type":"web_search_preview"},{"type":"file_search","vector_store_ids":["vs_1"]},` +
	`{"type":"code_interpreter","container":{"type":"auto"}},{"type":"image_generation"},` +
	`{"type":"computer_use_preview","display_width":1024,"display_height":768,"environment":"browser"},` +
	`{"type":"mcp","server_label":"deepwiki","server_url":"https://mcp.example.com"},` +
	`{"type":"function","name":"get_weather","parameters":{}}]`

func TestResponsesBuiltinToolItems(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","input":"Say hello",` + allTools + `}`
	r := call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "2"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	m := decodeMap(t, r.body)
	var types []string
	byType := map[string]map[string]any{}
	for _, o := range m["output"].([]any) {
		item := o.(map[string]any)
		types = append(types, item["type"].(string))
		byType[item["type"].(string)] = item
	}
	require.Equal(t, []string{"web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
		"computer_call", "mcp_list_tools", "mcp_call", "message"}, types)

	ws := byType["web_search_call"]
	require.Equal(t, "completed", ws["status"])
	require.Equal(t, map[string]any{"type": "search", "query": "Say hello"}, ws["action"])
	require.Regexp(t, `^ws_`, ws["id"])
	fs := byType["file_search_call"]
	require.Equal(t, []any{"Say hello"}, fs["queries"])
	require.Contains(t, fs, "results")
	ci := byType["code_interpreter_call"]
	require.Regexp(t, `^cntr_`, ci["container_id"])
	require.NotEmpty(t, ci["code"])
	require.Nil(t, ci["outputs"], "outputs only with include code_interpreter_call.outputs")
	ig := byType["image_generation_call"]
	requirePNG(t, ig["result"].(string))
	cu := byType["computer_call"]
	require.Equal(t, map[string]any{"type": "screenshot"}, cu["action"])
	require.Empty(t, cu["pending_safety_checks"])
	require.Equal(t, "deepwiki", byType["mcp_call"]["server_label"])
	require.Equal(t, "deepwiki", byType["mcp_list_tools"]["server_label"])

	// 6 billed calls (mcp_list_tools is not one): +100 input, +10 output each.
	// The prompt: "Say hello" (9 bytes) + the function tool's definition
	// {"type":"function","name":"get_weather","parameters":{}} (56 bytes):
	// 65/4 + 7 = 23 tokens; the built-in tools' definitions are not text.
	u := m["usage"].(map[string]any)
	require.Equal(t, 23+6*100, num(u["input_tokens"]))
	require.Equal(t, 2+6*10, num(u["output_tokens"]))
	require.Equal(t, 23+600+2+60, num(u["total_tokens"]))
	require.Len(t, m["tools"], 7, "the tools are echoed")
}

func TestResponsesToolCallsHeaderAndStream(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","input":"Say hello","stream":true,"include":["code_interpreter_call.outputs"],` +
		`"tools":[{"type":"web_search"},{"type":"code_interpreter","container":"cntr_abc"}]}`
	r := call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "1", "x-fake-tool-calls": "2"})
	evs := eventsOf(t, r.body)
	var names []string
	for i, ev := range evs {
		require.Equal(t, i, num(ev["sequence_number"]))
		names = append(names, ev["type"].(string))
	}
	ws := []string{"response.output_item.added", "response.web_search_call.in_progress", "response.web_search_call.searching",
		"response.web_search_call.completed", "response.output_item.done"}
	ci := []string{"response.output_item.added", "response.code_interpreter_call.in_progress",
		"response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed", "response.output_item.done"}
	want := []string{"response.created", "response.in_progress"}
	want = append(append(append(append(want, ws...), ws...), ci...), ci...)
	want = append(want, "response.output_item.added", "response.content_part.added", "response.output_text.delta",
		"response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed")
	require.Equal(t, want, names)
	require.Equal(t, 4, count(t, evs[len(evs)-3]["output_index"]), "the message comes after the 4 calls")
	require.Equal(t, evs[2]["item"].(map[string]any)["id"], evs[3]["item_id"])
	require.Equal(t, "in_progress", evs[2]["item"].(map[string]any)["status"])
	done := evs[len(evs)-1]["response"].(map[string]any)
	ciItem := done["output"].([]any)[2].(map[string]any)
	require.Equal(t, "cntr_abc", ciItem["container_id"])
	require.Equal(t, []any{map[string]any{"type": "logs", "logs": "42\n"}}, ciItem["outputs"])
	u := done["usage"].(map[string]any)
	require.Equal(t, 9+4*100, num(u["input_tokens"]))
	require.Equal(t, 1+4*10, num(u["output_tokens"]))

	r = call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x","tools":[{"type":"web_search"}]}`,
		map[string]string{"x-fake-tool-calls": "0"})
	require.Len(t, decodeMap(t, r.body)["output"], 1, "x-fake-tool-calls: 0 calls no tool")
}

func TestResponsesReasoningModel(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/responses", `{"model":"o4-mini","input":"Say hello"}`, map[string]string{"x-fake-words": "3"})
	m := decodeMap(t, r.body)
	out := m["output"].([]any)
	require.Equal(t, "reasoning", out[0].(map[string]any)["type"])
	require.Equal(t, []any{}, out[0].(map[string]any)["summary"])
	require.Equal(t, "message", out[1].(map[string]any)["type"])
	require.Equal(t, "medium", m["reasoning"].(map[string]any)["effort"])
	u := m["usage"].(map[string]any)
	require.Equal(t, 3+6, num(u["output_tokens"]))
	require.Equal(t, 6, num(u["output_tokens_details"].(map[string]any)["reasoning_tokens"]))

	r = call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-5","input":"Say hello"}`,
		map[string]string{"x-fake-words": "3", "x-fake-reasoning-tokens": "500"})
	u = decodeMap(t, r.body)["usage"].(map[string]any)
	require.Equal(t, 503, num(u["output_tokens"]))
	require.Equal(t, 500, num(u["output_tokens_details"].(map[string]any)["reasoning_tokens"]))
}

func TestThinkDelaysTheFirstVisibleDelta(t *testing.T) {
	_, srv := start(t)
	for _, tc := range []struct{ path, body string }{
		{"/v1/responses", `{"model":"o3","input":"Say hello","stream":true}`},
		{"/v1/chat/completions", `{"model":"o3","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/completions", `{"model":"gpt-3.5-turbo-instruct","prompt":"hi","stream":true}`},
		{"/v1/chat/completions", `{"model":"o3","messages":[{"role":"user","content":"hi"}]}`},
	} {
		begin := time.Now()
		r := call(t, srv, http.MethodPost, tc.path, tc.body, map[string]string{"x-fake-think-ms": "150", "x-fake-words": "1"})
		require.NoError(t, r.err)
		require.GreaterOrEqual(t, time.Since(begin), 150*time.Millisecond, tc.path)
	}
	evs := parseSSE(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"o3","input":"x","stream":true}`, nil).body)
	first := -1
	for i, ev := range evs {
		if ev.name == "response.output_text.delta" && first < 0 {
			first = i
		}
	}
	require.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added", "response.output_item.done"},
		[]string{evs[0].name, evs[1].name, evs[2].name, evs[3].name}, "a reasoning item precedes the text")
	require.Greater(t, first, 3)
}
