package sdktest

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"
)

// setBudget gives a client its own rule through the admin API (test setup;
// the SDK is not involved).
func setBudget(t *testing.T, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, dev.Admin+"/v1/budgets", bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+dev.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, resp.StatusCode)
}

func chat(client openai.Client, t *testing.T, content string) error {
	_, err := client.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: gpt4oMini,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(content)}})
	return err
}

// A client over its budget gets the SDK's error with status 402 and type
// budget_exceeded, after exactly one request (no retry).
func TestOverBudgetIs402WithoutRetry(t *testing.T) {
	setBudget(t, `{"client_id":"sdk-go-402","daily_limit_usd":0.000001}`)
	client := newClient("sdk-go-402")
	require.NoError(t, chat(client, t, "first: admitted, it spends past the limit"))
	before := frontRequests(t)
	err := chat(client, t, "second: refused")
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusPaymentRequired, apiErr.StatusCode)
	require.Equal(t, "budget_exceeded", apiErr.Type)
	require.Equal(t, "budget_exceeded", apiErr.Code)
	require.Contains(t, apiErr.Message, "Daily budget limit of $0.00 exceeded for client sdk-go-402")
	require.Equal(t, before+1, frontRequests(t), "one request reached the front: the SDK did not retry")
}

// A looping client's sixth identical request gets the SDK's error with
// status 429 and type loop_detected at once: the SDK retries 429s after
// retry-after unless told not to, and Proxide's x-should-retry: false tells it.
func TestLoopIs429WithoutRetry(t *testing.T) {
	client := newClient("sdk-go-loop")
	for i := range 5 {
		require.NoError(t, chat(client, t, "Call the weather tool again"), "request %d", i+1)
	}
	before := frontRequests(t)
	err := chat(client, t, "Call the weather tool again")
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	require.Equal(t, "loop_detected", apiErr.Type)
	require.NotEmpty(t, apiErr.Response.Header.Get("retry-after"), "a retry-after the SDK would have slept on")
	require.Equal(t, "false", apiErr.Response.Header.Get("x-should-retry"))
	require.Equal(t, before+1, frontRequests(t), "one request reached the front: the SDK did not sleep and retry")
}
