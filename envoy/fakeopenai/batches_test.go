package fakeopenai

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fileObject is shaped like the SDK's FileObject.
type fileObject struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Bytes     int    `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
}

// batch is shaped like the SDK's Batch.
type batch struct {
	ID            string  `json:"id"`
	Object        string  `json:"object"`
	Endpoint      string  `json:"endpoint"`
	Model         string  `json:"model"`
	InputFileID   string  `json:"input_file_id"`
	Status        string  `json:"status"`
	OutputFileID  *string `json:"output_file_id"`
	ErrorFileID   *string `json:"error_file_id"`
	CreatedAt     int64   `json:"created_at"`
	InProgressAt  *int64  `json:"in_progress_at"`
	CompletedAt   *int64  `json:"completed_at"`
	CancelledAt   *int64  `json:"cancelled_at"`
	ExpiresAt     *int64  `json:"expires_at"`
	RequestCounts struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	} `json:"request_counts"`
	Usage struct {
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
	Errors   json.RawMessage   `json:"errors"`
	Metadata map[string]string `json:"metadata"`
}

func uploadFile(t *testing.T, srv *httptest.Server, purpose, name, content string) fileObject {
	t.Helper()
	body, hdr := multipartBody(t, value("purpose", purpose), upload("file", name, []byte(content)))
	r := call(t, srv, http.MethodPost, "/v1/files", body, hdr)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var f fileObject
	decodeInto(t, r.body, &f)
	return f
}

func TestFilesCRUD(t *testing.T) {
	_, srv := start(t)
	f := uploadFile(t, srv, "user_data", "notes.txt", "hello file")
	require.Equal(t, fileObject{ID: f.ID, Object: "file", Bytes: 10, CreatedAt: 1_700_000_000, Filename: "notes.txt",
		Purpose: "user_data", Status: "processed"}, f)
	g := uploadFile(t, srv, "batch", "in.jsonl", "{}\n")

	r := call(t, srv, http.MethodGet, "/v1/files", "", nil)
	var list struct {
		Object string       `json:"object"`
		Data   []fileObject `json:"data"`
	}
	decodeInto(t, r.body, &list)
	require.Equal(t, []string{g.ID, f.ID}, []string{list.Data[0].ID, list.Data[1].ID}, "newest first")
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/files?purpose=batch", "", nil).body, &list)
	require.Len(t, list.Data, 1)

	var got fileObject
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/files/"+f.ID, "", nil).body, &got)
	require.Equal(t, f, got)
	r = call(t, srv, http.MethodGet, "/v1/files/"+f.ID+"/content", "", nil)
	require.Equal(t, "hello file", r.body)

	r = call(t, srv, http.MethodDelete, "/v1/files/"+f.ID, "", nil)
	require.JSONEq(t, `{"id":"`+f.ID+`","object":"file","deleted":true}`, r.body)
	r = call(t, srv, http.MethodGet, "/v1/files/"+f.ID, "", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Contains(t, r.body, "No such File object: "+f.ID)

	body, hdr := multipartBody(t, value("purpose", "nope"), upload("file", "a", []byte("x")))
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/files", body, hdr).status)
}

const batchInput = `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}}
{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"o3-mini","messages":[{"role":"user","content":"Say hello again"}]}}
{"custom_id":"c","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}}
`

func TestBatchLifecycleAndOutputFile(t *testing.T) {
	_, srv := start(t)
	in := uploadFile(t, srv, "batch", "in.jsonl", batchInput)
	r := call(t, srv, http.MethodPost, "/v1/batches",
		`{"input_file_id":"`+in.ID+`","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"job":"nightly"}}`,
		map[string]string{"x-fake-words": "2", "x-fake-cached-tokens": "3", "x-fake-batch-polls": "2", "x-fake-batch-failed": "1"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	var b batch
	decodeInto(t, r.body, &b)
	require.Equal(t, "batch", b.Object)
	require.Equal(t, "validating", b.Status)
	require.Equal(t, "gpt-4o-mini-2024-07-18", b.Model)
	require.Equal(t, int64(1_700_000_000+24*3600), *b.ExpiresAt)
	require.Equal(t, "nightly", b.Metadata["job"])
	require.Nil(t, b.OutputFileID)

	var statuses []string
	for range 4 {
		decodeInto(t, call(t, srv, http.MethodGet, "/v1/batches/"+b.ID, "", nil).body, &b)
		statuses = append(statuses, b.Status)
	}
	require.Equal(t, []string{"validating", "in_progress", "completed", "completed"}, statuses)
	require.Equal(t, 3, b.RequestCounts.Total)
	require.Equal(t, 2, b.RequestCounts.Completed)
	require.Equal(t, 1, b.RequestCounts.Failed)
	require.NotNil(t, b.CompletedAt)

	// Usage: line a (9 bytes → 9 prompt, 2 words) + line b (15 bytes → 10 prompt, 2 + 4 reasoning).
	require.Equal(t, 9+10, b.Usage.InputTokens)
	require.Equal(t, 3+3, b.Usage.InputTokensDetails.CachedTokens)
	require.Equal(t, 2+6, b.Usage.OutputTokens)
	require.Equal(t, 4, b.Usage.OutputTokensDetails.ReasoningTokens)
	require.Equal(t, 19+8, b.Usage.TotalTokens)

	out := call(t, srv, http.MethodGet, "/v1/files/"+*b.OutputFileID+"/content", "", nil).body
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	var line struct {
		ID       string `json:"id"`
		CustomID string `json:"custom_id"`
		Response struct {
			StatusCode int            `json:"status_code"`
			RequestID  string         `json:"request_id"`
			Body       chatCompletion `json:"body"`
		} `json:"response"`
		Error json.RawMessage `json:"error"`
	}
	decodeInto(t, lines[1], &line)
	require.Equal(t, "b", line.CustomID)
	require.Regexp(t, `^batch_req_`, line.ID)
	require.Equal(t, 200, line.Response.StatusCode)
	require.Regexp(t, `^req_`, line.Response.RequestID)
	require.Equal(t, "o3-mini-2025-01-31", line.Response.Body.Model)
	require.Equal(t, 10, line.Response.Body.Usage.PromptTokens, "the body is what /v1/chat/completions answers")
	require.Equal(t, "null", string(line.Error))
	require.Contains(t, lines[0], `"object":"chat.completion"`)

	var outFile fileObject
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/files/"+*b.OutputFileID, "", nil).body, &outFile)
	require.Equal(t, "batch_output", outFile.Purpose)
	errLines := call(t, srv, http.MethodGet, "/v1/files/"+*b.ErrorFileID+"/content", "", nil).body
	require.Contains(t, errLines, `"custom_id":"c","response":{"status_code":500`)

	r = call(t, srv, http.MethodGet, "/v1/batches", "", nil)
	var list struct {
		Data []batch `json:"data"`
	}
	decodeInto(t, r.body, &list)
	require.Len(t, list.Data, 1)
	require.Equal(t, "completed", list.Data[0].Status)
	require.Equal(t, http.StatusBadRequest, call(t, srv, http.MethodPost, "/v1/batches/"+b.ID+"/cancel", "", nil).status)
}

func TestBatchCancelAndValidation(t *testing.T) {
	_, srv := start(t)
	in := uploadFile(t, srv, "batch", "in.jsonl", batchInput)
	create := `{"input_file_id":"` + in.ID + `","endpoint":"/v1/chat/completions","completion_window":"24h"}`
	var b batch
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/batches", create, nil).body, &b)
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/batches/"+b.ID+"/cancel", "", nil).body, &b)
	require.Equal(t, "cancelling", b.Status)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/batches/"+b.ID, "", nil).body, &b)
	require.Equal(t, "cancelled", b.Status)
	require.NotNil(t, b.CancelledAt)
	require.Nil(t, b.OutputFileID)

	bad := uploadFile(t, srv, "batch", "bad.jsonl", "{not json\n"+strings.Replace(batchInput, "/v1/chat/completions", "/v1/embeddings", 1))
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/batches", strings.Replace(create, in.ID, bad.ID, 1), nil).body, &b)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/batches/"+b.ID, "", nil).body, &b)
	require.Equal(t, "failed", b.Status)
	require.Contains(t, string(b.Errors), `"line":1`)
	require.Contains(t, string(b.Errors), `"line":2`)

	for _, body := range []string{
		`{"input_file_id":"file-nope","endpoint":"/v1/chat/completions","completion_window":"24h"}`,
		strings.Replace(create, "24h", "1h", 1),
		strings.Replace(create, "/v1/chat/completions", "/v1/images/generations", 1),
		strings.Replace(create, in.ID, uploadFile(t, srv, "user_data", "x", "{}").ID, 1),
	} {
		require.GreaterOrEqual(t, call(t, srv, http.MethodPost, "/v1/batches", body, nil).status, 400, body)
	}
}

func TestBatchResponsesAndEmbeddingsEndpoints(t *testing.T) {
	_, srv := start(t)
	in := uploadFile(t, srv, "batch", "in.jsonl",
		`{"custom_id":"r","method":"POST","url":"/v1/responses","body":{"model":"gpt-4o-mini","input":"Say hello"}}`+"\n")
	var b batch
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/batches",
		`{"input_file_id":"`+in.ID+`","endpoint":"/v1/responses","completion_window":"24h"}`,
		map[string]string{"x-fake-batch-polls": "0", "x-fake-words": "5"}).body, &b)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/batches/"+b.ID, "", nil).body, &b)
	require.Equal(t, "completed", b.Status)
	require.Equal(t, 9, b.Usage.InputTokens)
	require.Equal(t, 5, b.Usage.OutputTokens)

	in = uploadFile(t, srv, "batch", "in.jsonl",
		`{"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"hello world"}}`+"\n")
	decodeInto(t, call(t, srv, http.MethodPost, "/v1/batches",
		`{"input_file_id":"`+in.ID+`","endpoint":"/v1/embeddings","completion_window":"24h"}`,
		map[string]string{"x-fake-batch-polls": "0"}).body, &b)
	decodeInto(t, call(t, srv, http.MethodGet, "/v1/batches/"+b.ID, "", nil).body, &b)
	require.Equal(t, 11/4+7, b.Usage.InputTokens)
	require.Zero(t, b.Usage.OutputTokens)
}
