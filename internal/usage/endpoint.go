package usage

import "strings"

// Endpoint is an OpenAI API operation whose traffic Proxide meters.
type Endpoint int

// The metered endpoints. Other is every path Proxide passes through unmetered.
const (
	Other Endpoint = iota
	ChatCompletions
	Completions
	Embeddings
	Responses
)

// String returns the endpoint's name as used in logs and metric labels.
func (e Endpoint) String() string {
	switch e {
	case ChatCompletions:
		return "chat.completions"
	case Completions:
		return "completions"
	case Embeddings:
		return "embeddings"
	case Responses:
		return "responses"
	default:
		return "other"
	}
}

// EndpointFor maps a path with the API prefix already removed
// ("/chat/completions", "/completions", "/embeddings", "/responses") to its
// Endpoint. The query string is ignored and one trailing slash is tolerated;
// anything else is Other, so sub-resources such as "/responses/{id}" are not
// mistaken for a metered create call.
func EndpointFor(pathSuffix string) Endpoint {
	if i := strings.IndexAny(pathSuffix, "?#"); i >= 0 {
		pathSuffix = pathSuffix[:i]
	}
	if len(pathSuffix) > 1 {
		pathSuffix = strings.TrimSuffix(pathSuffix, "/")
	}
	switch pathSuffix {
	case "/chat/completions":
		return ChatCompletions
	case "/completions":
		return Completions
	case "/embeddings":
		return Embeddings
	case "/responses":
		return Responses
	default:
		return Other
	}
}
