package usage

import (
	"encoding/json"
	"math"
)

// Usage is the exact (or estimated) token usage of one response.
type Usage struct{ PromptTokens, CachedTokens, CompletionTokens, ReasoningTokens int64 }

// Result is what a Meter learned from a response so far.
type Result struct {
	Usage    Usage
	HasUsage bool   // exact usage was seen in the response
	Model    string // the response's model (dated snapshot), "" if none seen
	// ServiceTier is the response's service_tier, if present.
	ServiceTier string
	// OutputTokens is the tiktoken count of the output streamed so far (text
	// deltas, tool-call names and arguments, refusals; for non-streaming
	// bodies the returned text), for settling when usage is missing or the
	// stream was cut. It is 0 once HasUsage: the output is then not counted,
	// Usage being authoritative.
	OutputTokens int64
	// Complete: the response ended normally ([DONE], a terminal Responses
	// event - response.completed, .incomplete or .failed - or a complete
	// JSON document).
	Complete bool
	// Malformed counts events (or a body) that could not be parsed and were
	// skipped.
	Malformed int
}

// wireUsage accepts both usage shapes: chat/completions/embeddings
// (prompt_/completion_tokens) and Responses (input_/output_tokens). Counts are
// read as numbers so that a float such as 12.0 from a compatible server still
// counts.
type wireUsage struct {
	PromptTokens            *float64     `json:"prompt_tokens"`
	CompletionTokens        *float64     `json:"completion_tokens"`
	InputTokens             *float64     `json:"input_tokens"`
	OutputTokens            *float64     `json:"output_tokens"`
	TotalTokens             *float64     `json:"total_tokens"`
	PromptTokensDetails     *wireDetails `json:"prompt_tokens_details"`
	CompletionTokensDetails *wireDetails `json:"completion_tokens_details"`
	InputTokensDetails      *wireDetails `json:"input_tokens_details"`
	OutputTokensDetails     *wireDetails `json:"output_tokens_details"`
}

type wireDetails struct {
	CachedTokens    *float64 `json:"cached_tokens"`
	ReasoningTokens *float64 `json:"reasoning_tokens"`
}

// decodeUsage decodes a captured usage value. ok is false for null, for
// anything that is not a usage object, and for an object without counts.
func decodeUsage(raw []byte) (u Usage, ok bool, err error) {
	if string(raw) == "null" {
		return Usage{}, false, nil
	}
	var w wireUsage
	if err := json.Unmarshal(raw, &w); err != nil {
		return Usage{}, false, err
	}
	prompt := first(w.PromptTokens, w.InputTokens)
	completion := first(w.CompletionTokens, w.OutputTokens)
	if prompt == nil && completion == nil {
		if w.TotalTokens == nil {
			return Usage{}, false, nil
		}
		prompt = w.TotalTokens
	}
	u.PromptTokens = count(prompt)
	u.CompletionTokens = count(completion)
	for _, d := range []*wireDetails{w.PromptTokensDetails, w.InputTokensDetails} {
		if d != nil && d.CachedTokens != nil {
			u.CachedTokens = count(d.CachedTokens)
		}
	}
	for _, d := range []*wireDetails{w.CompletionTokensDetails, w.OutputTokensDetails} {
		if d != nil && d.ReasoningTokens != nil {
			u.ReasoningTokens = count(d.ReasoningTokens)
		}
	}
	return u, true, nil
}

func first(a, b *float64) *float64 {
	if a != nil {
		return a
	}
	return b
}

// count turns a wire count into a token count, refusing negative, NaN and
// absurd values rather than letting them corrupt a ledger.
func count(f *float64) int64 {
	if f == nil || !(*f > 0) || *f > 1e15 {
		return 0
	}
	return int64(math.Round(*f))
}
