package fakeopenai

import (
	"bytes"
	"encoding/json"
)

// Tool definitions are billed like OpenAI bills them: as prompt tokens. The
// fake counts the compact JSON of every function (or custom) tool
// definition of the request as prompt text, so PromptTokens(text bytes +
// tool definition bytes) — a meter that forgets the tools reserves too
// little, and an SDK test can compute the cost from the body the fake
// received whatever whitespace the SDK serialised.

// chatToolsOnly reads the raw tool definitions of a chat request.
type chatToolsOnly struct {
	Tools []json.RawMessage `json:"tools"`
}

// toolDefinitionBytes is the number of prompt bytes the tool definitions add.
func toolDefinitionBytes(tools []json.RawMessage) int {
	n := 0
	for _, raw := range tools {
		var t struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &t) != nil || (t.Type != "function" && t.Type != "custom") {
			continue // built-in tools are billed per call (tools.go)
		}
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			continue
		}
		n += b.Len()
	}
	return n
}

// ToolDefinitionBytes is what the fake adds to a request's prompt bytes for
// the tools array of a chat or Responses request body (0 when none), for
// tests that compute the expected usage from the body the fake received.
func ToolDefinitionBytes(body []byte) int {
	var req chatToolsOnly
	if json.Unmarshal(body, &req) != nil {
		return 0
	}
	return toolDefinitionBytes(req.Tools)
}
