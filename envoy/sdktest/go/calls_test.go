package sdktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/require"

	"github.com/proxide/proxide/envoy/fakeopenai"
)

// checkCharged: the fake's usage is the documented formula (prompt) and the
// client was charged exactly its hand-computed cost.
func checkCharged(t *testing.T, clientID, model, usageBody, promptText string, toolBytes int) {
	t.Helper()
	prompt, completion := usage(t, usageBody)
	require.Equal(t, fakePrompt(promptText, toolBytes), prompt, "the fake's prompt tokens: (text + tool definitions)/4 + 7")
	require.Positive(t, prompt+completion)
	require.Equal(t, handCost(t, model, prompt, completion), spentNano(t, clientID), "charged to the nano-dollar")
}

func TestChatCompletions(t *testing.T) {
	weather := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openai.String("The weather in a city"),
		Parameters: openai.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		},
	})
	tests := []struct {
		name   string
		params openai.ChatCompletionNewParams
		text   string // the prompt text the fake counts
		check  func(t *testing.T, c *openai.ChatCompletion)
	}{
		{"plain", openai.ChatCompletionNewParams{Model: gpt4oMini,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there")}},
			"Be brief.Hello there", func(t *testing.T, c *openai.ChatCompletion) {
				require.Equal(t, "stop", c.Choices[0].FinishReason)
				require.NotEmpty(t, c.Choices[0].Message.Content)
			}},
		{"tool calling", openai.ChatCompletionNewParams{Model: gpt4o,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
			Tools:    []openai.ChatCompletionToolUnionParam{weather}},
			"What is the weather in Paris?", func(t *testing.T, c *openai.ChatCompletion) {
				require.Equal(t, "tool_calls", c.Choices[0].FinishReason)
				call := c.Choices[0].Message.ToolCalls[0]
				require.Equal(t, "get_weather", call.Function.Name)
				var args map[string]any
				require.NoError(t, json.Unmarshal([]byte(call.Function.Arguments), &args))
			}},
		{"JSON mode", openai.ChatCompletionNewParams{Model: gpt4oMini,
			Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Give me JSON")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}},
			"Give me JSON", func(t *testing.T, c *openai.ChatCompletion) {
				var v any
				require.NoError(t, json.Unmarshal([]byte(c.Choices[0].Message.Content), &v), "JSON mode content is JSON")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clientID := "sdk-go-chat-" + strings.ReplaceAll(tc.name, " ", "-")
			client := newClient(clientID)
			var resp *http.Response
			c, err := client.Chat.Completions.New(ctx(t), tc.params, option.WithResponseInto(&resp))
			require.NoError(t, err)
			s := sent(t, resp)
			require.Equal(t, s.Body, c.RawJSON(), "the SDK got exactly what the upstream sent")
			tc.check(t, c)
			checkCharged(t, clientID, c.Model, s.Body, tc.text, fakeopenai.ToolDefinitionBytes(s.Request))
			if tc.name == "tool calling" {
				require.Positive(t, fakeopenai.ToolDefinitionBytes(s.Request), "the tool definition is billed")
			}
		})
	}
}

func TestChatStreaming(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		t.Run(fmt.Sprintf("include_usage=%v", includeUsage), func(t *testing.T) {
			clientID := fmt.Sprintf("sdk-go-stream-%v", includeUsage)
			params := openai.ChatCompletionNewParams{Model: gpt4oMini,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream please")}}
			if includeUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			client := newClient(clientID)
			var resp *http.Response
			stream := client.Chat.Completions.NewStreaming(ctx(t), params, option.WithResponseInto(&resp))
			var got []string
			var text strings.Builder
			for stream.Next() {
				chunk := stream.Current()
				got = append(got, chunk.RawJSON())
				if len(chunk.Choices) > 0 {
					text.WriteString(chunk.Choices[0].Delta.Content)
				}
			}
			require.NoError(t, stream.Err())
			require.NoError(t, stream.Close())
			require.NotEmpty(t, text.String())

			s := sent(t, resp)
			var req struct {
				StreamOptions struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
			}
			require.NoError(t, json.Unmarshal(s.Request, &req))
			require.True(t, req.StreamOptions.IncludeUsage, "the upstream is always asked for usage")
			upstream := sseData(t, s.Body)
			last := upstream[len(upstream)-1]
			require.Contains(t, last, `"choices":[]`, "the fake's last chunk carries the usage")
			if includeUsage {
				require.Equal(t, upstream, got, "the SDK got every chunk exactly as sent")
			} else {
				require.Len(t, got, len(upstream)-1, "the usage chunk Proxide asked for does not reach the SDK")
				for i, chunk := range got {
					require.NotContains(t, chunk, `"usage"`, "chunk %d", i)
					// The same chunk without the "usage":null the upstream added
					// because it was asked for usage.
					require.JSONEq(t, withoutUsage(t, upstream[i]), chunk)
				}
			}
			checkCharged(t, clientID, "gpt-4o-mini-2024-07-18", last, "Stream please", 0)
		})
	}
}

func withoutUsage(t *testing.T, chunk string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(chunk), &m))
	delete(m, "usage")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

func TestResponses(t *testing.T) {
	clientID := "sdk-go-responses"
	client := newClient(clientID)
	var resp *http.Response
	r, err := client.Responses.New(ctx(t), responses.ResponseNewParams{Model: gpt4o,
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Write a haiku")}}, option.WithResponseInto(&resp))
	require.NoError(t, err)
	s := sent(t, resp)
	require.Equal(t, s.Body, r.RawJSON())
	require.NotEmpty(t, r.OutputText())
	checkCharged(t, clientID, r.Model, s.Body, "Write a haiku", 0)
}

func TestResponsesStreaming(t *testing.T) {
	clientID := "sdk-go-responses-stream"
	client := newClient(clientID)
	var resp *http.Response
	stream := client.Responses.NewStreaming(ctx(t), responses.ResponseNewParams{Model: gpt4oMini,
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Write a haiku")}}, option.WithResponseInto(&resp))
	var got []string
	var completed string
	for stream.Next() {
		ev := stream.Current()
		got = append(got, ev.RawJSON())
		if ev.Type == "response.completed" {
			completed = ev.Response.RawJSON()
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	s := sent(t, resp)
	require.Equal(t, sseData(t, s.Body), got, "every event exactly as sent")
	require.NotEmpty(t, completed)
	checkCharged(t, clientID, "gpt-4o-mini-2024-07-18", completed, "Write a haiku", 0)
}

func TestEmbeddings(t *testing.T) {
	clientID := "sdk-go-embeddings"
	client := newClient(clientID)
	var resp *http.Response
	inputs := []string{"one", "two", "three"}
	e, err := client.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: openai.EmbeddingModelTextEmbedding3Small,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}}, option.WithResponseInto(&resp))
	require.NoError(t, err)
	s := sent(t, resp)
	require.Equal(t, s.Body, e.RawJSON())
	require.Len(t, e.Data, 3)
	checkCharged(t, clientID, e.Model, s.Body, strings.Join(inputs, ""), 0)
}

func TestLegacyCompletions(t *testing.T) {
	clientID := "sdk-go-completions"
	client := newClient(clientID)
	var resp *http.Response
	c, err := client.Completions.New(ctx(t), openai.CompletionNewParams{Model: openai.CompletionNewParamsModelGPT3_5TurboInstruct,
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say this is a test")}}, option.WithResponseInto(&resp))
	require.NoError(t, err)
	s := sent(t, resp)
	require.Equal(t, s.Body, c.RawJSON())
	require.NotEmpty(t, c.Choices[0].Text)
	checkCharged(t, clientID, c.Model, s.Body, "Say this is a test", 0)
}
