package fakeopenai

import (
	"bufio"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chatCompletion is shaped like the SDK's ChatCompletion (audio fields included).
type chatCompletion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content     *string `json:"content"`
			Annotations []struct {
				Type        string `json:"type"`
				URLCitation struct {
					EndIndex   int    `json:"end_index"`
					StartIndex int    `json:"start_index"`
					Title      string `json:"title"`
					URL        string `json:"url"`
				} `json:"url_citation"`
			} `json:"annotations"`
			Audio *struct {
				ID         string `json:"id"`
				Data       string `json:"data"`
				ExpiresAt  int64  `json:"expires_at"`
				Transcript string `json:"transcript"`
			} `json:"audio"`
		} `json:"message"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
			AudioTokens  int `json:"audio_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
			AudioTokens     int `json:"audio_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

// audioChat sends 9600 bytes of input audio (2 tokens) and "Say hello" (9 bytes).
func audioChat(extra string) string {
	data := base64.StdEncoding.EncodeToString(make([]byte, 9600))
	return `{"model":"gpt-4o-audio-preview","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}` + extra +
		`,"messages":[{"role":"user","content":[{"type":"text","text":"Say hello"},{"type":"input_audio","input_audio":{"data":"` + data + `","format":"wav"}}]}]}`
}

func TestChatAudioReply(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", audioChat(""), map[string]string{"x-fake-words": "3"})
	require.Equal(t, http.StatusOK, r.status, r.body)
	var c chatCompletion
	decodeInto(t, r.body, &c)
	require.Equal(t, "gpt-4o-audio-preview-2024-12-17", c.Model)
	msg := c.Choices[0].Message
	require.Nil(t, msg.Content, "a spoken reply has no text content")
	require.NotNil(t, msg.Audio)
	require.Equal(t, "Hello from the", msg.Audio.Transcript)
	require.Equal(t, int64(1_700_000_000+3600), msg.Audio.ExpiresAt)
	wav, err := base64.StdEncoding.DecodeString(msg.Audio.Data)
	require.NoError(t, err)
	n, d := audioLength(wav)
	require.Equal(t, 14*1600, n/2, "14 characters of transcript, 1600 samples each")
	require.Equal(t, 48000, d)

	audioOut := ceilDiv(14*1600, 2400) // = ceil(2 × 14 / 3) = 10
	require.Equal(t, 10, audioOut)
	require.Equal(t, 9/4+7+2, c.Usage.PromptTokens)
	require.Equal(t, 2, c.Usage.PromptTokensDetails.AudioTokens)
	require.Equal(t, 3+audioOut, c.Usage.CompletionTokens)
	require.Equal(t, audioOut, c.Usage.CompletionTokensDetails.AudioTokens)
	require.Equal(t, c.Usage.PromptTokens+c.Usage.CompletionTokens, c.Usage.TotalTokens)
}

func TestChatAudioStream(t *testing.T) {
	_, srv := start(t)
	r := call(t, srv, http.MethodPost, "/v1/chat/completions",
		audioChat(`,"stream":true,"stream_options":{"include_usage":true}`), map[string]string{"x-fake-words": "3"})
	evs := parseSSE(t, r.body)
	var transcript strings.Builder
	var audio []byte
	sawExpiry := false
	for _, ev := range evs[:len(evs)-1] {
		m := decodeMap(t, ev.data)
		if len(m["choices"].([]any)) == 0 {
			u := m["usage"].(map[string]any)
			require.Equal(t, 10, num(u["completion_tokens_details"].(map[string]any)["audio_tokens"]))
			continue
		}
		delta := m["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
		if c, ok := delta["content"]; ok {
			require.Nil(t, c, "no text content, only audio (the role chunk has content null)")
		}
		a, ok := delta["audio"].(map[string]any)
		if !ok {
			continue
		}
		if s, ok := a["transcript"].(string); ok {
			transcript.WriteString(s)
		}
		if s, ok := a["data"].(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			require.NoError(t, err)
			audio = append(audio, b...)
		}
		if _, ok := a["expires_at"]; ok {
			sawExpiry = true
		}
	}
	require.Equal(t, "Hello from the", transcript.String())
	require.Len(t, audio, 44+2*14*1600)
	require.True(t, sawExpiry)
}

func TestChatSearchModelCitesAndStoredList(t *testing.T) {
	_, srv := start(t)
	body := `{"model":"gpt-4o-search-preview","web_search_options":{},"store":true,"messages":[{"role":"user","content":"news?"}]}`
	r := call(t, srv, http.MethodPost, "/v1/chat/completions", body, map[string]string{"x-fake-words": "2"})
	var c chatCompletion
	decodeInto(t, r.body, &c)
	require.Equal(t, "gpt-4o-search-preview-2025-03-11", c.Model)
	ann := c.Choices[0].Message.Annotations
	require.Len(t, ann, 1)
	require.Equal(t, "url_citation", ann[0].Type)
	require.Equal(t, len("Hello from"), ann[0].URLCitation.EndIndex)
	require.Equal(t, 5/4+7, c.Usage.PromptTokens, "search adds nothing to the usage")

	call(t, srv, http.MethodPost, "/v1/chat/completions", helloChat, nil) // not stored
	r = call(t, srv, http.MethodGet, "/v1/chat/completions", "", nil)
	var list struct {
		Object string           `json:"object"`
		Data   []chatCompletion `json:"data"`
	}
	decodeInto(t, r.body, &list)
	require.Equal(t, "list", list.Object)
	require.Len(t, list.Data, 1)
	require.Equal(t, c.ID, list.Data[0].ID)
	r = call(t, srv, http.MethodGet, "/v1/chat/completions/"+c.ID, "", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, http.StatusNotFound, call(t, srv, http.MethodGet, "/v1/chat/completions/chatcmpl-nope", "", nil).status)
}

// TestThinkPausesOnlyBeforeVisibleText reads a chat stream as it arrives:
// the role chunk comes at once, the first word after x-fake-think-ms.
func TestThinkPausesOnlyBeforeVisibleText(t *testing.T) {
	srv := httptest.NewServer(NewWithClock(fixedClock))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"o3","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	req.Header.Set("x-fake-think-ms", "300")
	begin := time.Now()
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	rd := bufio.NewReader(resp.Body)
	var roleAt, wordAt time.Duration
	for roleAt == 0 || wordAt == 0 {
		line, err := rd.ReadString('\n')
		require.NoError(t, err)
		switch {
		case strings.Contains(line, `"role":"assistant"`):
			roleAt = time.Since(begin)
		case strings.Contains(line, `"content":"Hello"`):
			wordAt = time.Since(begin)
		}
	}
	require.Less(t, roleAt, 250*time.Millisecond, "the role chunk is not delayed")
	require.GreaterOrEqual(t, wordAt, 300*time.Millisecond, "the first word waits for the thinking")
}
