package fakeopenai

import (
	"encoding/json"
	"net/http"
	"strings"
)

type responsesRequest struct {
	Model           string          `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    string          `json:"instructions"`
	Stream          bool            `json:"stream"`
	MaxOutputTokens int             `json:"max_output_tokens"`
	ServiceTier     string          `json:"service_tier"`
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
	ID                 string              `json:"id"`
	Object             string              `json:"object"`
	CreatedAt          int64               `json:"created_at"`
	Status             string              `json:"status"`
	Background         bool                `json:"background"`
	Error              *struct{}           `json:"error"`
	IncompleteDetails  *incompleteJSON     `json:"incomplete_details"`
	Instructions       *string             `json:"instructions"`
	MaxOutputTokens    *int                `json:"max_output_tokens"`
	Model              string              `json:"model"`
	Output             []outputItemJSON    `json:"output"`
	ParallelToolCalls  bool                `json:"parallel_tool_calls"`
	PreviousResponseID *string             `json:"previous_response_id"`
	Reasoning          reasoningJSON       `json:"reasoning"`
	ServiceTier        string              `json:"service_tier"`
	Store              bool                `json:"store"`
	Temperature        float64             `json:"temperature"`
	Text               json.RawMessage     `json:"text"`
	ToolChoice         string              `json:"tool_choice"`
	Tools              []json.RawMessage   `json:"tools"`
	TopP               float64             `json:"top_p"`
	Truncation         string              `json:"truncation"`
	Usage              *responsesUsageJSON `json:"usage"`
	User               *string             `json:"user"`
	Metadata           map[string]string   `json:"metadata"`
}

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

func (ex *exchange) responses() error {
	var req responsesRequest
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		ex.error(http.StatusBadRequest, "Missing required parameter: 'model'.", "invalid_request_error", "missing_required_parameter")
		return nil
	}
	nw, incomplete := ex.ctl.words, false
	if req.MaxOutputTokens > 0 && req.MaxOutputTokens < nw {
		nw, incomplete = req.MaxOutputTokens, true
	}
	pieces := replyPieces(nw)
	promptBytes := len(inputText(req.Input)) + len(req.Instructions)
	u := newUsage(ex.ctl, req.Model, promptBytes, len(pieces))
	base := ex.responseBase(&req)
	final := base
	final.Status = "completed"
	if incomplete {
		final.Status = "incomplete"
		final.IncompleteDetails = &incompleteJSON{Reason: "max_output_tokens"}
	}
	final.Output = []outputItemJSON{ex.messageItem("completed", strings.Join(pieces, ""))}
	if !ex.ctl.ignoreUsage {
		final.Usage = u.responsesJSON()
	}
	if !req.Stream {
		ex.writeJSON(http.StatusOK, final)
		return nil
	}
	return ex.responsesStream(base, final, pieces)
}

func (ex *exchange) responseBase(req *responsesRequest) responseJSON {
	r := responseJSON{
		ID: ex.idFor("resp_"), Object: "response", CreatedAt: ex.created(), Status: "in_progress",
		Model: Snapshot(req.Model), Output: []outputItemJSON{}, ParallelToolCalls: true,
		ServiceTier: serviceTier(req.ServiceTier), Store: true, Temperature: 1, TopP: 1,
		Text: json.RawMessage(`{"format":{"type":"text"}}`), ToolChoice: "auto",
		Tools: []json.RawMessage{}, Truncation: "disabled", Metadata: map[string]string{},
	}
	if req.Instructions != "" {
		r.Instructions = &req.Instructions
	}
	if req.MaxOutputTokens > 0 {
		r.MaxOutputTokens = &req.MaxOutputTokens
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

// Streaming event payloads: "type" and "sequence_number" first, as OpenAI sends them.
type responseEvent struct {
	Type     string        `json:"type"`
	Sequence int           `json:"sequence_number"`
	Response *responseJSON `json:"response"`
}

type itemEvent struct {
	Type        string         `json:"type"`
	Sequence    int            `json:"sequence_number"`
	OutputIndex int            `json:"output_index"`
	Item        outputItemJSON `json:"item"`
}

type partEvent struct {
	Type         string          `json:"type"`
	Sequence     int             `json:"sequence_number"`
	ItemID       string          `json:"item_id"`
	OutputIndex  int             `json:"output_index"`
	ContentIndex int             `json:"content_index"`
	Part         contentPartJSON `json:"part"`
}

type textEvent struct {
	Type         string            `json:"type"`
	Sequence     int               `json:"sequence_number"`
	ItemID       string            `json:"item_id"`
	OutputIndex  int               `json:"output_index"`
	ContentIndex int               `json:"content_index"`
	Delta        *string           `json:"delta,omitempty"`
	Text         *string           `json:"text,omitempty"`
	Logprobs     []json.RawMessage `json:"logprobs"`
}

// responsesStream writes response.created, response.in_progress, the output
// item and content part events, one response.output_text.delta per piece,
// the done events and response.completed (or response.incomplete) with usage.
func (ex *exchange) responsesStream(base, final responseJSON, pieces []string) error {
	s := ex.startSSE()
	seq := 0
	next := func() int { seq++; return seq - 1 }
	itemID := ex.idFor("msg_")
	for _, typ := range []string{"response.created", "response.in_progress"} {
		if err := s.event(typ, responseEvent{Type: typ, Sequence: next(), Response: &base}); err != nil {
			return err
		}
	}
	if err := s.event("response.output_item.added", itemEvent{Type: "response.output_item.added", Sequence: next(),
		Item: ex.messageItem("in_progress", "")}); err != nil {
		return err
	}
	if err := s.event("response.content_part.added", partEvent{Type: "response.content_part.added", Sequence: next(),
		ItemID: itemID, Part: textPart("")}); err != nil {
		return err
	}
	for _, p := range pieces {
		delta := p
		if err := s.event("response.output_text.delta", textEvent{Type: "response.output_text.delta", Sequence: next(),
			ItemID: itemID, Delta: &delta, Logprobs: []json.RawMessage{}}); err != nil {
			return err
		}
	}
	text := strings.Join(pieces, "")
	if err := s.event("response.output_text.done", textEvent{Type: "response.output_text.done", Sequence: next(),
		ItemID: itemID, Text: &text, Logprobs: []json.RawMessage{}}); err != nil {
		return err
	}
	if err := s.event("response.content_part.done", partEvent{Type: "response.content_part.done", Sequence: next(),
		ItemID: itemID, Part: textPart(text)}); err != nil {
		return err
	}
	if err := s.event("response.output_item.done", itemEvent{Type: "response.output_item.done", Sequence: next(),
		Item: ex.messageItem("completed", text)}); err != nil {
		return err
	}
	typ := "response.completed"
	if final.Status == "incomplete" {
		typ = "response.incomplete"
	}
	return s.event(typ, responseEvent{Type: typ, Sequence: next(), Response: &final})
}
