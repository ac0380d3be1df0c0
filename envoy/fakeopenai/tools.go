package fakeopenai

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Built-in Responses tools (package doc): each call item adds what the tool
// fed back to the input and the call itself to the output, so that a meter
// sees both per-call fees and token costs move.
const (
	toolInputTokens  = 100
	toolOutputTokens = 10
)

// toolItems builds the call items for the built-in tools of req.
func (ex *exchange) toolItems(req *responsesRequest, query string) []respItem {
	var out []respItem
	n := 0
	id := func(prefix string) string { n++; return fmt.Sprintf("%s_fake%06d_%d", prefix, ex.id, n) }
	query = strings.TrimSpace(query)
	if len(query) > 100 {
		query = query[:100]
	}
	for _, raw := range req.Tools {
		var t struct {
			Type        string          `json:"type"`
			ServerLabel string          `json:"server_label"`
			Container   json.RawMessage `json:"container"`
		}
		if json.Unmarshal(raw, &t) != nil {
			continue
		}
		kind := toolKind(t.Type)
		if kind == "" {
			continue
		}
		if kind == "mcp" {
			out = append(out, mcpListTools(id("mcpl"), t.ServerLabel))
		}
		for range ex.ctl.toolCalls {
			var it respItem
			switch kind {
			case "web_search":
				it = webSearchCall(id("ws"), query)
			case "file_search":
				it = fileSearchCall(id("fs"), query)
			case "code_interpreter":
				container := fmt.Sprintf("cntr_fake%06d", ex.id)
				_ = json.Unmarshal(t.Container, &container) // a container id given as a string
				it = codeInterpreterCall(id("ci"), container, slices.Contains(req.Include, "code_interpreter_call.outputs"))
			case "image_generation":
				it = imageGenerationCall(id("ig"), query)
			case "computer_use":
				it = computerCall(id("cu"), id("call"))
			case "mcp":
				it = mcpCall(id("mcp"), t.ServerLabel)
			}
			it.billed = true
			out = append(out, it)
		}
	}
	return out
}

func toolKind(typ string) string {
	switch {
	case strings.HasPrefix(typ, "web_search"):
		return "web_search"
	case typ == "file_search", typ == "code_interpreter", typ == "image_generation", typ == "mcp":
		return typ
	case strings.HasPrefix(typ, "computer_use"):
		return "computer_use"
	}
	return ""
}

// progress names the events a call item emits between added and done.
func progress(item string, steps ...string) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = "response." + item + "." + s
	}
	return out
}

type webSearchCallJSON struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Action json.RawMessage `json:"action,omitempty"`
}

func webSearchCall(id, query string) respItem {
	action := orderedJSON(map[string]any{"type": "search", "query": query}, "type", "query")
	return respItem{id: id,
		added:  webSearchCallJSON{ID: id, Type: "web_search_call", Status: "in_progress"},
		done:   webSearchCallJSON{ID: id, Type: "web_search_call", Status: "completed", Action: action},
		events: progress("web_search_call", "in_progress", "searching", "completed")}
}

type fileSearchCallJSON struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	Queries []string        `json:"queries"`
	Results json.RawMessage `json:"results"`
}

func fileSearchCall(id, query string) respItem {
	return respItem{id: id,
		added:  fileSearchCallJSON{ID: id, Type: "file_search_call", Status: "in_progress", Queries: []string{}, Results: nullJSON},
		done:   fileSearchCallJSON{ID: id, Type: "file_search_call", Status: "completed", Queries: []string{query}, Results: nullJSON},
		events: progress("file_search_call", "in_progress", "searching", "completed")}
}

type codeInterpreterCallJSON struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Code        string          `json:"code"`
	ContainerID string          `json:"container_id"`
	Outputs     json.RawMessage `json:"outputs"`
}

func codeInterpreterCall(id, container string, withOutputs bool) respItem {
	outputs := nullJSON
	if withOutputs {
		outputs = json.RawMessage(`[{"type":"logs","logs":"42\n"}]`)
	}
	return respItem{id: id,
		added:  codeInterpreterCallJSON{ID: id, Type: "code_interpreter_call", Status: "in_progress", ContainerID: container, Outputs: nullJSON},
		done:   codeInterpreterCallJSON{ID: id, Type: "code_interpreter_call", Status: "completed", Code: "print(6 * 7)", ContainerID: container, Outputs: outputs},
		events: progress("code_interpreter_call", "in_progress", "interpreting", "completed")}
}

type imageGenerationCallJSON struct {
	ID            string  `json:"id"`
	Type          string  `json:"type"`
	Status        string  `json:"status"`
	Background    string  `json:"background"`
	OutputFormat  string  `json:"output_format"`
	Quality       string  `json:"quality"`
	Size          string  `json:"size"`
	Result        *string `json:"result"`
	RevisedPrompt string  `json:"revised_prompt,omitempty"`
}

func imageGenerationCall(id, prompt string) respItem {
	result := imageB64("png")
	call := imageGenerationCallJSON{ID: id, Type: "image_generation_call", Status: "in_progress",
		Background: "opaque", OutputFormat: "png", Quality: "medium", Size: "1024x1024"}
	done := call
	done.Status, done.Result, done.RevisedPrompt = "completed", &result, prompt
	return respItem{id: id, added: call, done: done,
		events: progress("image_generation_call", "in_progress", "generating", "completed")}
}

type computerCallJSON struct {
	ID                  string            `json:"id"`
	Type                string            `json:"type"`
	Status              string            `json:"status"`
	Action              json.RawMessage   `json:"action"`
	CallID              string            `json:"call_id"`
	PendingSafetyChecks []json.RawMessage `json:"pending_safety_checks"`
}

func computerCall(id, callID string) respItem {
	call := computerCallJSON{ID: id, Type: "computer_call", Status: "in_progress",
		Action: json.RawMessage(`{"type":"screenshot"}`), CallID: callID, PendingSafetyChecks: []json.RawMessage{}}
	done := call
	done.Status = "completed"
	return respItem{id: id, added: call, done: done}
}

type mcpListToolsJSON struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	ServerLabel string            `json:"server_label"`
	Tools       []json.RawMessage `json:"tools"`
	Error       *string           `json:"error"`
}

func mcpListTools(id, label string) respItem {
	added := mcpListToolsJSON{ID: id, Type: "mcp_list_tools", ServerLabel: label, Tools: []json.RawMessage{}}
	done := added
	done.Tools = []json.RawMessage{json.RawMessage(`{"name":"fake_tool","input_schema":{"type":"object","properties":{}},"description":"A tool of the fake MCP server.","annotations":null}`)}
	return respItem{id: id, added: added, done: done, events: progress("mcp_list_tools", "in_progress", "completed")}
}

type mcpCallJSON struct {
	ID                string  `json:"id"`
	Type              string  `json:"type"`
	Status            string  `json:"status"`
	ApprovalRequestID *string `json:"approval_request_id"`
	Arguments         string  `json:"arguments"`
	Error             *string `json:"error"`
	Name              string  `json:"name"`
	Output            *string `json:"output"`
	ServerLabel       string  `json:"server_label"`
}

func mcpCall(id, label string) respItem {
	added := mcpCallJSON{ID: id, Type: "mcp_call", Status: "in_progress", Arguments: "{}", Name: "fake_tool", ServerLabel: label}
	done := added
	out := "ok"
	done.Status, done.Output = "completed", &out
	return respItem{id: id, added: added, done: done, events: progress("mcp_call", "in_progress", "completed")}
}
