package usage

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEndpointFor(t *testing.T) {
	tests := map[string]Endpoint{
		"/chat/completions":     ChatCompletions,
		"/chat/completions/":    ChatCompletions,
		"/chat/completions?x=1": ChatCompletions,
		"/completions":          Completions,
		"/embeddings":           Embeddings,
		"/embeddings/?a=b":      Embeddings,
		"/responses":            Responses,
		"/responses/resp_123":   Other,
		"/chat/completions/abc": Other,
		"/models":               Other,
		"":                      Other,
		"/":                     Other,
		"/chat/completions//":   Other,
		"chat/completions":      Other,
		"/v1/chat/completions":  Other,
		"/responses#frag":       Responses,
		"/Chat/Completions":     Other,
	}
	for path, want := range tests {
		require.Equal(t, want, EndpointFor(path), path)
	}
	names := map[Endpoint]string{Other: "other", ChatCompletions: "chat.completions", Completions: "completions",
		Embeddings: "embeddings", Responses: "responses", Endpoint(42): "other"}
	for e, want := range names {
		require.Equal(t, want, e.String())
	}
}
