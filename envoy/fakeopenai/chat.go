package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

type chatRequest struct {
	Model               string                 `json:"model"`
	Messages            []chatMessage          `json:"messages"`
	Stream              bool                   `json:"stream"`
	StreamOptions       *streamOptions         `json:"stream_options"`
	Tools               []chatTool             `json:"tools"`
	ToolChoice          json.RawMessage        `json:"tool_choice"`
	ResponseFormat      *struct{ Type string } `json:"response_format"`
	MaxTokens           int                    `json:"max_tokens"`
	MaxCompletionTokens int                    `json:"max_completion_tokens"`
	N                   int                    `json:"n"`
	ServiceTier         string                 `json:"service_tier"`
}

type streamOptions struct {
	IncludeUsage       bool  `json:"include_usage"`
	IncludeObfuscation *bool `json:"include_obfuscation"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// plan is what one chat completion will say.
type plan struct {
	model, tier, finish string
	pieces              []string // content pieces, or tool argument pieces
	tool                string   // function name when the reply is a tool call
	n                   int
	u                   usage
}

func (ex *exchange) planChat(req *chatRequest) plan {
	p := plan{model: Snapshot(req.Model), tier: serviceTier(req.ServiceTier), finish: "stop", n: max(req.N, 1)}
	promptBytes := 0
	lastUser := ""
	for _, m := range req.Messages {
		t := textOf(m.Content)
		promptBytes += len(t)
		if m.Role == "user" {
			lastUser = t
		}
	}
	if name := ex.toolFor(req, lastUser); name != "" {
		p.tool, p.finish = name, "tool_calls"
		p.pieces = argPieces(toolCallArgs)
	} else {
		limit := req.MaxCompletionTokens
		if limit <= 0 {
			limit = req.MaxTokens
		}
		nw := ex.ctl.words
		if limit > 0 && limit < nw {
			nw, p.finish = limit, "length"
		}
		p.pieces = replyPieces(nw)
		if req.ResponseFormat != nil && (req.ResponseFormat.Type == "json_object" || req.ResponseFormat.Type == "json_schema") {
			p.pieces = jsonPieces(p.pieces)
		}
	}
	p.u = newUsage(ex.ctl, req.Model, promptBytes, len(p.pieces)*p.n)
	return p
}

// toolFor picks the function to call: forced by x-fake-tool-call, or when the
// last user message mentions the weather; never with tool_choice "none".
func (ex *exchange) toolFor(req *chatRequest, lastUser string) string {
	if len(req.Tools) == 0 || strings.Contains(string(req.ToolChoice), `"none"`) {
		return ""
	}
	if !ex.ctl.toolCallForced && !strings.Contains(strings.ToLower(lastUser), "weather") {
		return ""
	}
	chosen := req.Tools[0].Function.Name
	for _, t := range req.Tools {
		switch n := t.Function.Name; {
		case n == ex.ctl.toolCall:
			return n
		case strings.Contains(n, "weather") && chosen == req.Tools[0].Function.Name:
			chosen = n
		}
	}
	if chosen == "" {
		chosen = defaultToolName
	}
	return chosen
}

// jsonPieces wraps the reply as {"answer":"..."} for JSON mode.
func jsonPieces(pieces []string) []string {
	out := append([]string{`{"answer":"`}, pieces...)
	return append(out, `"}`)
}

func serviceTier(t string) string {
	switch t {
	case "flex", "priority", "scale":
		return t
	}
	return "default"
}

func (ex *exchange) chat() error {
	var req chatRequest
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		ex.error(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "")
		return nil
	}
	if len(req.Messages) == 0 {
		ex.error(http.StatusBadRequest, "[] is too short - 'messages'", "invalid_request_error", "")
		return nil
	}
	p := ex.planChat(&req)
	if req.Stream {
		return ex.chatStream(&req, p)
	}
	ex.writeJSON(http.StatusOK, ex.chatCompletion(p))
	return nil
}

type chatCompletionJSON struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []choiceJSON  `json:"choices"`
	Usage             chatUsageJSON `json:"usage"`
	ServiceTier       string        `json:"service_tier"`
	SystemFingerprint string        `json:"system_fingerprint"`
}

type choiceJSON struct {
	Index        int         `json:"index"`
	Message      messageJSON `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type messageJSON struct {
	Role        string            `json:"role"`
	Content     *string           `json:"content"`
	ToolCalls   []toolCallJSON    `json:"tool_calls,omitempty"`
	Refusal     *string           `json:"refusal"`
	Annotations []json.RawMessage `json:"annotations"`
}

type toolCallJSON struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function functionJSON `json:"function"`
}

type functionJSON struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

func (ex *exchange) chatCompletion(p plan) chatCompletionJSON {
	out := chatCompletionJSON{
		ID: ex.idFor("chatcmpl-"), Object: "chat.completion", Created: ex.created(), Model: p.model,
		Usage: p.u.chatJSON(), ServiceTier: p.tier, SystemFingerprint: fingerprint,
	}
	for i := range p.n {
		msg := messageJSON{Role: "assistant", Annotations: []json.RawMessage{}}
		if p.tool != "" {
			msg.ToolCalls = []toolCallJSON{{ID: ex.callID(i), Type: "function",
				Function: functionJSON{Name: p.tool, Arguments: toolCallArgs}}}
		} else {
			text := strings.Join(p.pieces, "")
			msg.Content = &text
		}
		out.Choices = append(out.Choices, choiceJSON{Index: i, Message: msg, FinishReason: p.finish})
	}
	return out
}

func (ex *exchange) callID(choice int) string {
	return fmt.Sprintf("call_fake%06d_%d", ex.id, choice)
}

// chatChunkJSON mirrors OpenAI's chat.completion.chunk field order.
type chatChunkJSON struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	ServiceTier       string            `json:"service_tier"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chunkChoiceJSON `json:"choices"`
	Usage             json.RawMessage   `json:"usage,omitempty"`
	Obfuscation       string            `json:"obfuscation,omitempty"`
}

type chunkChoiceJSON struct {
	Index        int       `json:"index"`
	Delta        deltaJSON `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type deltaJSON struct {
	Role      string          `json:"role,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	ToolCalls []toolCallJSON  `json:"tool_calls,omitempty"`
	Refusal   json.RawMessage `json:"refusal,omitempty"`
}

// chatStream writes the role chunk, one chunk per piece, the finish chunk,
// the usage chunk when asked (with "usage":null on every other chunk) and
// data: [DONE].
func (ex *exchange) chatStream(req *chatRequest, p plan) error {
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !ex.ctl.ignoreUsage
	obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil || *req.StreamOptions.IncludeObfuscation
	id, created := ex.idFor("chatcmpl-"), ex.created()
	s := ex.startSSE()
	seq := 0
	emit := func(choices []chunkChoiceJSON, u json.RawMessage) error {
		c := chatChunkJSON{ID: id, Object: "chat.completion.chunk", Created: created, Model: p.model,
			ServiceTier: p.tier, SystemFingerprint: fingerprint, Choices: choices, Usage: u}
		if includeUsage && u == nil {
			c.Usage = json.RawMessage("null")
		}
		if obfuscate {
			c.Obfuscation = obfuscation(seq)
		}
		seq++
		return s.event("", c)
	}
	for i := range p.n {
		d := deltaJSON{Role: "assistant", Content: json.RawMessage(`""`), Refusal: json.RawMessage("null")}
		if p.tool != "" {
			idx := 0
			d.Content = json.RawMessage("null")
			d.ToolCalls = []toolCallJSON{{Index: &idx, ID: ex.callID(i), Type: "function", Function: functionJSON{Name: p.tool}}}
		}
		if err := emit([]chunkChoiceJSON{{Index: i, Delta: d}}, nil); err != nil {
			return err
		}
	}
	for _, piece := range p.pieces {
		for i := range p.n {
			d := deltaJSON{Content: mustJSON(piece)}
			if p.tool != "" {
				idx := 0
				d = deltaJSON{ToolCalls: []toolCallJSON{{Index: &idx, Function: functionJSON{Arguments: piece}}}}
			}
			if err := emit([]chunkChoiceJSON{{Index: i, Delta: d}}, nil); err != nil {
				return err
			}
		}
	}
	for i := range p.n {
		finish := p.finish
		if err := emit([]chunkChoiceJSON{{Index: i, FinishReason: &finish}}, nil); err != nil {
			return err
		}
	}
	if includeUsage {
		if err := emit([]chunkChoiceJSON{}, mustJSON(p.u.chatJSON())); err != nil {
			return err
		}
	}
	return s.done()
}

// obfuscation imitates OpenAI's padding field with a deterministic value.
func obfuscation(seq int) string {
	const letters = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	n := 2 + seq%9
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[(seq*7+i*13)%len(letters)]
	}
	return string(b)
}
