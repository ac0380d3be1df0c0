package fakeopenai

import (
	"encoding/json"
	"strings"
)

// Usage formulas (deterministic; tests should price what the fake REPORTS):
//
//   - prompt tokens = (bytes of all prompt text) / 4 + 7, where prompt text
//     is every message's text content (chat: string contents and the "text"
//     of content parts; responses: input and instructions; completions: the
//     prompt strings; embeddings: the inputs, 4 bytes per token of a token
//     array input), plus the compact JSON of every function or custom tool
//     definition (chat and Responses; tooldefs.go).
//   - visible completion tokens = number of content delta pieces: one per
//     reply word (x-fake-words, default 12, capped by max_tokens /
//     max_completion_tokens / max_output_tokens), JSON mode adds 2 (the
//     opening and closing pieces), a tool call counts its argument pieces.
//     With n > 1 every choice counts.
//   - reasoning tokens = x-fake-reasoning-tokens when given; otherwise 2 ×
//     visible tokens for reasoning models (o1/o3/o4/gpt-5 families), else 0.
//     Like OpenAI, completion/output tokens INCLUDE reasoning tokens.
//   - cached tokens = min(x-fake-cached-tokens, prompt tokens), default 0.
//   - x-fake-prompt-tokens: N replaces the prompt tokens (after every other
//     prompt formula: audio, tools), and caps the cached tokens.
//
// The formulas of the other endpoints (images, audio, built-in tools,
// batches) are in the package documentation (doc.go).
const (
	defaultWords    = 12
	promptOverhead  = 7
	bytesPerToken   = 4
	fingerprint     = "fp_fake0d1ce5"
	argPieceBytes   = 4
	toolCallArgs    = `{"location":"Paris, France","unit":"celsius"}`
	defaultToolName = "get_weather"
)

// words builds every reply; one word is one content delta.
var words = []string{
	"Hello", "from", "the", "fake", "OpenAI", "server", "this", "reply", "is",
	"deterministic", "and", "built", "one", "word", "per", "delta", "so", "usage",
	"can", "be", "checked", "by", "every", "test",
}

// snapshots maps aliases to the dated snapshot OpenAI reports in `model`.
var snapshots = map[string]string{
	"gpt-4o-mini":   "gpt-4o-mini-2024-07-18",
	"gpt-4o":        "gpt-4o-2024-08-06",
	"gpt-4.1":       "gpt-4.1-2025-04-14",
	"gpt-4.1-mini":  "gpt-4.1-mini-2025-04-14",
	"gpt-4.1-nano":  "gpt-4.1-nano-2025-04-14",
	"gpt-4-turbo":   "gpt-4-turbo-2024-04-09",
	"gpt-3.5-turbo": "gpt-3.5-turbo-0125",
	"o1":            "o1-2024-12-17",
	"o3":            "o3-2025-04-16",
	"o3-mini":       "o3-mini-2025-01-31",
	"o4-mini":       "o4-mini-2025-04-16",
	"gpt-5":         "gpt-5-2025-08-07",
	"gpt-5-mini":    "gpt-5-mini-2025-08-07",
	"gpt-5-nano":    "gpt-5-nano-2025-08-07",

	"gpt-4o-audio-preview":       "gpt-4o-audio-preview-2024-12-17",
	"gpt-4o-mini-audio-preview":  "gpt-4o-mini-audio-preview-2024-12-17",
	"gpt-audio":                  "gpt-audio-2025-08-28",
	"gpt-audio-mini":             "gpt-audio-mini-2025-10-06",
	"gpt-4o-search-preview":      "gpt-4o-search-preview-2025-03-11",
	"gpt-4o-mini-search-preview": "gpt-4o-mini-search-preview-2025-03-11",
}

// Snapshot returns the model name the fake reports for a requested model.
func Snapshot(model string) string {
	if s, ok := snapshots[model]; ok {
		return s
	}
	return model
}

func isReasoningModel(model string) bool {
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if model == p || strings.HasPrefix(model, p+"-") {
			return true
		}
	}
	return false
}

// PromptTokens is the fake's prompt token count for the given prompt bytes.
func PromptTokens(promptBytes int) int { return promptBytes/bytesPerToken + promptOverhead }

// usage is one request's token accounting.
type usage struct {
	prompt, cached, completion, reasoning int
	audioIn, audioOut                     int // included in prompt / completion
}

// newUsage applies the documented formulas.
func newUsage(c control, model string, promptBytes, visible int) usage {
	return countUsage(c, model, PromptTokens(promptBytes), visible)
}

// countUsage is newUsage for an already counted prompt (text plus audio or
// tool tokens): x-fake-prompt-tokens replaces it, cached tokens are capped
// by it, and reasoning tokens are added to the visible output.
func countUsage(c control, model string, prompt, visible int) usage {
	if c.promptTokens >= 0 {
		prompt = c.promptTokens
	}
	u := usage{prompt: prompt}
	u.cached = min(max(c.cached, 0), u.prompt)
	switch {
	case c.reasoning >= 0:
		u.reasoning = c.reasoning
	case isReasoningModel(model):
		u.reasoning = 2 * visible
	}
	u.completion = visible + u.reasoning
	return u
}

type chatUsageJSON struct {
	PromptTokens            int                  `json:"prompt_tokens"`
	CompletionTokens        int                  `json:"completion_tokens"`
	TotalTokens             int                  `json:"total_tokens"`
	PromptTokensDetails     promptDetailsJSON    `json:"prompt_tokens_details"`
	CompletionTokensDetails completionDetailJSON `json:"completion_tokens_details"`
}

type promptDetailsJSON struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
}

type completionDetailJSON struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

func (u usage) chatJSON() chatUsageJSON {
	return chatUsageJSON{
		PromptTokens: u.prompt, CompletionTokens: u.completion, TotalTokens: u.prompt + u.completion,
		PromptTokensDetails:     promptDetailsJSON{CachedTokens: u.cached, AudioTokens: u.audioIn},
		CompletionTokensDetails: completionDetailJSON{ReasoningTokens: u.reasoning, AudioTokens: u.audioOut},
	}
}

type responsesUsageJSON struct {
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

func (u usage) responsesJSON() *responsesUsageJSON {
	r := &responsesUsageJSON{InputTokens: u.prompt, OutputTokens: u.completion, TotalTokens: u.prompt + u.completion}
	r.InputTokensDetails.CachedTokens = u.cached
	r.OutputTokensDetails.ReasoningTokens = u.reasoning
	return r
}

// textOf extracts the text of a message content: a string, or the "text" of
// every part of an array.
func textOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

// replyPieces returns the content delta pieces: "Hello", " from", ...
func replyPieces(n int) []string {
	out := make([]string, n)
	for i := range n {
		w := words[i%len(words)]
		if i > 0 {
			w = " " + w
		}
		out[i] = w
	}
	return out
}

// argPieces cuts tool-call arguments into the pieces streamed as deltas.
func argPieces(args string) []string {
	var out []string
	for len(args) > argPieceBytes {
		out = append(out, args[:argPieceBytes])
		args = args[argPieceBytes:]
	}
	if args != "" {
		out = append(out, args)
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
