// Package openaierr is OpenAI's error body, {"error": {"message", "type", "param",
// "code"}}, which every OpenAI SDK parses: the one shape of the gateway's refusals, the
// admin API's errors and what the admin CLI reads back.
package openaierr

// Error is OpenAI's error object. Param and Code are JSON null when unset.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Body is the JSON document of an error answer.
type Body struct {
	Error Error `json:"error"`
}

// New returns the body of an error of errType; code and param "" are null.
func New(errType, code, param, message string) Body {
	e := Error{Message: message, Type: errType}
	if code != "" {
		e.Code = &code
	}
	if param != "" {
		e.Param = &param
	}
	return Body{Error: e}
}
