// Package fakeopenai is a deterministic OpenAI-compatible upstream for
// tests. It answers every paid endpoint with OpenAI's shapes and usage
// numbers given by the formulas below, so a test can compute an expected
// cost by hand, and the free or unmetered endpoints plausibly.
//
// # Endpoints
//
//	POST   /v1/chat/completions         plain, tools, JSON mode, streaming, audio, search models
//	GET    /v1/chat/completions[/{id}]  completions created with "store": true
//	POST   /v1/completions, /v1/embeddings, /v1/moderations
//	POST   /v1/responses                plain, streaming, background, built-in tools
//	GET    /v1/responses/{id}           poll (?stream=true&starting_after=N streams)
//	POST   /v1/responses/{id}/cancel;  DELETE /v1/responses/{id}
//	GET    /v1/responses/{id}/input_items
//	POST   /v1/images/generations (JSON), /v1/images/edits, /v1/images/variations (multipart)
//	POST   /v1/audio/speech (JSON), /v1/audio/transcriptions, /v1/audio/translations (multipart)
//	POST   /v1/files (multipart);  GET /v1/files[/{id}[/content]];  DELETE /v1/files/{id}
//	POST   /v1/batches;  GET /v1/batches[/{id}];  POST /v1/batches/{id}/cancel
//	POST   /v1/realtime/client_secrets, /v1/realtime/sessions, /v1/containers,
//	       /v1/vector_stores, /v1/conversations, /v1/fine_tuning/jobs, /v1/videos
//	GET    /v1/fine_tuning/jobs[/{id}], /v1/videos/{id}, /v1/models[/{id}]
//
// Anything else answers OpenAI's 404 "Invalid URL", except GET
// /_fake/sent/{x-request-id}: the response the fake sent with that id (status,
// body as written, the JSON request), for tests that check a client behind
// Envoy received exactly that ([Server.SentFor] in process). With [Options].APIKey
// set, a request without `Authorization: Bearer <APIKey>` answers OpenAI's
// 401 (no key: "You didn't provide an API key…", code null; another key:
// "Incorrect API key provided: sk-***…abcd", code invalid_api_key).
//
// # Control headers
//
// A proxy passes them through. Each applies to the request that carries it;
// for background responses and batches, the create request.
//
//	x-fake-status: N               answer N with an OpenAI-style error body
//	x-fake-words: N                reply length in words (default 12); also the transcript
//	x-fake-cut-after: N            streams: write N events, then cut the connection
//	x-fake-delay-ms: N             streams: pause N ms between events
//	x-fake-ignore-include-usage: 1 never send usage (an upstream ignoring stream_options)
//	x-fake-split: N                flush every N bytes (JSON, SSE, audio), so reads straddle
//	x-fake-cached-tokens: N        report N cached prompt tokens
//	x-fake-reasoning-tokens: N     report N reasoning tokens (chat and Responses)
//	x-fake-tool-call: NAME|1       force a function tool call (when tools are given)
//	x-fake-think-ms: N             pause N ms before the first visible delta (non-streaming:
//	                               before the answer); role chunks and response.created go first
//	x-fake-prompt-tokens: N        report N prompt/input tokens (chat, completions,
//	                               embeddings, Responses) whatever was sent
//	x-fake-usage: JSON | omit      replace every non-null usage object verbatim, or drop it
//	                               (invalid JSON is ignored)
//	x-fake-background-polls: N     background response: polls before completion (default 1)
//	x-fake-tool-calls: N           Responses: calls per built-in tool (default 1)
//	x-fake-batch-polls: N          batch: polls before completion (default 1)
//	x-fake-batch-failed: N         batch: the last N lines answer 500 (error file)
//
// # Usage formulas
//
// Text (chat, completions, embeddings, Responses; details in usage.go):
// prompt tokens = bytes of prompt text / 4 + 7 ([PromptTokens]), where the
// compact JSON of every function tool definition counts as prompt text
// ([ToolDefinitionBytes]); one
// completion token per reply word; reasoning models (o1, o3, o4, gpt-5
// families) add 2 × visible reasoning tokens, included in the completion.
//
// Chat audio (gpt-4o-audio-preview, gpt-audio…): each input_audio part adds
// ceil(decoded bytes / 4800) prompt tokens (10 a second of 24 kHz 16-bit
// PCM), reported in prompt_tokens_details.audio_tokens. With modalities
// ["text","audio"] the reply is spoken: message.content is null,
// message.audio carries the speech of the transcript (below, in
// audio.format, default wav) and ceil(2 × transcript characters / 3) audio
// tokens per choice are added to completion_tokens (besides one per word)
// and reported in completion_tokens_details.audio_tokens. Search models
// (web_search_options or *-search-preview) add a url_citation annotation
// and nothing to the usage.
//
// Speech: samples = round(1600 × characters of input / speed) at 24 kHz.
// pcm: samples × 2 bytes; wav: 44-byte header + pcm; mp3: ceil(samples /
// 576) MPEG-1 Layer III frames of 96 bytes (48 kHz, 32 kbit/s, mono: 24 ms
// each); opus, aac: ceil(samples / 6) bytes; flac: samples bytes (at least
// 4). stream_format sse ends with usage input_tokens = PromptTokens(bytes
// of input + instructions), output_tokens = ceil(samples / 2400).
//
// Transcriptions: the audio lasts data bytes / byte rate of a WAV header,
// else file bytes / 4000 seconds. whisper-1 (json, verbose_json): usage
// {"type":"duration","seconds": ceil(duration)}. gpt-4o*: usage
// {"type":"tokens"}, audio_tokens = ceil(10 × duration), text_tokens =
// bytes of prompt / 4, output_tokens = transcript words. text, srt and vtt
// carry no usage; translations (whisper-1) none either.
//
// Images (GPT image models; DALL·E answers carry no usage): text input =
// PromptTokens(bytes of prompt); image input (edits) = 323 per uploaded
// image at input_fidelity low (default), 4483 at high, the mask free;
// image output per image = ceil(B × width × height / 1024²) with B = 272
// low, 1056 medium (= quality auto, the default), 4160 high; size auto =
// 1024x1024. gpt-image-1.5, gpt-image-2 and chatgpt-image-latest add 16
// text output tokens per image and report output_tokens_details. A stream
// charges the input on its first image's completed event.
//
// Built-in Responses tools (web_search*, file_search, code_interpreter,
// image_generation, computer_use_preview, mcp): x-fake-tool-calls call
// items each, before the message (mcp: plus one mcp_list_tools item, not a
// call); every call adds 100 input and 10 output tokens.
//
// Background responses: polls 1…N-1 answer queued, poll N in_progress, then
// the completed object (N = x-fake-background-polls). Cancelling a queued
// response reports usage null; an in-progress one the full input and half
// the final output and reasoning tokens (rounded down).
//
// Batches: every line is answered by the live handler of its endpoint with
// the create's x-fake-* headers; the batch usage sums, over the lines
// answered 200, (prompt_tokens|input_tokens), (completion_tokens|
// output_tokens) and their cached and reasoning details; total = input +
// output. Status: validating, polls like background responses, then
// in_progress and completed.
package fakeopenai
