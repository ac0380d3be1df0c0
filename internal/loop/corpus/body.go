package corpus

import (
	"encoding/json"
	"math/rand/v2"
)

// A conversation is kept abstractly and rendered as a chat-completions or a
// Responses request body, the way the OpenAI SDKs serialise them.

// msg is one conversation item.
type msg struct {
	role   string // system, user, assistant, tool
	text   string
	calls  []call // assistant tool calls
	callID string // tool: the call answered
}

type call struct{ id, name, args string }

// tool is a function tool definition.
type tool struct {
	name, desc string
	params     map[string]any
}

// api selects the rendering.
type api int

const (
	apiChat      api = iota
	apiResponses     // stateless: the whole input every time
	apiStateful      // Responses with previous_response_id: only new items
)

func (a api) endpoint() string {
	if a == apiChat {
		return EndpointChat
	}
	return EndpointResponses
}

// convo renders successive requests of one conversation.
type convo struct {
	api    api
	model  string
	msgs   []msg
	tools  []tool
	params map[string]any // extra top-level fields: temperature, stream, …
	sent   int            // stateful: items already sent
	prevID string         // stateful: previous response id
}

func params(rng *rand.Rand) map[string]any {
	p := map[string]any{}
	if rng.IntN(3) == 0 {
		p["temperature"] = []float64{0, 0.2, 0.7, 1}[rng.IntN(4)]
	}
	if rng.IntN(3) == 0 {
		p["stream"] = true
	}
	if rng.IntN(4) == 0 {
		p["user"] = id(rng, "u_", 10)
	}
	return p
}

// body renders the request for the conversation so far.
func (c *convo) body(rng *rand.Rand) json.RawMessage {
	b := map[string]any{"model": c.model}
	for k, v := range c.params {
		b[k] = v
	}
	switch c.api {
	case apiChat:
		var ms []any
		for _, m := range c.msgs {
			ms = append(ms, chatMsg(m))
		}
		b["messages"] = ms
		if stream, _ := c.params["stream"].(bool); stream && rng.IntN(2) == 0 {
			b["stream_options"] = map[string]any{"include_usage": true}
		}
		if len(c.tools) > 0 {
			var ts []any
			for _, t := range c.tools {
				ts = append(ts, map[string]any{"type": "function", "function": map[string]any{"name": t.name, "description": t.desc, "parameters": t.params}})
			}
			b["tools"] = ts
			b["tool_choice"] = "auto"
		}
	default:
		from := 0
		if c.api == apiStateful && c.sent > 0 {
			from = c.sent
			b["previous_response_id"] = c.prevID
		}
		var input []any
		if len(c.msgs) > 0 && c.msgs[0].role == "system" {
			b["instructions"] = c.msgs[0].text // re-sent every time, also when stateful
		}
		for _, m := range c.msgs[from:] {
			if m.role == "system" {
				continue
			}
			if from > 0 && m.role == "assistant" {
				continue // the model's own items are stored with the previous response
			}
			input = append(input, respItems(rng, m)...)
		}
		b["input"] = input
		if len(c.tools) > 0 {
			var ts []any
			for _, t := range c.tools {
				ts = append(ts, map[string]any{"type": "function", "name": t.name, "description": t.desc, "parameters": t.params})
			}
			b["tools"] = ts
		}
		if c.api == apiStateful {
			c.sent = len(c.msgs)
			c.prevID = "resp_" + hexID(rng, 48)
			b["store"] = true
		}
	}
	raw, _ := json.Marshal(b) // cannot fail: strings, numbers, bools, maps and slices only
	return raw
}

func chatMsg(m msg) map[string]any {
	o := map[string]any{"role": m.role}
	switch {
	case m.role == "tool":
		o["tool_call_id"] = m.callID
		o["content"] = m.text
	case len(m.calls) > 0:
		if m.text != "" {
			o["content"] = m.text
		} else {
			o["content"] = nil
		}
		var tcs []any
		for _, c := range m.calls {
			tcs = append(tcs, map[string]any{"id": c.id, "type": "function", "function": map[string]any{"name": c.name, "arguments": c.args}})
		}
		o["tool_calls"] = tcs
	default:
		o["content"] = m.text
	}
	return o
}

func respItems(rng *rand.Rand, m msg) []any {
	switch m.role {
	case "tool":
		return []any{map[string]any{"type": "function_call_output", "call_id": m.callID, "output": m.text}}
	case "assistant":
		var out []any
		if rng.IntN(3) == 0 { // reasoning models echo their reasoning item
			out = append(out, map[string]any{"type": "reasoning", "id": "rs_" + hexID(rng, 40), "summary": []any{}, "encrypted_content": "gAAAAA" + id(rng, "", 120)})
		}
		if m.text != "" {
			out = append(out, map[string]any{"type": "message", "role": "assistant", "id": "msg_" + hexID(rng, 40),
				"content": []any{map[string]any{"type": "output_text", "text": m.text, "annotations": []any{}}}})
		}
		for _, c := range m.calls {
			out = append(out, map[string]any{"type": "function_call", "id": "fc_" + hexID(rng, 40), "call_id": c.id, "name": c.name, "arguments": c.args})
		}
		return out
	default:
		if rng.IntN(2) == 0 {
			return []any{map[string]any{"role": m.role, "content": m.text}}
		}
		return []any{map[string]any{"type": "message", "role": m.role, "content": []any{map[string]any{"type": "input_text", "text": m.text}}}}
	}
}

// argsJSON renders tool arguments as the model emits them.
func argsJSON(kv ...any) string {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	raw, _ := json.Marshal(m) // cannot fail: strings and numbers only
	return string(raw)
}

func callID(rng *rand.Rand) string { return id(rng, "call_", 24) }

// schema builds a JSON schema of string properties.
func schema(props ...string) map[string]any {
	p := map[string]any{}
	for _, name := range props {
		p[name] = map[string]any{"type": "string"}
	}
	return map[string]any{"type": "object", "properties": p, "required": props}
}
