// Package media reads what Proxide needs to price OpenAI's multipart and
// audio traffic while the bytes pass through it, without ever holding a
// whole body:
//
//   - Form follows a multipart/form-data request body (image edits and
//     variations, audio transcriptions and translations, file uploads): it
//     keeps the small text fields (model, prompt, response_format, …) and,
//     for each file part, its name, content type and size, handing the file
//     bytes to an optional sink instead of storing them.
//   - DurationMeter measures an audio stream's playing time as it passes
//     (an uploaded file fed through a Form's sink, or a speech response),
//     exactly where the container says so cheaply (WAV, raw PCM, MP3, ADTS
//     AAC, FLAC, Ogg Opus/Vorbis, MP4 with an mvhd box) and otherwise as an
//     upper bound from the size.
//
// Both accept their input in arbitrary pieces: every split of the same bytes
// gives the same result, and memory is bounded by their limits, never by the
// body size.
package media
