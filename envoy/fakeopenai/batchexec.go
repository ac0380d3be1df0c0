package fakeopenai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// batchLineJSON is one line of a batch output (or error) file.
type batchLineJSON struct {
	ID       string             `json:"id"`
	CustomID string             `json:"custom_id"`
	Response *batchLineResponse `json:"response"`
	Error    json.RawMessage    `json:"error"`
}

type batchLineResponse struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body"`
}

// runBatch answers every input line with the handler of its endpoint (so
// each body, usage included, is what that endpoint answers for the same
// request and x-fake-* headers), writes the output file (status 200 lines)
// and the error file (others; the last x-fake-batch-failed lines answer
// 500), and completes the batch with the summed usage.
func (ex *exchange) runBatch(sb *storedBatch) {
	ctl := sb.ctl
	ctl.status, ctl.cutAfter, ctl.split, ctl.delayMS, ctl.thinkMS = 0, -1, 0, 0, 0
	var out, errs bytes.Buffer
	var counts batchCountsJSON
	var total batchUsageJSON
	for i, l := range sb.lines {
		var in batchInputLine
		_ = json.Unmarshal(l, &in)
		id := ex.s.seq.Add(1)
		status, body := http.StatusInternalServerError, mustJSON(errorBody{Error: errorDetail{
			Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error"}})
		if i < len(sb.lines)-ctl.batchFailed {
			status, body = ex.s.runLine(id, ctl, in)
		}
		line := batchLineJSON{ID: fmt.Sprintf("batch_req_fake%06d", id), CustomID: in.CustomID, Error: nullJSON,
			Response: &batchLineResponse{StatusCode: status, RequestID: fmt.Sprintf("req_fake%06d", id), Body: body}}
		dst := &out
		if status == http.StatusOK {
			counts.Completed++
			addBatchUsage(&total, body)
		} else {
			counts.Failed++
			dst = &errs
		}
		dst.Write(mustJSON(line))
		dst.WriteByte('\n')
	}
	counts.Total = len(sb.lines)
	total.TotalTokens = total.InputTokens + total.OutputTokens

	now := ex.created()
	outFile := ex.s.addFile(fmt.Sprintf("file-fake%06d", ex.s.seq.Add(1)), sb.obj.ID+"_output.jsonl", "batch_output", out.Bytes())
	var errID *string
	if errs.Len() > 0 {
		e := ex.s.addFile(fmt.Sprintf("file-fake%06d", ex.s.seq.Add(1)), sb.obj.ID+"_error.jsonl", "batch_output", errs.Bytes())
		errID = &e.ID
	}
	st := ex.s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	b := &sb.obj
	if b.InProgressAt == nil {
		b.InProgressAt = &now
	}
	b.Status, b.FinalizingAt, b.CompletedAt = "completed", &now, &now
	b.OutputFileID, b.ErrorFileID = &outFile.ID, errID
	b.RequestCounts, b.Usage = counts, total
}

// runLine answers one batch line through the live handlers.
func (s *Server) runLine(id int64, ctl control, in batchInputLine) (int, json.RawMessage) {
	var stream struct {
		Stream bool `json:"stream"`
	}
	if json.Unmarshal(in.Body, &stream) == nil && stream.Stream {
		return http.StatusBadRequest, mustJSON(errorBody{Error: errorDetail{
			Message: "Streaming is not supported in the Batch API.", Type: "invalid_request_error"}})
	}
	method := in.Method
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequestWithContext(context.Background(), method, in.URL, bytes.NewReader(in.Body))
	if err != nil {
		return http.StatusBadRequest, mustJSON(errorBody{Error: errorDetail{Message: err.Error(), Type: "invalid_request_error"}})
	}
	r.Header.Set("Content-Type", "application/json")
	w := newBufferWriter()
	inner := &exchange{s: s, w: w, r: r, body: in.Body, ctl: ctl, id: id}
	_ = inner.route()
	return w.status, compactJSON(w.buf.Bytes())
}

// addBatchUsage adds a line body's usage, whichever endpoint's shape it has.
func addBatchUsage(total *batchUsageJSON, body json.RawMessage) {
	var b struct {
		Usage struct {
			PromptTokens        int `json:"prompt_tokens"`
			CompletionTokens    int `json:"completion_tokens"`
			InputTokens         int `json:"input_tokens"`
			OutputTokens        int `json:"output_tokens"`
			PromptTokensDetails struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
			InputTokensDetails struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"input_tokens_details"`
			CompletionTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
			OutputTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"output_tokens_details"`
		} `json:"usage"`
	}
	if json.Unmarshal(body, &b) != nil {
		return
	}
	u := b.Usage
	total.InputTokens += u.PromptTokens + u.InputTokens
	total.OutputTokens += u.CompletionTokens + u.OutputTokens
	total.InputTokensDetails.CachedTokens += u.PromptTokensDetails.CachedTokens + u.InputTokensDetails.CachedTokens
	total.OutputTokensDetails.ReasoningTokens += u.CompletionTokensDetails.ReasoningTokens + u.OutputTokensDetails.ReasoningTokens
}
