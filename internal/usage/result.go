package usage

import (
	"encoding/json"
	"math"
)

// Usage is the exact (or estimated) token usage of one response. PromptTokens includes
// the cached, cache-write, audio and image prompt tokens; CompletionTokens includes the
// reasoning, audio and image output tokens (OpenAI's usage objects count them so).
type Usage struct {
	PromptTokens, CachedTokens, CompletionTokens, ReasoningTokens int64
	CacheWriteTokens, AudioPromptTokens, ImagePromptTokens        int64
	AudioCompletionTokens, ImageCompletionTokens                  int64
	// AudioMillis is the billed audio duration of a transcription usage of
	// type "duration" (whisper-1), in milliseconds.
	AudioMillis int64
	// Invalid: a count was negative, not a number or absurd (past 1e15); it
	// reads as 0 above, and the usage as a whole cannot be trusted.
	Invalid bool
}

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
	// ResponseID and Status are a Responses object's id and status
	// ("queued", "in_progress", "completed", "incomplete", "cancelled",
	// "failed"); "" elsewhere.
	ResponseID, Status string
	// ToolCalls are the built-in tool calls of a Responses result.
	ToolCalls ToolCalls
	// Tools are the types of the tools a Responses object declares, and Memory
	// its code_interpreter container's memory_limit: a fetched background
	// response's fees follow the tools its create asked for.
	Tools  []string
	Memory string
}

// ToolCalls counts the built-in tool calls in a Responses output, which OpenAI bills
// per call (web and file search) or per container (code interpreter) on top of tokens.
type ToolCalls struct {
	WebSearch, FileSearch, CodeInterpreter, ImageGeneration, Computer, MCP int64
	// Containers counts the distinct code-interpreter containers the output used.
	Containers int64
}

// count adds one output item of type typ.
func (c *ToolCalls) count(typ string) {
	switch typ {
	case "web_search_call":
		c.WebSearch++
	case "file_search_call":
		c.FileSearch++
	case "code_interpreter_call":
		c.CodeInterpreter++
	case "image_generation_call":
		c.ImageGeneration++
	case "computer_call":
		c.Computer++
	case "mcp_call":
		c.MCP++
	}
}

// atLeast returns, field by field, the larger of c and o (items are announced by an
// "added" event and again by a "done" one; each is counted once), with the containers,
// which are counted once wherever first seen, summed.
func (c ToolCalls) atLeast(o ToolCalls) ToolCalls {
	return ToolCalls{
		WebSearch: max(c.WebSearch, o.WebSearch), FileSearch: max(c.FileSearch, o.FileSearch),
		CodeInterpreter: max(c.CodeInterpreter, o.CodeInterpreter), ImageGeneration: max(c.ImageGeneration, o.ImageGeneration),
		Computer: max(c.Computer, o.Computer), MCP: max(c.MCP, o.MCP), Containers: c.Containers + o.Containers,
	}
}

func (c *ToolCalls) add(o ToolCalls) {
	c.WebSearch += o.WebSearch
	c.FileSearch += o.FileSearch
	c.CodeInterpreter += o.CodeInterpreter
	c.ImageGeneration += o.ImageGeneration
	c.Computer += o.Computer
	c.MCP += o.MCP
	c.Containers += o.Containers
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
	Seconds                 *float64     `json:"seconds"`
	PromptTokensDetails     *wireDetails `json:"prompt_tokens_details"`
	CompletionTokensDetails *wireDetails `json:"completion_tokens_details"`
	InputTokensDetails      *wireDetails `json:"input_tokens_details"`
	InputTokenDetails       *wireDetails `json:"input_token_details"` // transcription usage
	OutputTokensDetails     *wireDetails `json:"output_tokens_details"`
}

type wireDetails struct {
	CachedTokens    *float64 `json:"cached_tokens"`
	ReasoningTokens *float64 `json:"reasoning_tokens"`
	AudioTokens     *float64 `json:"audio_tokens"`
	ImageTokens     *float64 `json:"image_tokens"`
	// The prompt-cache write count has no settled name in OpenAI's usage yet; both
	// spellings in use are read.
	CacheWriteTokens    *float64 `json:"cache_write_tokens"`
	CacheCreationTokens *float64 `json:"cache_creation_tokens"`
}

// decodeUsage decodes a captured usage value. ok is false for null, for
// anything that is not a usage object, and for an object without counts.
func decodeUsage(raw []byte) (u Usage, ok bool, err error) {
	if string(raw) == "null" {
		return Usage{}, false, nil
	}
	var w wireUsage
	var d usageDecoder
	var dets [len(usageKeys) - firstDetail]wireDetails
	if fastUsage(raw, &d) {
		for k := range dets {
			dets[k] = wireDetails{CachedTokens: d.ptr(detailNum(k, 0)), ReasoningTokens: d.ptr(detailNum(k, 1)), AudioTokens: d.ptr(detailNum(k, 2)),
				ImageTokens: d.ptr(detailNum(k, 3)), CacheWriteTokens: d.ptr(detailNum(k, 4)), CacheCreationTokens: d.ptr(detailNum(k, 5))}
		}
		w = wireUsage{PromptTokens: d.ptr(0), CompletionTokens: d.ptr(1), InputTokens: d.ptr(2), OutputTokens: d.ptr(3), TotalTokens: d.ptr(4), Seconds: d.ptr(5),
			PromptTokensDetails: d.det(&dets, 0), CompletionTokensDetails: d.det(&dets, 1), InputTokensDetails: d.det(&dets, 2),
			InputTokenDetails: d.det(&dets, 3), OutputTokensDetails: d.det(&dets, 4)}
	} else {
		// declared here so that only this path allocates
		var jw wireUsage
		if err := json.Unmarshal(raw, &jw); err != nil {
			return Usage{}, false, err
		}
		w = jw
	}
	u, ok = usageOf(&w)
	return u, ok, nil
}

// usageOf reads the counts of a decoded usage object; ok as decodeUsage's.
func usageOf(w *wireUsage) (u Usage, ok bool) {
	u.Invalid = w.invalid()
	prompt := first(w.PromptTokens, w.InputTokens)
	completion := first(w.CompletionTokens, w.OutputTokens)
	if w.Seconds != nil && prompt == nil && completion == nil {
		// Transcription usage of type "duration": seconds of audio.
		if s := *w.Seconds; s > 0 && s < 1e9 {
			u.AudioMillis = int64(math.Ceil(s * 1000))
		}
		return u, true
	}
	if prompt == nil && completion == nil {
		if w.TotalTokens == nil {
			return Usage{}, false
		}
		prompt = w.TotalTokens
	}
	u.PromptTokens = count(prompt)
	u.CompletionTokens = count(completion)
	for _, d := range []*wireDetails{w.PromptTokensDetails, w.InputTokensDetails, w.InputTokenDetails} {
		if d == nil {
			continue
		}
		setCount(&u.CachedTokens, d.CachedTokens)
		setCount(&u.AudioPromptTokens, d.AudioTokens)
		setCount(&u.ImagePromptTokens, d.ImageTokens)
		setCount(&u.CacheWriteTokens, first(d.CacheWriteTokens, d.CacheCreationTokens))
	}
	for _, d := range []*wireDetails{w.CompletionTokensDetails, w.OutputTokensDetails} {
		if d == nil {
			continue
		}
		setCount(&u.ReasoningTokens, d.ReasoningTokens)
		setCount(&u.AudioCompletionTokens, d.AudioTokens)
		setCount(&u.ImageCompletionTokens, d.ImageTokens)
	}
	return u, true
}

// invalid reports a count that count would read as 0 without being 0: a
// negative, NaN or absurd number (the upstream's usage is a lie).
func (w *wireUsage) invalid() bool {
	bad := func(fs ...*float64) bool {
		for _, f := range fs {
			if f != nil && (*f < 0 || math.IsNaN(*f) || *f > 1e15) {
				return true
			}
		}
		return false
	}
	if bad(w.PromptTokens, w.CompletionTokens, w.InputTokens, w.OutputTokens, w.TotalTokens, w.Seconds) {
		return true
	}
	for _, d := range []*wireDetails{w.PromptTokensDetails, w.CompletionTokensDetails, w.InputTokensDetails, w.InputTokenDetails, w.OutputTokensDetails} {
		if d != nil && bad(d.CachedTokens, d.ReasoningTokens, d.AudioTokens, d.ImageTokens, d.CacheWriteTokens, d.CacheCreationTokens) {
			return true
		}
	}
	return false
}

func setCount(dst *int64, f *float64) {
	if f != nil {
		*dst = count(f)
	}
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
