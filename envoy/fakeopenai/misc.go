package fakeopenai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
)

// EmbeddingDims is the length of every fake embedding vector.
const EmbeddingDims = 8

type completionsRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	Stream        bool            `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	MaxTokens     int             `json:"max_tokens"`
	N             int             `json:"n"`
}

type completionJSON struct {
	ID                string                 `json:"id"`
	Object            string                 `json:"object"`
	Created           int64                  `json:"created"`
	Model             string                 `json:"model"`
	Choices           []completionChoiceJSON `json:"choices"`
	Usage             json.RawMessage        `json:"usage,omitempty"`
	SystemFingerprint *string                `json:"system_fingerprint"`
}

type completionChoiceJSON struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type legacyUsageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// stringsOf reads a string, an array of strings, or token arrays (4 bytes
// per token for the prompt-size formula).
func stringsOf(raw json.RawMessage) (texts []string, tokenBytes int) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, 0
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, 0
	}
	var tokens []int
	if json.Unmarshal(raw, &tokens) == nil {
		return []string{""}, len(tokens) * bytesPerToken
	}
	var batches [][]int
	if json.Unmarshal(raw, &batches) == nil {
		for _, b := range batches {
			texts = append(texts, "")
			tokenBytes += len(b) * bytesPerToken
		}
	}
	return texts, tokenBytes
}

func (ex *exchange) completions() error {
	var req completionsRequest
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		ex.error(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "")
		return nil
	}
	texts, promptBytes := stringsOf(req.Prompt)
	for _, t := range texts {
		promptBytes += len(t)
	}
	nw, finish := ex.ctl.words, "stop"
	if req.MaxTokens > 0 && req.MaxTokens < nw {
		nw, finish = req.MaxTokens, "length"
	}
	n := max(req.N, 1)
	pieces := replyPieces(nw)
	u := newUsage(ex.ctl, req.Model, promptBytes, len(pieces)*n)
	lu := legacyUsageJSON{PromptTokens: u.prompt, CompletionTokens: u.completion, TotalTokens: u.prompt + u.completion}
	out := completionJSON{ID: ex.idFor("cmpl-"), Object: "text_completion", Created: ex.created(), Model: Snapshot(req.Model)}
	if !req.Stream {
		if err := ex.think(); err != nil {
			return err
		}
		for i := range n {
			out.Choices = append(out.Choices, completionChoiceJSON{Text: strings.Join(pieces, ""), Index: i, FinishReason: &finish})
		}
		out.Usage = mustJSON(lu)
		ex.writeJSON(http.StatusOK, out)
		return nil
	}
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !ex.ctl.ignoreUsage
	s := ex.startSSE()
	emit := func(choices []completionChoiceJSON, usage json.RawMessage) error {
		c := out
		c.Choices, c.Usage = choices, usage
		if includeUsage && usage == nil {
			c.Usage = json.RawMessage("null")
		}
		return s.event("", c)
	}
	if err := ex.think(); err != nil {
		return err
	}
	for _, p := range pieces {
		for i := range n {
			if err := emit([]completionChoiceJSON{{Text: p, Index: i}}, nil); err != nil {
				return err
			}
		}
	}
	for i := range n {
		if err := emit([]completionChoiceJSON{{Index: i, FinishReason: &finish}}, nil); err != nil {
			return err
		}
	}
	if includeUsage {
		if err := emit([]completionChoiceJSON{}, mustJSON(lu)); err != nil {
			return err
		}
	}
	return s.done()
}

type embeddingsRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
}

type embeddingJSON struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

func (ex *exchange) embeddings() error {
	var req embeddingsRequest
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		ex.error(http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "")
		return nil
	}
	texts, promptBytes := stringsOf(req.Input)
	if len(texts) == 0 {
		ex.error(http.StatusBadRequest, "'input' is a required property", "invalid_request_error", "")
		return nil
	}
	data := make([]embeddingJSON, len(texts))
	for i, t := range texts {
		promptBytes += len(t)
		vec := vector(t, i)
		var emb any = vec
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			emb = base64.StdEncoding.EncodeToString(buf)
		}
		data[i] = embeddingJSON{Object: "embedding", Index: i, Embedding: emb}
	}
	prompt := countUsage(ex.ctl, req.Model, PromptTokens(promptBytes), 0).prompt
	ex.writeJSON(http.StatusOK, struct {
		Object string          `json:"object"`
		Data   []embeddingJSON `json:"data"`
		Model  string          `json:"model"`
		Usage  any             `json:"usage"`
	}{"list", data, Snapshot(req.Model), struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	}{prompt, prompt}})
	return nil
}

// vector derives a unit-length vector from the input text (and its index,
// so token-array inputs differ).
func vector(text string, index int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	seed := h.Sum64() + uint64(index)*0x9e3779b97f4a7c15 //nolint:gosec // G115: mixing a hash seed, where wrapping is harmless
	out := make([]float32, EmbeddingDims)
	var norm float64
	for i := range out {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		v := float64(int64(seed%2001)-1000) / 1000
		out[i] = float32(v)
		norm += v * v
	}
	if norm == 0 {
		out[0], norm = 1, 1
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / math.Sqrt(norm))
	}
	return out
}

type modelJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// knownModels is what GET /v1/models lists.
var knownModels = []string{
	"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o", "gpt-4o-2024-08-06", "gpt-4.1", "gpt-4.1-mini",
	"gpt-3.5-turbo", "gpt-3.5-turbo-instruct", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini",
	"text-embedding-3-small", "text-embedding-3-large",
	"o1", "o3", "gpt-4o-audio-preview", "gpt-4o-mini-audio-preview", "gpt-audio", "gpt-audio-mini",
	"gpt-4o-search-preview", "gpt-4o-mini-search-preview", "dall-e-2", "dall-e-3", "gpt-image-1",
	"gpt-image-1-mini", "gpt-image-1.5", "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "whisper-1",
	"gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize", "omni-moderation-latest",
	"gpt-realtime", "sora-2",
}

func (ex *exchange) models() error {
	data := make([]modelJSON, len(knownModels))
	for i, id := range knownModels {
		data[i] = modelJSON{ID: id, Object: "model", Created: 1715367049, OwnedBy: "system"}
	}
	ex.writeJSON(http.StatusOK, struct {
		Object string      `json:"object"`
		Data   []modelJSON `json:"data"`
	}{"list", data})
	return nil
}

func (ex *exchange) model(id string) error {
	for _, m := range knownModels {
		if m == id {
			ex.writeJSON(http.StatusOK, modelJSON{ID: id, Object: "model", Created: 1715367049, OwnedBy: "system"})
			return nil
		}
	}
	ex.error(http.StatusNotFound, "The model '"+id+"' does not exist", "invalid_request_error", "model_not_found")
	return nil
}
