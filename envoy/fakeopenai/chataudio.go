package fakeopenai

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// audioExpirySeconds is how long OpenAI keeps a spoken reply for reuse.
const audioExpirySeconds = 3600

// bytesPerAudioInputToken: input audio costs one token per 4800 decoded
// bytes, i.e. 10 tokens per second of 24 kHz 16-bit mono PCM or WAV.
const bytesPerAudioInputToken = 4800

// chatAudioJSON is message.audio of a spoken chat reply.
type chatAudioJSON struct {
	ID         string `json:"id"`
	Data       string `json:"data"`
	ExpiresAt  int64  `json:"expires_at"`
	Transcript string `json:"transcript"`
}

// wantsAudio: modalities ["text","audio"] asks for a spoken reply.
func wantsAudio(req *chatRequest) bool { return slices.Contains(req.Modalities, "audio") }

// inputAudioTokens counts the input_audio parts of a message content:
// ceil(decoded bytes / 4800) per part.
func inputAudioTokens(raw json.RawMessage) int {
	var parts []struct {
		Type       string `json:"type"`
		InputAudio struct {
			Data string `json:"data"`
		} `json:"input_audio"`
	}
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &parts) != nil {
		return 0
	}
	total := 0
	for _, p := range parts {
		if p.Type != "input_audio" {
			continue
		}
		n := len(p.InputAudio.Data) / 4 * 3
		if b, err := base64.StdEncoding.DecodeString(p.InputAudio.Data); err == nil {
			n = len(b)
		}
		total += ceilDiv(n, bytesPerAudioInputToken)
	}
	return total
}

func (ex *exchange) audioID(choice int) string {
	return fmt.Sprintf("audio_fake%06d_%d", ex.id, choice)
}

// chatAudio speaks text in the requested format (pcm16 is raw PCM).
func (ex *exchange) chatAudio(choice int, format, text string) *chatAudioJSON {
	data, _ := encodeSpeech(chatAudioFormat(format), speechSamples(text, 1))
	return &chatAudioJSON{ID: ex.audioID(choice), Data: base64.StdEncoding.EncodeToString(data),
		ExpiresAt: ex.created() + audioExpirySeconds, Transcript: text}
}

func chatAudioFormat(f string) string {
	if f == "pcm16" {
		return "pcm"
	}
	return f
}

// chatAudioDeltas streams a spoken reply: the transcript one word per
// chunk (the first naming the audio id), the audio in base64 chunks of 4800
// bytes, then its expiry.
func (ex *exchange) chatAudioDeltas(p plan, created int64, emit func(choice int, audio json.RawMessage) error) error {
	text := strings.Join(p.pieces, "")
	data, _ := encodeSpeech(chatAudioFormat(p.audioFormat), speechSamples(text, 1))
	type audioDelta struct {
		ID         string `json:"id,omitempty"`
		Transcript string `json:"transcript,omitempty"`
		Data       string `json:"data,omitempty"`
		ExpiresAt  int64  `json:"expires_at,omitempty"`
	}
	for k, piece := range p.pieces {
		for i := range p.n {
			d := audioDelta{Transcript: piece}
			if k == 0 {
				d.ID = ex.audioID(i)
			}
			if err := emit(i, mustJSON(d)); err != nil {
				return err
			}
		}
	}
	for off := 0; off < len(data); off += bytesPerAudioInputToken {
		chunk := base64.StdEncoding.EncodeToString(data[off:min(off+bytesPerAudioInputToken, len(data))])
		for i := range p.n {
			if err := emit(i, mustJSON(audioDelta{Data: chunk})); err != nil {
				return err
			}
		}
	}
	for i := range p.n {
		if err := emit(i, mustJSON(audioDelta{ID: ex.audioID(i), ExpiresAt: created + audioExpirySeconds})); err != nil {
			return err
		}
	}
	return nil
}

// urlCitation is the annotation a search model attaches to its answer.
func urlCitation(end int) json.RawMessage {
	return mustJSON(map[string]any{"type": "url_citation", "url_citation": map[string]any{
		"end_index": end, "start_index": 0, "title": "Fake OpenAI source", "url": "https://example.com/fake-openai-source",
	}})
}

// storeChat keeps a chat completion created with "store": true.
func (ex *exchange) storeChat(c chatCompletionJSON) {
	st := ex.s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.chats = append(st.chats, c)
}

// storedChats answers GET /v1/chat/completions: the stored completions,
// oldest first (OpenAI's default order is asc).
func (ex *exchange) storedChats() error {
	st := ex.s.st
	st.mu.Lock()
	chats := slices.Clone(st.chats)
	st.mu.Unlock()
	if ex.r.URL.Query().Get("order") == "desc" {
		chats = reversed(chats)
	}
	ex.writeJSON(http.StatusOK, newList(chats, func(c chatCompletionJSON) string { return c.ID }))
	return nil
}

func (ex *exchange) storedChat(id string) error {
	st := ex.s.st
	st.mu.Lock()
	i := slices.IndexFunc(st.chats, func(c chatCompletionJSON) bool { return c.ID == id })
	var c chatCompletionJSON
	if i >= 0 {
		c = st.chats[i]
	}
	st.mu.Unlock()
	if i < 0 {
		ex.notFound(fmt.Sprintf("Chat completion with id '%s' not found.", id), "")
		return nil
	}
	ex.writeJSON(http.StatusOK, c)
	return nil
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
