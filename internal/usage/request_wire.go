package usage

import (
	"fmt"
	"slices"
	"strings"
)

// commonFields are read for every endpoint. Pointers tell "absent" from zero.
type commonFields struct {
	Model         *string        `json:"model"`
	Stream        *bool          `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
	ServiceTier   *string        `json:"service_tier"`
}

type streamOptions struct {
	IncludeUsage *bool `json:"include_usage"`
}

func (c *commonFields) fill(r *Request, needModel bool) error {
	if c.Model != nil {
		r.Model = *c.Model
	}
	if needModel && r.Model == "" {
		return fmt.Errorf("%w: field \"model\" is missing", ErrBadRequest)
	}
	r.Stream = c.Stream != nil && *c.Stream
	r.IncludeUsage = c.StreamOptions != nil && c.StreamOptions.IncludeUsage != nil && *c.StreamOptions.IncludeUsage
	if c.ServiceTier != nil {
		r.ServiceTier = *c.ServiceTier
	}
	r.N = 1
	return nil
}

// nonNegative returns *v, or 0 when absent, refusing negative limits that
// would turn a cost estimate negative.
func nonNegative(name string, v *int64) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 0 {
		return 0, fmt.Errorf("%w: field %q must not be negative, got %d", ErrBadRequest, name, *v)
	}
	return *v, nil
}

// outputLimit applies the chat/completions precedence: max_completion_tokens
// (the current name) wins over the deprecated max_tokens.
func outputLimit(maxCompletion, maxTokens *int64) (int64, error) {
	if maxCompletion != nil {
		return nonNegative("max_completion_tokens", maxCompletion)
	}
	return nonNegative("max_tokens", maxTokens)
}

func choiceCount(n *int64) (int64, error) {
	if n == nil {
		return 1, nil
	}
	if *n < 1 {
		return 0, fmt.Errorf("%w: field \"n\" must be at least 1, got %d", ErrBadRequest, *n)
	}
	return *n, nil
}

type chatRequest struct {
	commonFields
	MaxTokens           *int64        `json:"max_tokens"`
	MaxCompletionTokens *int64        `json:"max_completion_tokens"`
	N                   *int64        `json:"n"`
	Messages            []chatMessage `json:"messages"`
	Tools               rawJSON       `json:"tools"`
	Functions           rawJSON       `json:"functions"`
	// ResponseFormat's JSON schema is part of the prompt OpenAI bills.
	ResponseFormat   rawJSON           `json:"response_format"`
	Modalities       []looseText       `json:"modalities"`
	WebSearchOptions *webSearchOptions `json:"web_search_options"`
	Prediction       *prediction       `json:"prediction"`
}

type prediction struct {
	Content content `json:"content"`
}

type webSearchOptions struct {
	SearchContextSize looseText `json:"search_context_size"`
}

type chatMessage struct {
	Role         roleName      `json:"role"`
	Name         looseText     `json:"name"`
	Content      content       `json:"content"`
	Refusal      looseText     `json:"refusal"`
	ToolCalls    []toolCall    `json:"tool_calls"`
	FunctionCall *functionCall `json:"function_call"`
}

type toolCall struct {
	Function *functionCall `json:"function"`
}

type functionCall struct {
	Name      looseText `json:"name"`
	Arguments looseText `json:"arguments"`
}

func (w *chatRequest) fill(r *Request, p *prompt) (err error) {
	if err := w.commonFields.fill(r, true); err != nil {
		return err
	}
	if r.MaxOutputTokens, err = outputLimit(w.MaxCompletionTokens, w.MaxTokens); err != nil {
		return err
	}
	if r.N, err = choiceCount(w.N); err != nil {
		return err
	}
	for i := range w.Messages {
		m := &w.Messages[i]
		p.message()
		if m.Name != "" {
			p.overhead++ // OpenAI's cookbook: one token per name
			p.text(string(m.Name))
		}
		m.Content.addTo(p)
		p.text(string(m.Refusal))
		for _, tc := range m.ToolCalls {
			tc.Function.addTo(p)
		}
		m.FunctionCall.addTo(p)
	}
	p.reply()
	p.text(string(w.Tools))
	p.text(string(w.Functions))
	p.text(string(w.ResponseFormat))
	for _, m := range w.Modalities {
		if m == "audio" {
			r.AudioOutput = true
		}
	}
	if w.WebSearchOptions != nil {
		r.WebSearch, r.SearchContextSize = true, string(w.WebSearchOptions.SearchContextSize)
	}
	if w.Prediction != nil {
		var pp prompt
		w.Prediction.Content.addTo(&pp)
		r.PredictionTokens = int64(pp.bytes) // a token is at least one byte
	}
	return nil
}

func (f *functionCall) addTo(p *prompt) {
	if f != nil {
		p.text(string(f.Name))
		p.text(string(f.Arguments))
	}
}

type completionsRequest struct {
	commonFields
	MaxTokens           *int64      `json:"max_tokens"`
	MaxCompletionTokens *int64      `json:"max_completion_tokens"`
	N                   *int64      `json:"n"`
	BestOf              *int64      `json:"best_of"`
	Prompt              promptField `json:"prompt"`
}

func (w *completionsRequest) fill(r *Request, p *prompt) (err error) {
	if err := w.commonFields.fill(r, true); err != nil {
		return err
	}
	if r.MaxOutputTokens, err = outputLimit(w.MaxCompletionTokens, w.MaxTokens); err != nil {
		return err
	}
	if r.N, err = choiceCount(w.N); err != nil {
		return err
	}
	if w.BestOf != nil && *w.BestOf > r.N {
		r.N = *w.BestOf
	}
	w.Prompt.addTo(p)
	return nil
}

type embeddingsRequest struct {
	commonFields
	Input inputField `json:"input"`
}

func (w *embeddingsRequest) fill(r *Request, p *prompt) error {
	if err := w.commonFields.fill(r, true); err != nil {
		return err
	}
	r.Stream, r.IncludeUsage = false, false
	r.Inputs = w.Input.inputs
	w.Input.addTo(p)
	return nil
}

type responsesRequest struct {
	commonFields
	MaxOutputTokens    *int64         `json:"max_output_tokens"`
	Instructions       content        `json:"instructions"`
	Input              respInput      `json:"input"`
	Tools              respTools      `json:"tools"`
	PreviousResponseID looseText      `json:"previous_response_id"`
	Conversation       conversationID `json:"conversation"`
	MaxToolCalls       *int64         `json:"max_tool_calls"`
	Background         *bool          `json:"background"`
	// Text holds the output format's JSON schema, part of the billed prompt.
	Text rawJSON `json:"text"`
}

// respTools keeps the tools' JSON (counted as prompt text) and the built-in tool types.
type respTools struct {
	raw     rawJSON
	builtin []string
	context string // web_search search_context_size
	memory  string // code_interpreter container memory_limit
}

func (t *respTools) UnmarshalJSON(b []byte) error {
	if err := t.raw.UnmarshalJSON(b); err != nil {
		return err
	}
	if firstByte(b) != '[' {
		return nil
	}
	eachElement(b, func(e []byte) {
		if firstByte(e) != '{' {
			return
		}
		var typ, size, memory string
		eachMember(e, func(m member, v []byte) {
			switch {
			case m.keyIs(e, "type"):
				typ = decodeLoose(v)
			case m.keyIs(e, "search_context_size"):
				size = decodeLoose(v)
			case m.keyIs(e, "container") && firstByte(v) == '{':
				eachMember(v, func(cm member, cv []byte) {
					if cm.keyIs(v, "memory_limit") {
						memory = decodeLoose(cv)
					}
				})
			}
		})
		if typ == "code_interpreter" && memory != "" {
			t.memory = memory
		}
		if typ == "" || typ == "function" || typ == "custom" {
			return
		}
		if strings.HasPrefix(typ, "web_search") && size != "" {
			t.context = size
		}
		if !slices.Contains(t.builtin, typ) {
			t.builtin = append(t.builtin, typ)
		}
	})
	return nil
}

// conversationID is "conv_…" or {"id": "conv_…"}.
type conversationID string

func (c *conversationID) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case '"':
		*c = conversationID(decodeLoose(b))
	case '{':
		eachMember(b, func(m member, v []byte) {
			if m.keyIs(b, "id") {
				*c = conversationID(decodeLoose(v))
			}
		})
	}
	return nil
}

func (w *responsesRequest) fill(r *Request, p *prompt) (err error) {
	if err := w.commonFields.fill(r, true); err != nil {
		return err
	}
	r.IncludeUsage = true // response.completed always carries usage
	if r.MaxOutputTokens, err = nonNegative("max_output_tokens", w.MaxOutputTokens); err != nil {
		return err
	}
	if w.Instructions.present() {
		p.message()
		w.Instructions.addTo(p)
	}
	if w.Input.isText {
		p.message()
		p.text(w.Input.text)
	}
	for i := range w.Input.items {
		it := &w.Input.items[i]
		p.message()
		it.content.addTo(p)
		p.text(it.name)
		p.text(it.arguments)
		it.output.addTo(p)
		it.summary.addTo(p)
	}
	p.reply()
	p.text(string(w.Tools.raw))
	p.text(string(w.Text))
	r.BuiltinTools, r.SearchContextSize, r.ContainerMemory = w.Tools.builtin, w.Tools.context, w.Tools.memory
	if r.MaxToolCalls, err = nonNegative("max_tool_calls", w.MaxToolCalls); err != nil {
		return err
	}
	r.Background = w.Background != nil && *w.Background
	r.PreviousResponseID, r.ConversationID = string(w.PreviousResponseID), string(w.Conversation)
	if r.PreviousResponseID != "" || r.ConversationID != "" {
		p.unbounded = true
	}
	return nil
}
