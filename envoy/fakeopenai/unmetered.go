package fakeopenai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// The endpoints below are answered plausibly — right status, minimal but
// real-shaped JSON — so a gateway can be tested refusing or passing them.
// None reports usage.

// realtimeClientSecret answers POST /v1/realtime/client_secrets (GA).
func (ex *exchange) realtimeClientSecret() error {
	var req struct {
		Session struct {
			Type  string `json:"type"`
			Model string `json:"model"`
		} `json:"session"`
	}
	if len(ex.body) > 0 && !ex.decode(&req) {
		return nil
	}
	model := req.Session.Model
	if model == "" {
		model = "gpt-realtime"
	}
	exp := ex.created() + 600
	ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{
		"value": ex.idFor("ek_"), "expires_at": exp,
		"session": orderedJSON(map[string]any{"type": "realtime", "object": "realtime.session", "id": ex.idFor("sess_"),
			"model": model, "output_modalities": []string{"audio"}, "instructions": "", "tools": []any{},
			"tool_choice": "auto", "max_output_tokens": "inf"},
			"type", "object", "id", "model", "output_modalities", "instructions", "tools", "tool_choice", "max_output_tokens"),
	}, "value", "expires_at", "session"))
	return nil
}

// realtimeSession answers POST /v1/realtime/sessions (beta).
func (ex *exchange) realtimeSession() error {
	var req struct {
		Model string `json:"model"`
		Voice string `json:"voice"`
	}
	if len(ex.body) > 0 && !ex.decode(&req) {
		return nil
	}
	if req.Model == "" {
		req.Model = "gpt-4o-realtime-preview"
	}
	if req.Voice == "" {
		req.Voice = "alloy"
	}
	ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{
		"id": ex.idFor("sess_"), "object": "realtime.session", "model": req.Model,
		"modalities": []string{"audio", "text"}, "instructions": "", "voice": req.Voice,
		"input_audio_format": "pcm16", "output_audio_format": "pcm16", "input_audio_transcription": nil,
		"turn_detection": map[string]any{"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200},
		"tools":          []any{}, "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf",
		"client_secret": orderedJSON(map[string]any{"value": ex.idFor("ek_"), "expires_at": ex.created() + 60}, "value", "expires_at"),
	}, "id", "object", "model", "modalities", "instructions", "voice", "input_audio_format", "output_audio_format",
		"input_audio_transcription", "turn_detection", "tools", "tool_choice", "temperature", "max_response_output_tokens", "client_secret"))
	return nil
}

// fineTuneJSON is a fine_tuning.job.
type fineTuneJSON struct {
	Object          string          `json:"object"`
	ID              string          `json:"id"`
	Model           string          `json:"model"`
	CreatedAt       int64           `json:"created_at"`
	FinishedAt      *int64          `json:"finished_at"`
	FineTunedModel  *string         `json:"fine_tuned_model"`
	OrganizationID  string          `json:"organization_id"`
	ResultFiles     []string        `json:"result_files"`
	Status          string          `json:"status"`
	ValidationFile  *string         `json:"validation_file"`
	TrainingFile    string          `json:"training_file"`
	Hyperparameters json.RawMessage `json:"hyperparameters"`
	TrainedTokens   *int            `json:"trained_tokens"`
	Error           json.RawMessage `json:"error"`
	Seed            int             `json:"seed"`
	EstimatedFinish *int64          `json:"estimated_finish"`
	Integrations    []any           `json:"integrations"`
	Metadata        json.RawMessage `json:"metadata"`
}

func (ex *exchange) createFineTune() error {
	var req struct {
		Model          string  `json:"model"`
		TrainingFile   string  `json:"training_file"`
		ValidationFile *string `json:"validation_file"`
	}
	if !ex.decode(&req) {
		return nil
	}
	if req.Model == "" || req.TrainingFile == "" {
		ex.invalid("Missing required parameter: 'model' and 'training_file' are required.", "training_file")
		return nil
	}
	job := fineTuneJSON{Object: "fine_tuning.job", ID: ex.idFor("ftjob-"), Model: Snapshot(req.Model), CreatedAt: ex.created(),
		OrganizationID: "org-fake", ResultFiles: []string{}, Status: "validating_files", ValidationFile: req.ValidationFile,
		TrainingFile: req.TrainingFile, Hyperparameters: json.RawMessage(`{"n_epochs":"auto","batch_size":"auto","learning_rate_multiplier":"auto"}`),
		Error: json.RawMessage("{}"), Seed: 42, Integrations: []any{}, Metadata: nullJSON}
	st := ex.s.st
	st.mu.Lock()
	st.fineTunes = append(st.fineTunes, job)
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, job)
	return nil
}

func (ex *exchange) listFineTunes() error {
	st := ex.s.st
	st.mu.Lock()
	jobs := reversed(st.fineTunes)
	st.mu.Unlock()
	ex.writeJSON(http.StatusOK, struct {
		Object  string         `json:"object"`
		Data    []fineTuneJSON `json:"data"`
		HasMore bool           `json:"has_more"`
	}{"list", jobs, false})
	return nil
}

func (ex *exchange) getFineTune(id string) error {
	st := ex.s.st
	st.mu.Lock()
	i := slices.IndexFunc(st.fineTunes, func(j fineTuneJSON) bool { return j.ID == id })
	var job fineTuneJSON
	if i >= 0 {
		job = st.fineTunes[i]
	}
	st.mu.Unlock()
	if i < 0 {
		ex.notFound(fmt.Sprintf("Could not find fine tune job: %s", id), "fine_tuning_job_id")
		return nil
	}
	ex.writeJSON(http.StatusOK, job)
	return nil
}

func (ex *exchange) createContainer() error {
	var req struct {
		Name string `json:"name"`
	}
	if len(ex.body) > 0 && !ex.decode(&req) {
		return nil
	}
	now := ex.created()
	ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{"id": ex.idFor("cntr_"), "object": "container", "created_at": now,
		"status": "running", "expires_after": map[string]any{"anchor": "last_active_at", "minutes": 20},
		"last_active_at": now, "name": req.Name}, "id", "object", "created_at", "status", "expires_after", "last_active_at", "name"))
	return nil
}

func (ex *exchange) createVectorStore() error {
	var req struct {
		Name     string          `json:"name"`
		Metadata json.RawMessage `json:"metadata"`
	}
	if len(ex.body) > 0 && !ex.decode(&req) {
		return nil
	}
	if len(req.Metadata) == 0 {
		req.Metadata = json.RawMessage("{}")
	}
	now := ex.created()
	ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{"id": ex.idFor("vs_"), "object": "vector_store", "created_at": now,
		"name": req.Name, "usage_bytes": 0,
		"file_counts": map[string]int{"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0},
		"status":      "completed", "expires_after": nil, "expires_at": nil, "last_active_at": now, "metadata": req.Metadata},
		"id", "object", "created_at", "name", "usage_bytes", "file_counts", "status", "expires_after", "expires_at", "last_active_at", "metadata"))
	return nil
}

func (ex *exchange) createConversation() error {
	var req struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if len(ex.body) > 0 && !ex.decode(&req) {
		return nil
	}
	if len(req.Metadata) == 0 {
		req.Metadata = json.RawMessage("{}")
	}
	ex.writeJSON(http.StatusOK, orderedJSON(map[string]any{"id": ex.idFor("conv_"), "object": "conversation",
		"created_at": ex.created(), "metadata": req.Metadata}, "id", "object", "created_at", "metadata"))
	return nil
}
