package usage

// The fast decoders of the wire structs of request_wire.go. Each list of
// names holds the JSON names of its struct's fields (TestFastNames keeps
// them in step with the struct tags).

var (
	commonNames      = []string{"model", "stream", "stream_options", "service_tier"}
	chatNames        = append(commonNames[:len(commonNames):len(commonNames)], "max_tokens", "max_completion_tokens", "n", "messages", "tools", "functions", "response_format", "modalities", "web_search_options", "prediction")
	completionsNames = append(commonNames[:len(commonNames):len(commonNames)], "max_tokens", "max_completion_tokens", "n", "best_of", "prompt")
	embeddingsNames  = append(commonNames[:len(commonNames):len(commonNames)], "input")
	responsesNames   = append(commonNames[:len(commonNames):len(commonNames)], "max_output_tokens", "instructions", "input", "tools", "previous_response_id", "conversation", "max_tool_calls", "background", "text")
	messageNames     = []string{"role", "name", "content", "refusal", "tool_calls", "function_call"}
	functionNames    = []string{"name", "arguments"}
	toolCallNames    = []string{"function"}
	includeNames     = []string{"include_usage"}
	searchNames      = []string{"search_context_size"}
	predictionNames  = []string{"content"}
)

// decodeFast reads a field of commonFields; false when name is another field.
func (c *commonFields) decodeFast(d *fastDec, name string) bool {
	switch name {
	case "model":
		d.strPtr(&c.Model)
	case "stream":
		d.boolPtr(&c.Stream)
	case "stream_options":
		fastObject(d, &c.StreamOptions, includeNames, func(o *streamOptions, _ string) { d.boolPtr(&o.IncludeUsage) })
	case "service_tier":
		d.strPtr(&c.ServiceTier)
	default:
		return false
	}
	return true
}

func (c *commonFields) fast(d *fastDec) {
	d.members(commonNames, func(name string) { c.decodeFast(d, name) })
}

func (w *chatRequest) fast(d *fastDec) {
	d.members(chatNames, func(name string) {
		switch {
		case w.decodeFast(d, name):
		case name == "max_tokens":
			d.intPtr(&w.MaxTokens)
		case name == "max_completion_tokens":
			d.intPtr(&w.MaxCompletionTokens)
		case name == "n":
			d.intPtr(&w.N)
		case name == "messages":
			fastSlice(d, &w.Messages, func(m *chatMessage) { fastStruct(d, messageNames, func(name string) { m.fast(d, name) }) })
		case name == "tools":
			d.custom(w.Tools.UnmarshalJSON)
		case name == "functions":
			d.custom(w.Functions.UnmarshalJSON)
		case name == "response_format":
			d.custom(w.ResponseFormat.UnmarshalJSON)
		case name == "modalities":
			fastSlice(d, &w.Modalities, func(t *looseText) { d.custom(t.UnmarshalJSON) })
		case name == "web_search_options":
			fastObject(d, &w.WebSearchOptions, searchNames, func(o *webSearchOptions, _ string) { d.custom(o.SearchContextSize.UnmarshalJSON) })
		case name == "prediction":
			fastObject(d, &w.Prediction, predictionNames, func(p *prediction, _ string) { d.custom(p.Content.UnmarshalJSON) })
		}
	})
}

// fastStruct reads an array element that is a struct: null leaves it zero.
func fastStruct(d *fastDec, names []string, field func(name string)) {
	switch d.peek() {
	case 'n':
		d.literal("null")
	case '{':
		d.nested(func() { d.members(names, field) })
	default:
		d.bad = true
	}
}

func (m *chatMessage) fast(d *fastDec, name string) {
	switch name {
	case "role":
		d.custom(m.Role.UnmarshalJSON)
	case "name":
		d.custom(m.Name.UnmarshalJSON)
	case "content":
		d.custom(m.Content.UnmarshalJSON)
	case "refusal":
		d.custom(m.Refusal.UnmarshalJSON)
	case "tool_calls":
		fastSlice(d, &m.ToolCalls, func(tc *toolCall) {
			fastStruct(d, toolCallNames, func(string) { fastObject(d, &tc.Function, functionNames, functionFields(d)) })
		})
	case "function_call":
		fastObject(d, &m.FunctionCall, functionNames, functionFields(d))
	}
}

// functionFields reads the fields of a functionCall for fastObject.
func functionFields(d *fastDec) func(f *functionCall, name string) {
	return func(f *functionCall, name string) {
		if name == "name" {
			d.custom(f.Name.UnmarshalJSON)
		} else {
			d.custom(f.Arguments.UnmarshalJSON)
		}
	}
}

func (w *completionsRequest) fast(d *fastDec) {
	d.members(completionsNames, func(name string) {
		switch {
		case w.decodeFast(d, name):
		case name == "max_tokens":
			d.intPtr(&w.MaxTokens)
		case name == "max_completion_tokens":
			d.intPtr(&w.MaxCompletionTokens)
		case name == "n":
			d.intPtr(&w.N)
		case name == "best_of":
			d.intPtr(&w.BestOf)
		case name == "prompt":
			d.custom(w.Prompt.UnmarshalJSON)
		}
	})
}

func (w *embeddingsRequest) fast(d *fastDec) {
	d.members(embeddingsNames, func(name string) {
		if !w.decodeFast(d, name) {
			d.custom(w.Input.UnmarshalJSON)
		}
	})
}

func (w *responsesRequest) fast(d *fastDec) {
	d.members(responsesNames, func(name string) {
		switch {
		case w.decodeFast(d, name):
		case name == "max_output_tokens":
			d.intPtr(&w.MaxOutputTokens)
		case name == "instructions":
			d.custom(w.Instructions.UnmarshalJSON)
		case name == "input":
			d.custom(w.Input.UnmarshalJSON)
		case name == "tools":
			d.custom(w.Tools.UnmarshalJSON)
		case name == "previous_response_id":
			d.custom(w.PreviousResponseID.UnmarshalJSON)
		case name == "conversation":
			d.custom(w.Conversation.UnmarshalJSON)
		case name == "max_tool_calls":
			d.intPtr(&w.MaxToolCalls)
		case name == "background":
			d.boolPtr(&w.Background)
		case name == "text":
			d.custom(w.Text.UnmarshalJSON)
		}
	})
}

// decodeRequest fills w from body: on the fast path when it can, else (from
// a zero w) with encoding/json, whose errors decodeBody reports.
func decodeRequest[T any](body []byte, w *T, fast func(d *fastDec)) error {
	if decodeFast(body, fast) {
		return nil
	}
	*w = *new(T)
	return decodeBody(body, w)
}
