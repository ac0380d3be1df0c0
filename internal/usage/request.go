package usage

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrBadRequest reports a request body Proxide cannot meter; the wrapping
// error says why. OpenAI would reject such a body too.
var ErrBadRequest = errors.New("usage: malformed request body")

// DefaultExactPromptBytes is Options.ExactPromptBytes when left zero. A
// prompt this long costs about 1 ms to count the first time; agents resend
// their history, whose texts are then counted from countCache, so the usual
// cost is that of the new messages. Past it, the byte bound reserves about
// four times the real count of English text.
const DefaultExactPromptBytes = 128 << 10

// Request is what Proxide needs from a request body.
type Request struct {
	Model  string
	Stream bool
	// IncludeUsage is true when the client asked for stream usage itself
	// (stream_options.include_usage=true). It is always true for Responses,
	// whose stream reports usage unasked, so callers inject only when
	// Stream && !IncludeUsage.
	IncludeUsage bool
	// MaxOutputTokens is max_completion_tokens, else max_tokens
	// (chat/completions), or max_output_tokens (responses); 0 = not given.
	MaxOutputTokens int64
	// N is the number of completions generated: n (default 1), or best_of
	// when larger for legacy completions, which bills every candidate.
	N           int64
	ServiceTier string
	// PromptTokens estimates the prompt: a tiktoken count when PromptExact,
	// else an upper bound by size (a token is at least one byte).
	PromptTokens int64
	PromptExact  bool
	// Inputs is the number of embedding inputs (1 for a string).
	Inputs int64
	// Digest is an exact digest of the canonical request (see digest.go for
	// what it covers and leaves out); 0 for Other.
	Digest uint64
	// Tail is the end of the conversation, at most MaxTailItems items in
	// order: chat messages (text, refusal, each tool call, tool results),
	// Responses instructions and input items, completion prompts or
	// embedding inputs. Loop detection fingerprints it. nil for Other.
	Tail []TailItem

	// Prompt parts whose size the body does not show. PromptTokens covers
	// images with a known per-image maximum; PromptUnbounded is set when some
	// part has none (audio, files, images of a model family without a known
	// maximum, a previous response or conversation): the caller must bound
	// the prompt otherwise (the model's context window).
	Images, Audios, Files int64
	PromptUnbounded       bool
	// PreviousResponseID and ConversationID are the stored context a
	// Responses request continues ("" when none).
	PreviousResponseID, ConversationID string

	// Tools: the Responses built-in tools by type ("web_search",
	// "web_search_preview", "file_search", "code_interpreter",
	// "image_generation", "computer_use_preview", "mcp", ...), each type
	// once; MaxToolCalls is max_tool_calls (0 = not set). WebSearch is a chat
	// request with web_search_options; SearchContextSize is its (or the
	// web_search tool's) search_context_size ("" = medium).
	BuiltinTools      []string
	MaxToolCalls      int64
	WebSearch         bool
	SearchContextSize string
	// ContainerMemory is the code_interpreter tool's container memory_limit
	// ("1g" when "").
	ContainerMemory string
	// AudioOutput: the chat request asks for audio ("modalities" holds "audio").
	AudioOutput bool
	// PredictionTokens counts a predicted output (chat "prediction"): rejected
	// prediction tokens are billed as completion tokens on top of the output.
	PredictionTokens int64
	// Background is a Responses request with "background": true.
	Background bool
}

// Options tune ParseRequest's prompt estimate.
type Options struct {
	// ExactPromptBytes: prompts whose text is at most this many bytes are
	// counted with tiktoken; larger ones get the cheap upper bound (bytes of
	// text + per-message overhead). Default 128 KiB when 0.
	ExactPromptBytes int
	// ImageTokens, when set, is assumed per image part for every model
	// instead of the model family's maximum (ImageTokensMax). Setting it
	// below that maximum breaks the worst-case bound of reservations.
	ImageTokens int64
	// Counts, when set, remembers the counts of long texts across requests
	// (one per process); nil counts every text every time.
	Counts *CountCache
}

func (o Options) withDefaults() Options {
	if o.ExactPromptBytes == 0 {
		o.ExactPromptBytes = DefaultExactPromptBytes
	}
	return o
}

// ParseRequest decodes body, the JSON request of endpoint ep, once and
// returns its billing fields and a prompt-token estimate. For Other only the
// common fields are read and none is required.
func ParseRequest(ep Endpoint, body []byte, opts Options) (Request, error) {
	opts = opts.withDefaults()
	var (
		req Request
		p   prompt
		err error
	)
	switch ep {
	case ChatCompletions:
		var w chatRequest
		if err = decodeRequest(body, &w, w.fast); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.digest(), w.tail()
		}
	case Completions:
		var w completionsRequest
		if err = decodeRequest(body, &w, w.fast); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.Prompt.digest(tagCompletions, w.Model), w.Prompt.tail()
		}
	case Embeddings:
		var w embeddingsRequest
		if err = decodeRequest(body, &w, w.fast); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.Input.digest(tagEmbeddings, w.Model), w.Input.tail()
		}
	case Responses:
		var w responsesRequest
		if err = decodeRequest(body, &w, w.fast); err == nil {
			err = w.fill(&req, &p)
			req.Digest, req.Tail = w.digest(), w.tail()
		}
	default:
		var w commonFields
		if err = decodeRequest(body, &w, w.fast); err == nil {
			err = w.fill(&req, false)
		}
	}
	if err != nil {
		return Request{}, err
	}
	if ep != Other {
		req.PromptTokens, req.PromptExact = p.count(req.Model, opts)
		req.Images, req.Audios, req.Files = p.images, p.audios, p.files
		req.PromptUnbounded = p.unbounded || p.audios > 0 || p.files > 0 ||
			(p.images > 0 && opts.ImageTokens == 0 && ImageTokensMax(req.Model) == 0)
	}
	return req, nil
}

// decodeBody unmarshals body into v and turns encoding/json's errors into
// ErrBadRequest with a reason a client can act on.
func decodeBody(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	if err == nil {
		return checkKeyCase(body, v)
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		fe  *fieldError
	)
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("%w: %s", ErrBadRequest, fe.Error())
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("%w: body must be a JSON object, got %s", ErrBadRequest, typ.Value)
	case errors.As(err, &typ):
		field := strings.TrimPrefix(typ.Field, "commonFields.") // the embedded struct is no JSON field
		return fmt.Errorf("%w: field %q must be %s, got %s", ErrBadRequest, field, kindName(typ.Type), typ.Value)
	case errors.As(err, &syn), len(body) == 0:
		return fmt.Errorf("%w: not JSON: %w", ErrBadRequest, err)
	default:
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
}

// kindName names a Go type the way the JSON it decodes from is called.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "another type"
	}
}

// fieldError is a type problem found by one of the custom decoders below,
// which encoding/json passes through unchanged.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return fmt.Sprintf("field %q %s", e.field, e.msg) }
