package fakeopenai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// batchJSON is OpenAI's batch object (usage: batches created after
// 2025-09-07 report it).
type batchJSON struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Endpoint         string            `json:"endpoint"`
	Model            *string           `json:"model"`
	Errors           json.RawMessage   `json:"errors"`
	InputFileID      string            `json:"input_file_id"`
	CompletionWindow string            `json:"completion_window"`
	Status           string            `json:"status"`
	OutputFileID     *string           `json:"output_file_id"`
	ErrorFileID      *string           `json:"error_file_id"`
	CreatedAt        int64             `json:"created_at"`
	InProgressAt     *int64            `json:"in_progress_at"`
	ExpiresAt        *int64            `json:"expires_at"`
	FinalizingAt     *int64            `json:"finalizing_at"`
	CompletedAt      *int64            `json:"completed_at"`
	FailedAt         *int64            `json:"failed_at"`
	ExpiredAt        *int64            `json:"expired_at"`
	CancellingAt     *int64            `json:"cancelling_at"`
	CancelledAt      *int64            `json:"cancelled_at"`
	RequestCounts    batchCountsJSON   `json:"request_counts"`
	Usage            batchUsageJSON    `json:"usage"`
	Metadata         map[string]string `json:"metadata"`
}

type batchCountsJSON struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

type batchUsageJSON struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// storedBatch is a batch and what it needs to run. Like a background
// response it advances over polls of GET /v1/batches/{id}: with N =
// x-fake-batch-polls of the create (default 1), polls 1…N-1 answer
// validating, poll N in_progress, poll N+1 runs every line and answers
// completed. A batch whose input has a malformed line fails on poll 1.
type storedBatch struct {
	obj         batchJSON
	ctl         control // the create's x-fake-* headers apply to every line
	lines       [][]byte
	invalid     json.RawMessage // validation errors, or nil
	pollsBefore int
	polls       int
	run         sync.Once
}

var batchEndpoints = []string{"/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions", "/v1/moderations"}

type batchInputLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// createBatch answers POST /v1/batches.
func (ex *exchange) createBatch() error {
	var req struct {
		InputFileID      string            `json:"input_file_id"`
		Endpoint         string            `json:"endpoint"`
		CompletionWindow string            `json:"completion_window"`
		Metadata         map[string]string `json:"metadata"`
	}
	if !ex.decode(&req) {
		return nil
	}
	switch {
	case req.InputFileID == "":
		ex.invalid("Missing required parameter: 'input_file_id'.", "input_file_id")
		return nil
	case !slices.Contains(batchEndpoints, req.Endpoint):
		ex.invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: %q.", req.Endpoint, batchEndpoints), "endpoint")
		return nil
	case req.CompletionWindow != "24h":
		ex.invalid(fmt.Sprintf("Invalid value: '%s'. Supported values are: '24h'.", req.CompletionWindow), "completion_window")
		return nil
	}
	f := ex.file(req.InputFileID)
	if f == nil {
		return nil
	}
	if f.obj.Purpose != "batch" {
		ex.invalid("The input file must have purpose 'batch'.", "input_file_id")
		return nil
	}
	now := ex.created()
	expires := now + 24*3600
	sb := &storedBatch{ctl: ex.ctl, pollsBefore: ex.ctl.batchPolls, obj: batchJSON{
		ID: ex.idFor("batch_"), Object: "batch", Endpoint: req.Endpoint, Errors: nullJSON,
		InputFileID: req.InputFileID, CompletionWindow: req.CompletionWindow, Status: "validating",
		CreatedAt: now, ExpiresAt: &expires, Metadata: req.Metadata,
	}}
	sb.lines, sb.invalid = splitBatchInput(f.content, req.Endpoint)
	if len(sb.lines) > 0 {
		var first batchInputLine
		_ = json.Unmarshal(sb.lines[0], &first)
		var body struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(first.Body, &body) == nil && body.Model != "" {
			m := Snapshot(body.Model)
			sb.obj.Model = &m
		}
	}
	st := ex.s.st
	st.mu.Lock()
	st.batches[sb.obj.ID] = sb
	st.batchOrder = append(st.batchOrder, sb.obj.ID)
	obj := sb.obj
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, obj)
	return nil
}

// splitBatchInput returns the non-empty JSONL lines, and the validation
// errors (OpenAI's errors list) when a line is not JSON or targets another
// endpoint.
func splitBatchInput(content []byte, endpoint string) (lines [][]byte, invalid json.RawMessage) {
	var errs []map[string]any
	for i, l := range bytes.Split(content, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			continue
		}
		var in batchInputLine
		switch {
		case json.Unmarshal(l, &in) != nil:
			errs = append(errs, map[string]any{"code": "invalid_json_line", "line": i + 1,
				"message": "This line is not parseable as valid JSON.", "param": nil})
		case in.URL != endpoint:
			errs = append(errs, map[string]any{"code": "mismatched_endpoint", "line": i + 1,
				"message": fmt.Sprintf("The endpoint for this request (%s) does not match the batch endpoint (%s).", in.URL, endpoint), "param": "url"})
		}
		lines = append(lines, l)
	}
	if errs != nil {
		invalid = mustJSON(map[string]any{"object": "list", "data": errs})
	}
	return lines, invalid
}

func (ex *exchange) lookupBatch(id string) *storedBatch {
	st := ex.s.st
	st.mu.Lock()
	sb := st.batches[id]
	st.mu.Unlock()
	if sb == nil {
		ex.notFound("No batch found with id '"+id+"'.", "batch_id")
	}
	return sb
}

// getBatch answers GET /v1/batches/{id}: one poll.
func (ex *exchange) getBatch(id string) error {
	sb := ex.lookupBatch(id)
	if sb == nil {
		return nil
	}
	st := ex.s.st
	now := ex.created()
	st.mu.Lock()
	sb.polls++
	b := &sb.obj
	runNow := false
	switch {
	case b.Status == "cancelling":
		b.Status, b.CancelledAt = "cancelled", &now
	case b.Status != "validating" && b.Status != "in_progress":
		// terminal
	case sb.invalid != nil:
		b.Status, b.FailedAt, b.Errors = "failed", &now, sb.invalid
	case sb.polls < sb.pollsBefore:
	case sb.polls == sb.pollsBefore:
		b.Status, b.InProgressAt, b.RequestCounts.Total = "in_progress", &now, len(sb.lines)
	default:
		runNow = true
	}
	st.mu.Unlock()
	if runNow {
		sb.run.Do(func() { ex.runBatch(sb) })
	}
	st.mu.Lock()
	obj := sb.obj
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, obj)
	return nil
}

// cancelBatch: a validating or in-progress batch turns cancelling, and
// cancelled on the next poll; cancelling again answers the same object.
func (ex *exchange) cancelBatch(id string) error {
	sb := ex.lookupBatch(id)
	if sb == nil {
		return nil
	}
	now := ex.created()
	st := ex.s.st
	st.mu.Lock()
	b := &sb.obj
	status := b.Status
	if status == "validating" || status == "in_progress" {
		b.Status, b.CancellingAt = "cancelling", &now
	}
	obj := sb.obj
	st.mu.Unlock()
	if status != "validating" && status != "in_progress" && status != "cancelling" && status != "cancelled" {
		ex.invalid("Cannot cancel a batch with status '"+status+"'.", "")
		return nil
	}
	ex.writeJSON(http.StatusOK, obj)
	return nil
}

// listBatches answers GET /v1/batches, newest first (no poll).
func (ex *exchange) listBatches() error {
	st := ex.s.st
	st.mu.Lock()
	objs := make([]batchJSON, 0, len(st.batchOrder))
	for _, id := range slices.Backward(st.batchOrder) {
		objs = append(objs, st.batches[id].obj)
	}
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, newList(objs, func(b batchJSON) string { return b.ID }))
	return nil
}
