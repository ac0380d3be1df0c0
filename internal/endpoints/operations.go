package endpoints

// Operation names one OpenAI API operation. The values are the OpenAI
// SDKs' resource paths ("chat.completions.create"), stable for logs and
// metric labels.
type Operation string

// Text, embeddings and moderation.
const (
	ChatCompletionsCreate   Operation = "chat.completions.create"
	ChatCompletionsList     Operation = "chat.completions.list"
	ChatCompletionsRetrieve Operation = "chat.completions.retrieve"
	ChatCompletionsUpdate   Operation = "chat.completions.update"
	ChatCompletionsDelete   Operation = "chat.completions.delete"
	ChatCompletionsMessages Operation = "chat.completions.messages.list"
	CompletionsCreate       Operation = "completions.create"
	EmbeddingsCreate        Operation = "embeddings.create"
	Moderations             Operation = "moderations.create"
)

// Responses API.
const (
	ResponsesCreate      Operation = "responses.create"
	ResponsesRetrieve    Operation = "responses.retrieve"
	ResponsesDelete      Operation = "responses.delete"
	ResponsesCancel      Operation = "responses.cancel"
	ResponsesCompact     Operation = "responses.compact"
	ResponsesInputItems  Operation = "responses.input_items.list"
	ResponsesInputTokens Operation = "responses.input_tokens.count"
)

// Images, audio and video.
const (
	ImagesGenerate          Operation = "images.generate"
	ImagesEdit              Operation = "images.edit"
	ImagesVariation         Operation = "images.create_variation"
	AudioSpeech             Operation = "audio.speech.create"
	AudioTranscription      Operation = "audio.transcriptions.create"
	AudioTranslation        Operation = "audio.translations.create"
	VideosCreate            Operation = "videos.create"
	VideosList              Operation = "videos.list"
	VideosRetrieve          Operation = "videos.retrieve"
	VideosDelete            Operation = "videos.delete"
	VideosContent           Operation = "videos.download_content"
	VideosRemix             Operation = "videos.remix"
	VideosEdit              Operation = "videos.edit"
	VideosExtend            Operation = "videos.extend"
	VideoCharactersCreate   Operation = "videos.character.create"
	VideoCharactersRetrieve Operation = "videos.character.get"
)

// Models, files, uploads and batches.
const (
	ModelsList      Operation = "models.list"
	ModelsRetrieve  Operation = "models.retrieve"
	ModelsDelete    Operation = "models.delete"
	FilesUpload     Operation = "files.create"
	FilesList       Operation = "files.list"
	FilesRetrieve   Operation = "files.retrieve"
	FilesDelete     Operation = "files.delete"
	FilesContent    Operation = "files.content"
	UploadsCreate   Operation = "uploads.create"
	UploadsAddPart  Operation = "uploads.parts.create"
	UploadsComplete Operation = "uploads.complete"
	UploadsCancel   Operation = "uploads.cancel"
	BatchesCreate   Operation = "batches.create"
	BatchesList     Operation = "batches.list"
	BatchesRetrieve Operation = "batches.retrieve"
	BatchesCancel   Operation = "batches.cancel"
)

// Fine-tuning and graders.
const (
	FineTuningJobsCreate        Operation = "fine_tuning.jobs.create"
	FineTuningJobsList          Operation = "fine_tuning.jobs.list"
	FineTuningJobsRetrieve      Operation = "fine_tuning.jobs.retrieve"
	FineTuningJobsCancel        Operation = "fine_tuning.jobs.cancel"
	FineTuningJobsPause         Operation = "fine_tuning.jobs.pause"
	FineTuningJobsResume        Operation = "fine_tuning.jobs.resume"
	FineTuningJobsEvents        Operation = "fine_tuning.jobs.list_events"
	FineTuningJobsCheckpoints   Operation = "fine_tuning.jobs.checkpoints.list"
	FineTuningPermissionsCreate Operation = "fine_tuning.checkpoints.permissions.create"
	FineTuningPermissionsList   Operation = "fine_tuning.checkpoints.permissions.retrieve"
	FineTuningPermissionsDelete Operation = "fine_tuning.checkpoints.permissions.delete"
	GradersRun                  Operation = "fine_tuning.alpha.graders.run"
	GradersValidate             Operation = "fine_tuning.alpha.graders.validate"
)

// Vector stores.
const (
	VectorStoresCreate             Operation = "vector_stores.create"
	VectorStoresList               Operation = "vector_stores.list"
	VectorStoresRetrieve           Operation = "vector_stores.retrieve"
	VectorStoresUpdate             Operation = "vector_stores.update"
	VectorStoresDelete             Operation = "vector_stores.delete"
	VectorStoresSearch             Operation = "vector_stores.search"
	VectorStoreFilesCreate         Operation = "vector_stores.files.create"
	VectorStoreFilesList           Operation = "vector_stores.files.list"
	VectorStoreFilesRetrieve       Operation = "vector_stores.files.retrieve"
	VectorStoreFilesUpdate         Operation = "vector_stores.files.update"
	VectorStoreFilesDelete         Operation = "vector_stores.files.delete"
	VectorStoreFilesContent        Operation = "vector_stores.files.content"
	VectorStoreFileBatchesCreate   Operation = "vector_stores.file_batches.create"
	VectorStoreFileBatchesRetrieve Operation = "vector_stores.file_batches.retrieve"
	VectorStoreFileBatchesCancel   Operation = "vector_stores.file_batches.cancel"
	VectorStoreFileBatchesFiles    Operation = "vector_stores.file_batches.list_files"
)

// Conversations.
const (
	ConversationsCreate       Operation = "conversations.create"
	ConversationsRetrieve     Operation = "conversations.retrieve"
	ConversationsUpdate       Operation = "conversations.update"
	ConversationsDelete       Operation = "conversations.delete"
	ConversationItemsCreate   Operation = "conversations.items.create"
	ConversationItemsList     Operation = "conversations.items.list"
	ConversationItemsRetrieve Operation = "conversations.items.retrieve"
	ConversationItemsDelete   Operation = "conversations.items.delete"
)

// Realtime. Realtime is also what every WebSocket upgrade classifies as.
const (
	Realtime                         Operation = "realtime.connect"
	RealtimeSessions                 Operation = "realtime.sessions.create"
	RealtimeTranscriptionSessions    Operation = "realtime.transcription_sessions.create"
	RealtimeClientSecrets            Operation = "realtime.client_secrets.create"
	RealtimeCalls                    Operation = "realtime.calls.create"
	RealtimeCallsControl             Operation = "realtime.calls.control"
	RealtimeTranslationClientSecrets Operation = "realtime.translations.client_secrets.create"
	RealtimeOther                    Operation = "realtime.other"
)

// Assistants and threads (beta).
const (
	AssistantsCreate            Operation = "beta.assistants.create"
	AssistantsList              Operation = "beta.assistants.list"
	AssistantsRetrieve          Operation = "beta.assistants.retrieve"
	AssistantsUpdate            Operation = "beta.assistants.update"
	AssistantsDelete            Operation = "beta.assistants.delete"
	ThreadsCreate               Operation = "beta.threads.create"
	ThreadsRetrieve             Operation = "beta.threads.retrieve"
	ThreadsUpdate               Operation = "beta.threads.update"
	ThreadsDelete               Operation = "beta.threads.delete"
	ThreadsCreateAndRun         Operation = "beta.threads.create_and_run"
	ThreadRunsCreate            Operation = "beta.threads.runs.create"
	ThreadRunsList              Operation = "beta.threads.runs.list"
	ThreadRunsRetrieve          Operation = "beta.threads.runs.retrieve"
	ThreadRunsUpdate            Operation = "beta.threads.runs.update"
	ThreadRunsCancel            Operation = "beta.threads.runs.cancel"
	ThreadRunsSubmitToolOutputs Operation = "beta.threads.runs.submit_tool_outputs"
	ThreadRunStepsList          Operation = "beta.threads.runs.steps.list"
	ThreadRunStepsRetrieve      Operation = "beta.threads.runs.steps.retrieve"
	ThreadMessagesCreate        Operation = "beta.threads.messages.create"
	ThreadMessagesList          Operation = "beta.threads.messages.list"
	ThreadMessagesRetrieve      Operation = "beta.threads.messages.retrieve"
	ThreadMessagesUpdate        Operation = "beta.threads.messages.update"
	ThreadMessagesDelete        Operation = "beta.threads.messages.delete"
	ChatKitSessionsCreate       Operation = "beta.chatkit.sessions.create"
	ChatKitSessionsCancel       Operation = "beta.chatkit.sessions.cancel"
	ChatKitThreadsList          Operation = "beta.chatkit.threads.list"
	ChatKitThreadsRetrieve      Operation = "beta.chatkit.threads.retrieve"
	ChatKitThreadsDelete        Operation = "beta.chatkit.threads.delete"
	ChatKitThreadItemsList      Operation = "beta.chatkit.threads.list_items"
)

// Evals.
const (
	EvalsCreate                Operation = "evals.create"
	EvalsList                  Operation = "evals.list"
	EvalsRetrieve              Operation = "evals.retrieve"
	EvalsUpdate                Operation = "evals.update"
	EvalsDelete                Operation = "evals.delete"
	EvalRunsCreate             Operation = "evals.runs.create"
	EvalRunsList               Operation = "evals.runs.list"
	EvalRunsRetrieve           Operation = "evals.runs.retrieve"
	EvalRunsCancel             Operation = "evals.runs.cancel"
	EvalRunsDelete             Operation = "evals.runs.delete"
	EvalRunOutputItemsList     Operation = "evals.runs.output_items.list"
	EvalRunOutputItemsRetrieve Operation = "evals.runs.output_items.retrieve"
)

// Containers, skills and the organization (admin) API.
const (
	ContainersCreate       Operation = "containers.create"
	ContainersList         Operation = "containers.list"
	ContainersRetrieve     Operation = "containers.retrieve"
	ContainersDelete       Operation = "containers.delete"
	ContainerFilesCreate   Operation = "containers.files.create"
	ContainerFilesList     Operation = "containers.files.list"
	ContainerFilesRetrieve Operation = "containers.files.retrieve"
	ContainerFilesDelete   Operation = "containers.files.delete"
	ContainerFilesContent  Operation = "containers.files.content.retrieve"
	SkillsCreate           Operation = "skills.create"
	SkillsList             Operation = "skills.list"
	SkillsRetrieve         Operation = "skills.retrieve"
	SkillsUpdate           Operation = "skills.update"
	SkillsDelete           Operation = "skills.delete"
	SkillsContent          Operation = "skills.content.retrieve"
	SkillVersionsCreate    Operation = "skills.versions.create"
	SkillVersionsList      Operation = "skills.versions.list"
	SkillVersionsRetrieve  Operation = "skills.versions.retrieve"
	SkillVersionsDelete    Operation = "skills.versions.delete"
	SkillVersionsContent   Operation = "skills.versions.content.retrieve"
	OrganizationAdmin      Operation = "admin.organization"
)
