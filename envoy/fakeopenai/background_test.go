package fakeopenai

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// response is shaped like the SDK's Response (the parts tests read).
type response struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Status     string `json:"status"`
	Background bool   `json:"background"`
	Output     []struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Status  string `json:"status"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	} `json:"output"`
	Usage *struct {
		InputTokens        int `json:"input_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokens        int `json:"output_tokens"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
		TotalTokens int `json:"total_tokens"`
	} `json:"usage"`
}

const bgBody = `{"model":"gpt-4o-mini","input":"Say hello","background":true}` // input: 9 bytes → 9/4+7 = 9 tokens

func TestBackgroundPolling(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/responses", bgBody, map[string]string{"x-fake-words": "4", "x-fake-background-polls": "3"})
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `"usage":null`)
	var created response
	decodeInto(t, r.body, &created)
	require.Equal(t, "queued", created.Status)
	require.True(t, created.Background)
	require.Nil(t, created.Usage)
	require.Empty(t, created.Output)

	var statuses []string
	var last response
	for range 5 {
		r = call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil)
		require.Equal(t, http.StatusOK, r.status)
		decodeInto(t, r.body, &last)
		statuses = append(statuses, last.Status)
	}
	require.Equal(t, []string{"queued", "queued", "in_progress", "completed", "completed"}, statuses)
	require.NotNil(t, last.Usage)
	require.Equal(t, 9, last.Usage.InputTokens)
	require.Equal(t, 4, last.Usage.OutputTokens)
	require.Equal(t, 13, last.Usage.TotalTokens)
	require.Equal(t, "Hello from the fake", last.Output[0].Content[0].Text)
	require.True(t, last.Background)

	// Default: one poll before completion.
	r = call(t, srv, http.MethodPost, "/v1/responses", bgBody, nil)
	decodeInto(t, r.body, &created)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil).body, &last)
	require.Equal(t, "in_progress", last.Status)
	require.Nil(t, last.Usage)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil).body, &last)
	require.Equal(t, "completed", last.Status)

	r = call(t, srv, http.MethodGet, "/v1/responses/resp_nope", "", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.body, "Response with id 'resp_nope' not found.")
}

func TestBackgroundStreamResumesAfterCut(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","input":"Say hello","background":true,"stream":true}`
	r := call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "3", "x-fake-cut-after": "5"})
	require.Error(t, r.err, "cut mid-stream")
	evs := eventsOf(t, r.body)
	require.Len(t, evs, 5)
	require.Equal(t, "response.created", evs[0]["type"])
	require.Equal(t, "queued", evs[0]["response"].(map[string]any)["status"])
	require.Equal(t, "response.queued", evs[1]["type"])
	require.Equal(t, "response.in_progress", evs[2]["type"])
	id := evs[0]["response"].(map[string]any)["id"].(string)
	lastSeq := num(evs[4]["sequence_number"])
	require.Equal(t, 4, lastSeq)

	r = call(t, srv, http.MethodGet, "/v1/responses/"+id+"?stream=true&starting_after="+strconv.Itoa(lastSeq), "", nil)
	require.NoError(t, r.err)
	rest := eventsOf(t, r.body)
	require.Equal(t, 5, count(t, rest[0]["sequence_number"]), "the stream resumes right after the cursor")
	for i, ev := range rest {
		require.Equal(t, 5+i, num(ev["sequence_number"]))
	}
	final := rest[len(rest)-1]
	require.Equal(t, "response.completed", final["type"])
	u := final["response"].(map[string]any)["usage"].(map[string]any)
	require.Equal(t, 3, num(u["output_tokens"]))

	var got response
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/responses/"+id, "", nil).body, &got)
	require.Equal(t, "completed", got.Status, "streamed to the end: completed")

	r = call(t, srv, http.MethodGet, "/v1/responses/"+id+"?stream=true", "", nil)
	require.Len(t, eventsOf(t, r.body), 5+len(rest), "without a cursor: the whole stream")
}

func TestBackgroundCancel(t *testing.T) {
	_, srv := start(t)
	var c, got response
	// Cancelled while queued: nothing generated, usage null.
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses", bgBody, nil).body, &c)
	r := call(t, srv, http.MethodPost, "/v1/responses/"+c.ID+"/cancel", "", nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `"usage":null`)
	decodeInto(t, r.body, &got)
	require.Equal(t, "cancelled", got.Status)
	again := call(t, srv, http.MethodPost, "/v1/responses/"+c.ID+"/cancel", "", nil)
	require.Equal(t, r.body, again.body, "cancelling twice is idempotent")
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/responses/"+c.ID, "", nil).body, &got)
	require.Equal(t, "cancelled", got.Status)

	// Cancelled in progress: the input and half the output (o3-mini: 2 × 6 reasoning).
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses",
		`{"model":"o3-mini","input":"Say hello","background":true}`, map[string]string{"x-fake-words": "6"}).body, &c)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/responses/"+c.ID, "", nil).body, &got)
	require.Equal(t, "in_progress", got.Status)
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses/"+c.ID+"/cancel", "", nil).body, &got)
	require.Equal(t, "cancelled", got.Status)
	require.NotNil(t, got.Usage)
	require.Equal(t, 9, got.Usage.InputTokens)
	require.Equal(t, (6+12)/2, got.Usage.OutputTokens)
	require.Equal(t, 12/2, got.Usage.OutputTokensDetails.ReasoningTokens)
	require.Equal(t, "Hello from the", got.Output[0].Content[0].Text)

	// Completed: cannot be cancelled; not background: neither.
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x","background":true}`,
		map[string]string{"x-fake-background-polls": "0"}).body, &c)
	call(t, srv, http.MethodGet, "/v1/responses/"+c.ID, "", nil)
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/responses/"+c.ID+"/cancel", "", nil).status)
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x"}`, nil).body, &c)
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/responses/"+c.ID+"/cancel", "", nil).status)
}

func TestStoredResponseRetrieveDeleteAndInputItems(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-mini","instructions":"Be brief.","input":[{"role":"user","content":"Say hello"},{"role":"user","content":[{"type":"input_text","text":"twice"}]}]}`
	r := call(t, srv, http.MethodPost, "/v1/responses", body, map[string]string{"x-fake-words": "2"})
	var created, got response
	decodeInto(t, r.body, &created)
	r = call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil)
	require.Equal(t, http.StatusOK, r.status)
	decodeInto(t, r.body, &got)
	require.Equal(t, created, got, "a stored response reads back as created, usage included")
	require.Equal(t, (9+9+5)/4+7, got.Usage.InputTokens)

	r = call(t, srv, http.MethodGet, "/v1/responses/"+created.ID+"/input_items", "", nil)
	var items struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Role    string `json:"role"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"data"`
		FirstID string `json:"first_id"`
		LastID  string `json:"last_id"`
		HasMore bool   `json:"has_more"`
	}
	decodeInto(t, r.body, &items)
	require.Equal(t, "list", items.Object)
	require.Len(t, items.Data, 2)
	require.Equal(t, "twice", items.Data[0].Content[0].Text, "newest first")
	require.Equal(t, "input_text", items.Data[1].Content[0].Type)
	require.Equal(t, "Say hello", items.Data[1].Content[0].Text)
	require.Equal(t, items.Data[0].ID, items.FirstID)
	require.False(t, items.HasMore)

	r = call(t, srv, http.MethodDelete, "/v1/responses/"+created.ID, "", nil)
	require.JSONEq(t, `{"id":"`+created.ID+`","object":"response","deleted":true}`, r.body)
	require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil).status)

	decodeInto(t, call(t, srv, http.MethodPost, "/v1/responses", `{"model":"gpt-4o-mini","input":"x","store":false}`, nil).body, &created)
	require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, "/v1/responses/"+created.ID, "", nil).status)
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/responses",
		`{"model":"gpt-4o-mini","input":"x","store":false,"background":true}`, nil).status)
}
