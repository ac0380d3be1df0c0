package endpoints

import "strings"

// Kind says how Proxide treats an endpoint.
type Kind int

// The zero Kind is Unmetered: a Route nobody filled in is refused, never
// passed for free.
const (
	// Unmetered: the call costs money but an ext_proc sidecar cannot see
	// what (billed later, per session or per stored byte, or never reported
	// to the caller). Refused by default with 403 endpoint_not_metered
	// unless config (endpoints.unmetered: allow) or a rule allows it.
	Unmetered Kind = iota
	// Metered: priced from the request and/or the response and counted
	// against the client's budget.
	Metered
	// Free: nothing is billed; passed on without metering.
	Free
)

func (k Kind) String() string {
	switch k {
	case Metered:
		return "metered"
	case Free:
		return "free"
	}
	return "unmetered"
}

// Endpoint is one row of the table.
type Endpoint struct {
	// Method is the HTTP method in upper case, or "*" for any method.
	Method string
	// Pattern is the path after the API prefix: literal segments, "{name}"
	// for one segment of any value, "{name...}" (last only) for the rest.
	Pattern   string
	Operation Operation
	Kind      Kind
	// How says how the call is metered, why it is refused or why it is free.
	How string

	segs []string
}

func row(method, pattern string, op Operation, kind Kind, how string) Endpoint {
	return Endpoint{Method: method, Pattern: pattern, Operation: op, Kind: kind, How: how,
		segs: strings.Split(strings.TrimPrefix(pattern, "/"), "/")}
}

// table is every row: built once at start-up, never changed.
var table = append(append(append([]Endpoint(nil), coreRows...), objectRows...), realtimeRows...)

// Table returns a copy of every known endpoint, in documentation order.
func Table() []Endpoint { return append([]Endpoint(nil), table...) }

// Reasons shared by many rows.
const (
	howCRUD     = "object CRUD: no model runs, nothing is billed"
	howRead     = "read-only: nothing is billed"
	howSettles  = "not billed itself; its body carries the usage of a background response, which settles that response's reservation"
	howRealtime = "realtime sessions (WebSocket/WebRTC) are billed per audio/text token inside a session an ext_proc sidecar never sees"
	howRun      = "starts a run billed in model tokens as it executes, after this response: the cost is not in it"
	howStorage  = "vector storage is billed per GB-day for as long as the data is kept, long after the request"
)

// Sources (method + path of every row), checked 2026:
//   - openai/openai-python api.md (commit 02cf7cdbdb19f5c782d5cee65db6b45d73b9ce0d):
//     completions, chat, embeddings, files, images, audio, moderations,
//     models, fine_tuning (jobs, checkpoints, permissions, alpha graders),
//     vector_stores (+ files, file_batches), beta chatkit, assistants,
//     threads (+ runs, steps, messages), batches, uploads (+ parts), evals
//     (+ runs, output_items), containers (+ files, content), skills (+
//     versions, content), videos (+ character).
//   - openai-python src/openai/resources/responses/api.md (commit 0015fc68):
//     responses create/retrieve/delete/cancel/compact, input_items, input_tokens.
//   - openai-python src/openai/resources/realtime/api.md (commit 05fd8e41):
//     client_secrets, calls (+ accept, hangup, refer, reject), translations/client_secrets.
//   - openai-python src/openai/resources/beta/realtime/sessions.py and
//     transcription_sessions.py: POST /realtime/sessions, /realtime/transcription_sessions.
//   - openai-python src/openai/resources/conversations/api.md (commit 984ac189).
//   - openai-python src/openai/resources/admin/organization/*.py: every admin
//     call lives under /organization/ (usage, costs, projects, keys, ...).
//   - developers.openai.com/api/docs/changelog via modeldex.dev: container
//     sessions billed per minute with a 5-minute minimum from 2026-06-02
//     (20-minute session rate before).
var coreRows = []Endpoint{
	row("POST", "/chat/completions", ChatCompletionsCreate, Metered, "usage from the JSON body or the last SSE chunk (stream_options.include_usage is injected); reserved from the prompt and max tokens"),
	row("GET", "/chat/completions", ChatCompletionsList, Free, "stored completions: "+howRead),
	row("GET", "/chat/completions/{completion_id}", ChatCompletionsRetrieve, Free, "stored completion: "+howRead),
	row("POST", "/chat/completions/{completion_id}", ChatCompletionsUpdate, Free, "stored completion metadata: "+howCRUD),
	row("DELETE", "/chat/completions/{completion_id}", ChatCompletionsDelete, Free, howCRUD),
	row("GET", "/chat/completions/{completion_id}/messages", ChatCompletionsMessages, Free, howRead),
	row("POST", "/completions", CompletionsCreate, Metered, "legacy completions: usage from the body or the last SSE chunk"),
	row("POST", "/embeddings", EmbeddingsCreate, Metered, "input tokens from usage; reserved from the counted input"),
	row("POST", "/moderations", Moderations, Free, "moderations are free"),

	row("POST", "/responses", ResponsesCreate, Metered, "usage from response.completed (or the JSON body); tool-call fees; background responses keep their reservation until settled"),
	row("GET", "/responses/{response_id}", ResponsesRetrieve, Metered, howSettles+" (also the resumed stream of a background response)"),
	row("DELETE", "/responses/{response_id}", ResponsesDelete, Free, howCRUD),
	row("POST", "/responses/{response_id}/cancel", ResponsesCancel, Metered, "not billed itself; the cancelled response it returns settles the background response's reservation"),
	row("POST", "/responses/compact", ResponsesCompact, Metered, "a model call: usage from the compacted response, priced like a response"),
	row("GET", "/responses/{response_id}/input_items", ResponsesInputItems, Free, howRead),
	row("POST", "/responses/input_tokens", ResponsesInputTokens, Free, "token counting is not billed"),

	row("POST", "/images/generations", ImagesGenerate, Metered, "dall-e: per image by size and quality × n, exact at the request; gpt-image: reserved at the dearest image of the size and quality asked (auto = the worst) and settled from the token usage (text, image in, image out)"),
	row("POST", "/images/edits", ImagesEdit, Metered, "multipart, streamed through (the form read as it passes, its tail held until admitted); priced like generations, each uploaded image bounded at 10,000 input tokens"),
	row("POST", "/images/variations", ImagesVariation, Metered, "multipart; dall-e-2 per image by size × n, exact at the request"),
	row("POST", "/audio/speech", AudioSpeech, Metered, "tts-1/tts-1-hd: input characters, exact at the request; gpt-4o-mini-tts: the SSE usage (input and audio tokens), or the measured duration of the audio it returns (estimated); reserved at the longest speech its input can make"),
	row("POST", "/audio/transcriptions", AudioTranscription, Metered, "multipart, streamed through; whisper-1: billed seconds from the usage, else the uploaded file's measured duration (exact for WAV, MP3, FLAC, Ogg, M4A; bounded by size otherwise); gpt-4o transcribe: token usage, reserved at the model's context and output limits"),
	row("POST", "/audio/translations", AudioTranslation, Metered, "multipart, streamed through; whisper-1 seconds of the uploaded file (the response carries no usage)"),

	row("GET", "/models", ModelsList, Free, howRead),
	row("GET", "/models/{model}", ModelsRetrieve, Free, howRead),
	row("DELETE", "/models/{model}", ModelsDelete, Free, "deletes a fine-tuned model: "+howCRUD),
	row("POST", "/files", FilesUpload, Free, "file storage is free; a batch input file (purpose batch) is read as it streams and each line's worst case at batch prices remembered, to bound the batch made from it"),
	row("GET", "/files", FilesList, Free, howRead),
	row("GET", "/files/{file_id}", FilesRetrieve, Free, howRead),
	row("DELETE", "/files/{file_id}", FilesDelete, Free, howCRUD),
	row("GET", "/files/{file_id}/content", FilesContent, Free, howRead),
	row("POST", "/uploads", UploadsCreate, Free, "multipart file upload: file storage is free"),
	row("POST", "/uploads/{upload_id}/parts", UploadsAddPart, Free, "file storage is free"),
	row("POST", "/uploads/{upload_id}/complete", UploadsComplete, Free, "file storage is free"),
	row("POST", "/uploads/{upload_id}/cancel", UploadsCancel, Free, howCRUD),
	row("POST", "/batches", BatchesCreate, Metered, "reserves the input file's remembered worst case (a file not uploaded through Proxide is refused 403 batch_not_metered) and holds it under the batch id; settled at batch prices by the first GET /batches/{id} showing it finished, or charged as estimated when the hold expires (budgets.batch_ttl)"),
	row("GET", "/batches", BatchesList, Free, howRead),
	row("GET", "/batches/{batch_id}", BatchesRetrieve, Free, "a free read; a finished batch's usage settles its held charge, once"),
	row("POST", "/batches/{batch_id}/cancel", BatchesCancel, Free, "requests done before the cancel are settled through GET /batches/{id}"),

	row("POST", "/fine_tuning/jobs", FineTuningJobsCreate, Unmetered, "training is billed per trained token (or hour) while the job runs, long after the request"),
	row("GET", "/fine_tuning/jobs", FineTuningJobsList, Free, howRead),
	row("GET", "/fine_tuning/jobs/{fine_tuning_job_id}", FineTuningJobsRetrieve, Free, howRead),
	row("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel", FineTuningJobsCancel, Free, "stops billing"),
	row("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause", FineTuningJobsPause, Free, "stops billing"),
	row("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume", FineTuningJobsResume, Free, "continues a job whose creation was admitted"),
	row("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events", FineTuningJobsEvents, Free, howRead),
	row("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", FineTuningJobsCheckpoints, Free, howRead),
	row("POST", "/fine_tuning/checkpoints/{checkpoint}/permissions", FineTuningPermissionsCreate, Free, howCRUD),
	row("GET", "/fine_tuning/checkpoints/{checkpoint}/permissions", FineTuningPermissionsList, Free, howRead),
	row("DELETE", "/fine_tuning/checkpoints/{checkpoint}/permissions/{permission_id}", FineTuningPermissionsDelete, Free, howCRUD),
	row("POST", "/fine_tuning/alpha/graders/run", GradersRun, Unmetered, "model graders are billed in tokens the response does not report"),
	row("POST", "/fine_tuning/alpha/graders/validate", GradersValidate, Free, "validation only: no model runs"),
}
