package fakeopenai

import (
	"encoding/json"
)

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
	Audio     json.RawMessage `json:"audio,omitempty"`
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
		if p.audioFormat != "" {
			d.Content = json.RawMessage("null")
		}
		if p.tool != "" {
			idx := 0
			d.Content = json.RawMessage("null")
			d.ToolCalls = []toolCallJSON{{Index: &idx, ID: ex.callID(i), Type: "function", Function: functionJSON{Name: p.tool}}}
		}
		if err := emit([]chunkChoiceJSON{{Index: i, Delta: d}}, nil); err != nil {
			return err
		}
	}
	// A reasoning model is silent while it thinks: nothing visible before this.
	if err := ex.think(); err != nil {
		return err
	}
	pieces := p.pieces
	if p.audioFormat != "" {
		// The words go out as the audio transcript, not as content.
		pieces = nil
		if err := ex.chatAudioDeltas(p, created, func(i int, audio json.RawMessage) error {
			return emit([]chunkChoiceJSON{{Index: i, Delta: deltaJSON{Audio: audio}}}, nil)
		}); err != nil {
			return err
		}
	}
	for _, piece := range pieces {
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
	if includeUsage && !ex.ctl.omitUsage {
		if err := emit([]chunkChoiceJSON{}, ex.ctl.usageJSON(p.u.chatJSON())); err != nil {
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
