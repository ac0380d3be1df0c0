package fakeopenai

import (
	"encoding/json"
	"net/http"
	"strings"
)

type responsesRequest struct {
	Model           string            `json:"model"`
	Input           json.RawMessage   `json:"input"`
	Instructions    string            `json:"instructions"`
	Stream          bool              `json:"stream"`
	MaxOutputTokens int               `json:"max_output_tokens"`
	ServiceTier     string            `json:"service_tier"`
	Background      bool              `json:"background"`
	Store           *bool             `json:"store"`
	Tools           []json.RawMessage `json:"tools"`
	Include         []string          `json:"include"`
	Metadata        map[string]string `json:"metadata"`
}

// inputText is the text of `input`: a string, or message items whose content
// is a string or parts with "text".
func inputText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var items []struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &items) != nil {
		return ""
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString(textOf(it.Content))
	}
	return b.String()
}

// responseJSON mirrors the Responses API object's field order.
type responseJSON struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	CreatedAt          int64             `json:"created_at"`
	Status             string            `json:"status"`
	Background         bool              `json:"background"`
	Error              *struct{}         `json:"error"`
	IncompleteDetails  *incompleteJSON   `json:"incomplete_details"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int              `json:"max_output_tokens"`
	Model              string            `json:"model"`
	Output             []any             `json:"output"`
	ParallelToolCalls  bool              `json:"parallel_tool_calls"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Reasoning          reasoningJSON     `json:"reasoning"`
	ServiceTier        string            `json:"service_tier"`
	Store              bool              `json:"store"`
	Temperature        float64           `json:"temperature"`
	Text               json.RawMessage   `json:"text"`
	ToolChoice         string            `json:"tool_choice"`
	Tools              []json.RawMessage `json:"tools"`
	TopP               float64           `json:"top_p"`
	Truncation         string            `json:"truncation"`
	Usage              json.RawMessage   `json:"usage,omitempty"` // "null" until known; absent for x-fake-usage: omit
	User               *string           `json:"user"`
	Metadata           map[string]string `json:"metadata"`
}

var nullJSON = json.RawMessage("null")

type incompleteJSON struct {
	Reason string `json:"reason"`
}

type reasoningJSON struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

type outputItemJSON struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Status  string            `json:"status"`
	Content []contentPartJSON `json:"content"`
	Role    string            `json:"role"`
}

type contentPartJSON struct {
	Type        string            `json:"type"`
	Annotations []json.RawMessage `json:"annotations"`
	Logprobs    []json.RawMessage `json:"logprobs"`
	Text        string            `json:"text"`
}

// reasoningItemJSON is the (summary-less) reasoning item of o-series and
// gpt-5 models; its tokens are only in output_tokens_details.
type reasoningItemJSON struct {
	ID      string            `json:"id"`
	Type    string            `json:"type"`
	Summary []json.RawMessage `json:"summary"`
}

// respItem is one output item: as output_item.added and .done show it, and
// the progress events a built-in tool call emits in between.
type respItem struct {
	id          string
	added, done any
	events      []string
	billed      bool // a built-in tool call OpenAI charges per call
}

// responsePlan is everything one response will say.
type responsePlan struct {
	base, final responseJSON // in-progress snapshot (no output, usage null); terminal object
	items       []respItem   // reasoning, tool calls, then the message (last)
	pieces      []string
	u           usage
}

func (ex *exchange) responses() error {
	var req responsesRequest
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		ex.error(http.StatusBadRequest, "Missing required parameter: 'model'.", "invalid_request_error", "missing_required_parameter")
		return nil
	}
	store := req.Store == nil || *req.Store
	if req.Background && !store {
		ex.invalid("Background mode requires 'store' to be true.", "store")
		return nil
	}
	p := ex.planResponse(&req)
	if req.Background {
		return ex.createBackground(&req, p)
	}
	if store {
		ex.storeResponse(&req, p, ex.responseEvents(p, false))
	}
	if !req.Stream {
		if err := ex.think(); err != nil {
			return err
		}
		ex.writeJSON(http.StatusOK, p.final)
		return nil
	}
	return ex.writeEvents(ex.responseEvents(p, false), -1)
}

// planResponse applies the usage formulas: PromptTokens(input + instructions
// + function tool definitions)
// + 100 per built-in tool call; visible words + reasoning + 10 per call.
func (ex *exchange) planResponse(req *responsesRequest) *responsePlan {
	nw, incomplete := ex.ctl.words, false
	if req.MaxOutputTokens > 0 && req.MaxOutputTokens < nw {
		nw, incomplete = req.MaxOutputTokens, true
	}
	text := inputText(req.Input)
	p := &responsePlan{pieces: replyPieces(nw)}
	calls := ex.toolItems(req, text)
	billed := 0
	for _, c := range calls {
		if c.billed {
			billed++
		}
	}
	p.u = countUsage(ex.ctl, req.Model, PromptTokens(len(text)+len(req.Instructions)+toolDefinitionBytes(req.Tools))+toolInputTokens*billed, len(p.pieces))
	p.u.completion += toolOutputTokens * billed
	if isReasoningModel(req.Model) && p.u.reasoning > 0 {
		r := reasoningItemJSON{ID: ex.idFor("rs_"), Type: "reasoning", Summary: []json.RawMessage{}}
		p.items = append(p.items, respItem{id: r.ID, added: r, done: r})
	}
	p.items = append(p.items, calls...)
	msg := strings.Join(p.pieces, "")
	p.items = append(p.items, respItem{id: ex.idFor("msg_"), added: ex.messageItem("in_progress", ""), done: ex.messageItem("completed", msg)})

	p.base = ex.responseBase(req)
	p.final = p.base
	p.final.Status = "completed"
	if incomplete {
		p.final.Status = "incomplete"
		p.final.IncompleteDetails = &incompleteJSON{Reason: "max_output_tokens"}
	}
	p.final.Output = make([]any, len(p.items))
	for i, it := range p.items {
		p.final.Output[i] = it.done
	}
	if !ex.ctl.ignoreUsage {
		p.final.Usage = ex.ctl.usageJSON(p.u.responsesJSON())
	}
	return p
}

func (ex *exchange) responseBase(req *responsesRequest) responseJSON {
	r := responseJSON{
		ID: ex.idFor("resp_"), Object: "response", CreatedAt: ex.created(), Status: "in_progress",
		Model: Snapshot(req.Model), Output: []any{}, ParallelToolCalls: true,
		ServiceTier: serviceTier(req.ServiceTier), Store: req.Store == nil || *req.Store, Temperature: 1, TopP: 1,
		Text: json.RawMessage(`{"format":{"type":"text"}}`), ToolChoice: "auto",
		Tools: []json.RawMessage{}, Truncation: "disabled", Usage: nullJSON, Metadata: map[string]string{},
		Background: req.Background,
	}
	if req.Instructions != "" {
		r.Instructions = &req.Instructions
	}
	if req.MaxOutputTokens > 0 {
		r.MaxOutputTokens = &req.MaxOutputTokens
	}
	if req.Tools != nil {
		r.Tools = req.Tools
	}
	if req.Metadata != nil {
		r.Metadata = req.Metadata
	}
	if isReasoningModel(req.Model) {
		effort := "medium"
		r.Reasoning.Effort = &effort
	}
	return r
}

func (ex *exchange) messageItem(status, text string) outputItemJSON {
	item := outputItemJSON{ID: ex.idFor("msg_"), Type: "message", Status: status, Role: "assistant", Content: []contentPartJSON{}}
	if status == "completed" {
		item.Content = []contentPartJSON{textPart(text)}
	}
	return item
}

func textPart(text string) contentPartJSON {
	return contentPartJSON{Type: "output_text", Annotations: []json.RawMessage{}, Logprobs: []json.RawMessage{}, Text: text}
}
