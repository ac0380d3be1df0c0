package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// moderationCategories in OpenAI's order.
var moderationCategories = []string{
	"harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
	"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic",
}

// moderations answers POST /v1/moderations (free): one result per input
// string (a multimodal array is one input); nothing is ever flagged.
func (ex *exchange) moderations() error {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !ex.decode(&req) {
		return nil
	}
	if len(req.Input) == 0 {
		ex.invalid("Missing required parameter: 'input'.", "input")
		return nil
	}
	if req.Model == "" {
		req.Model = "omni-moderation-latest"
	}
	inputs := 1
	var list []json.RawMessage
	if json.Unmarshal(req.Input, &list) == nil && len(list) > 0 && list[0][0] == '"' {
		inputs = len(list)
	}
	types := []string{"text"}
	if strings.Contains(string(req.Input), `"image_url"`) {
		types = []string{"text", "image"}
	}
	results := make([]json.RawMessage, inputs)
	for i := range results {
		cats, scores, applied := make([]string, 0, len(moderationCategories)), make([]string, 0, len(moderationCategories)), make([]string, 0, len(moderationCategories))
		for k, c := range moderationCategories {
			cats = append(cats, fmt.Sprintf("%q:false", c))
			scores = append(scores, fmt.Sprintf("%q:%g", c, float64(k+1)*1e-6))
			applied = append(applied, fmt.Sprintf("%q:%s", c, mustJSON(types)))
		}
		results[i] = json.RawMessage(`{"flagged":false,"categories":{` + strings.Join(cats, ",") +
			`},"category_scores":{` + strings.Join(scores, ",") + `},"category_applied_input_types":{` + strings.Join(applied, ",") + `}}`)
	}
	ex.writeJSON(http.StatusOK, struct {
		ID      string            `json:"id"`
		Model   string            `json:"model"`
		Results []json.RawMessage `json:"results"`
	}{ex.idFor("modr-"), req.Model, results})
	return nil
}

// videoJSON is a video generation job (POST /v1/videos).
type videoJSON struct {
	ID                 string  `json:"id"`
	Object             string  `json:"object"`
	CreatedAt          int64   `json:"created_at"`
	Status             string  `json:"status"`
	Model              string  `json:"model"`
	Progress           int     `json:"progress"`
	Seconds            string  `json:"seconds"`
	Size               string  `json:"size"`
	Prompt             string  `json:"prompt"`
	CompletedAt        *int64  `json:"completed_at"`
	ExpiresAt          *int64  `json:"expires_at"`
	Error              *string `json:"error"`
	RemixedFromVideoID *string `json:"remixed_from_video_id"`
}

// createVideo queues a job (JSON or multipart); GET /v1/videos/{id} finds
// it completed.
func (ex *exchange) createVideo() error {
	v := videoJSON{Object: "video", Status: "queued", Model: "sora-2", Seconds: "4", Size: "720x1280"}
	if strings.HasPrefix(ex.r.Header.Get("Content-Type"), "multipart/") {
		f, ok := ex.parseForm()
		if !ok {
			return nil
		}
		v.Model, v.Prompt, v.Seconds, v.Size = orDefault(f.get("model"), v.Model), f.get("prompt"), orDefault(f.get("seconds"), v.Seconds), orDefault(f.get("size"), v.Size)
	} else {
		var req struct{ Model, Prompt, Seconds, Size string }
		if !ex.decode(&req) {
			return nil
		}
		v.Model, v.Prompt, v.Seconds, v.Size = orDefault(req.Model, v.Model), req.Prompt, orDefault(req.Seconds, v.Seconds), orDefault(req.Size, v.Size)
	}
	if v.Prompt == "" {
		ex.invalid("Missing required parameter: 'prompt'.", "prompt")
		return nil
	}
	v.ID, v.CreatedAt = ex.idFor("video_"), ex.created()
	st := ex.s.st
	st.mu.Lock()
	stored := v
	st.videos[v.ID] = &stored
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, v)
	return nil
}

func (ex *exchange) getVideo(id string) error {
	now := ex.created()
	st := ex.s.st
	st.mu.Lock()
	v := st.videos[id]
	var out videoJSON
	if v != nil {
		if v.Status != "completed" {
			exp := now + 24*3600
			v.Status, v.Progress, v.CompletedAt, v.ExpiresAt = "completed", 100, &now, &exp
		}
		out = *v
	}
	st.mu.Unlock()
	if v == nil {
		ex.notFound("Video with id '"+id+"' not found.", "video_id")
		return nil
	}
	ex.writeJSON(http.StatusOK, out)
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
