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
	Modalities          []string               `json:"modalities"`
	Audio               *struct {
		Voice  string `json:"voice"`
		Format string `json:"format"`
	} `json:"audio"`
	WebSearchOptions json.RawMessage `json:"web_search_options"`
	Store            bool            `json:"store"`
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
	audioFormat         string // set when the reply is spoken (modalities audio)
	search              bool   // web search model: the message cites a source
}

func (ex *exchange) planChat(req *chatRequest) plan {
	p := plan{model: Snapshot(req.Model), tier: serviceTier(req.ServiceTier), finish: "stop", n: max(req.N, 1)}
	promptBytes, audioIn := 0, 0
	lastUser := ""
	for _, m := range req.Messages {
		t := textOf(m.Content)
		promptBytes += len(t)
		audioIn += inputAudioTokens(m.Content)
		if m.Role == "user" {
			lastUser = t
		}
	}
	promptBytes += ToolDefinitionBytes(ex.body)
	p.search = len(req.WebSearchOptions) > 0 || strings.Contains(req.Model, "search-preview")
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
	audioOut := 0
	if p.tool == "" && wantsAudio(req) {
		p.audioFormat = "wav"
		if req.Audio != nil && req.Audio.Format != "" {
			p.audioFormat = req.Audio.Format
		}
		audioOut = audioTokens(speechSamples(strings.Join(p.pieces, ""), 1))
	}
	p.u = countUsage(ex.ctl, req.Model, PromptTokens(promptBytes)+audioIn, (len(p.pieces)+audioOut)*p.n)
	p.u.audioIn, p.u.audioOut = audioIn, audioOut*p.n
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
	if req.Store {
		ex.storeChat(ex.chatCompletion(p))
	}
	if req.Stream {
		return ex.chatStream(&req, p)
	}
	if err := ex.think(); err != nil {
		return err
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
	Audio       *chatAudioJSON    `json:"audio,omitempty"`
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
			if p.search {
				msg.Annotations = []json.RawMessage{urlCitation(len(text))}
			}
			if p.audioFormat != "" {
				msg.Content = nil
				msg.Audio = ex.chatAudio(i, p.audioFormat, text)
			}
		}
		out.Choices = append(out.Choices, choiceJSON{Index: i, Message: msg, FinishReason: p.finish})
	}
	return out
}

func (ex *exchange) callID(choice int) string {
	return fmt.Sprintf("call_fake%06d_%d", ex.id, choice)
}
